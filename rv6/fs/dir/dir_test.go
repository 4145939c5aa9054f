package dir_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/dir"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

func setup(t *testing.T) (*inode.Table, *wal.Log) {
	t.Helper()
	d := blockdev.NewMemDisk(2048)
	if err := fs.Format(d, fs.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := blockdev.ReadBlock(d, layout.SuperBlock)
	sb, _ := layout.DecodeSuperblock(b)
	c := bcache.New(d, 256)
	l, _ := wal.Open(c, &sb, wal.SyncOnDemand, false)
	tab, err := inode.NewTable(c, l, &sb, func() int64 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	return tab, l
}

// in runs fn in an operation with dp locked.
func in(t *testing.T, l *wal.Log, dp *inode.Inode, fn func(op *wal.Op) error) error {
	t.Helper()
	op, err := l.Begin(24)
	if err != nil {
		t.Fatal(err)
	}
	dp.Lock()
	err = fn(op)
	dp.Unlock()
	op.End()
	return err
}

func TestDirectory(t *testing.T) {
	tab, l := setup(t)
	root, err := tab.Get(layout.RootInum)
	if err != nil {
		t.Fatal(err)
	}
	// A new directory: "." and "..".
	var dp *inode.Inode
	in(t, l, root, func(op *wal.Op) error {
		dp, err = tab.Alloc(op, layout.TypeDir)
		if err != nil {
			t.Fatal(err)
		}
		dp.Lock()
		defer dp.Unlock()
		return dir.Init(op, dp, root.Inum)
	})
	dp.RLock()
	if p, err := dir.Parent(dp); err != nil || p != layout.RootInum {
		t.Fatal(p, err)
	}
	if empty, _ := dir.IsEmpty(dp); !empty {
		t.Fatal("not empty")
	}
	dp.RUnlock()
	if err := in(t, l, dp, func(op *wal.Op) error { return dir.Init(op, dp, 1) }); !errors.Is(err, errno.EUCLEAN) {
		t.Fatal("Init of a non-empty directory", err)
	}
	// Enough entries to take several blocks.
	const n = 150
	for i := range n {
		if err := in(t, l, dp, func(op *wal.Op) error {
			return dir.Add(op, dp, fmt.Sprintf("e%03d", i), uint32(100+i), layout.TypeFile)
		}); err != nil {
			t.Fatal(i, err)
		}
	}
	dp.RLock()
	if dp.Size() != 3*layout.BlockSize {
		t.Fatal("size", dp.Size())
	}
	e, off, err := dir.Lookup(dp, "e123")
	if err != nil || e.Inum != 223 || off != (123+2)*layout.DirentSize {
		t.Fatal(e, off, err)
	}
	if _, _, err := dir.Lookup(dp, "nope"); err != errno.ENOENT {
		t.Fatal(err)
	}
	if _, _, err := dir.Lookup(dp, strings.Repeat("x", 100)); err != errno.ENAMETOOLONG {
		t.Fatal(err)
	}
	if name, err := dir.NameOf(dp, 150); err != nil || name != "e050" {
		t.Fatal(name, err)
	}
	es, _ := dir.List(dp)
	if len(es) != n+2 || es[0].Name != "." || es[1].Name != ".." {
		t.Fatal(len(es))
	}
	dp.RUnlock()
	// Names are unique; removed slots are reused; Replace keeps the name.
	if err := in(t, l, dp, func(op *wal.Op) error { return dir.Add(op, dp, "e001", 5, layout.TypeFile) }); err != errno.EEXIST {
		t.Fatal(err)
	}
	in(t, l, dp, func(op *wal.Op) error {
		_, off, _ := dir.Lookup(dp, "e010")
		return dir.Remove(op, dp, off)
	})
	in(t, l, dp, func(op *wal.Op) error { return dir.Add(op, dp, "new", 7, layout.TypeDir) })
	dp.RLock()
	if e, off, _ := dir.Lookup(dp, "new"); off != 12*layout.DirentSize || e.Type != layout.TypeDir {
		t.Fatal("slot not reused", off)
	}
	dp.RUnlock()
	in(t, l, dp, func(op *wal.Op) error {
		_, off, _ := dir.Lookup(dp, "new")
		return dir.Replace(op, dp, off, 8, layout.TypeFile)
	})
	dp.RLock()
	if e, _, _ := dir.Lookup(dp, "new"); e.Inum != 8 || e.Type != layout.TypeFile {
		t.Fatal(e)
	}
	if empty, _ := dir.IsEmpty(dp); empty {
		t.Fatal("empty")
	}
	dp.RUnlock()
	in(t, l, dp, func(op *wal.Op) error { return dir.SetParent(op, dp, 77) })
	dp.RLock()
	if p, _ := dir.Parent(dp); p != 77 {
		t.Fatal(p)
	}
	dp.RUnlock()
	// Not a directory.
	var fp *inode.Inode
	in(t, l, root, func(op *wal.Op) error {
		fp, _ = tab.Alloc(op, layout.TypeFile)
		return nil
	})
	fp.RLock()
	if _, _, err := dir.Lookup(fp, "x"); err != errno.ENOTDIR {
		t.Fatal(err)
	}
	fp.RUnlock()
}
