package namei_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/dir"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/namei"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// tree builds /a, /a/b (directories) and /a/f (a file) with the layers
// below namei, and returns a Walker and the inode numbers.
func tree(t *testing.T) (namei.Walker, map[string]uint32) {
	d := blockdev.NewMemDisk(2048)
	if err := fs.Format(d, fs.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := blockdev.ReadBlock(d, layout.SuperBlock)
	sb, _ := layout.DecodeSuperblock(b)
	c := bcache.New(d, 256)
	l, _ := wal.Open(c, &sb, wal.SyncOnDemand, false)
	tab, _ := inode.NewTable(c, l, &sb, func() int64 { return 0 })
	root, _ := tab.Get(layout.RootInum)
	inums := map[string]uint32{"/": root.Inum}
	mk := func(parent *inode.Inode, name string, typ layout.FileType) *inode.Inode {
		op, _ := l.Begin(24)
		defer op.End()
		ip, err := tab.Alloc(op, typ)
		if err != nil {
			t.Fatal(err)
		}
		parent.Lock()
		ip.Lock()
		if typ == layout.TypeDir {
			dir.Init(op, ip, parent.Inum)
		}
		dir.Add(op, parent, name, ip.Inum, typ)
		ip.SetNlink(op, 1)
		ip.Unlock()
		parent.Unlock()
		return ip
	}
	a := mk(root, "a", layout.TypeDir)
	bb := mk(a, "b", layout.TypeDir)
	f := mk(a, "f", layout.TypeFile)
	inums["/a"], inums["/a/b"], inums["/a/f"] = a.Inum, bb.Inum, f.Inum
	return namei.Walker{T: tab, Root: root}, inums
}

func TestWalk(t *testing.T) {
	w, inums := tree(t)
	a, _ := w.T.Get(inums["/a"])
	cases := []struct {
		start *inode.Inode
		path  string
		want  string
		err   error
	}{
		{nil, "/", "/", nil},
		{nil, "/a", "/a", nil},
		{nil, "//a///b/", "/a/b", nil},
		{nil, "/a/b/..", "/a", nil},
		{nil, "/a/./f", "/a/f", nil},
		{nil, "/..", "/", nil},
		{a, "b", "/a/b", nil},
		{a, "../a/f", "/a/f", nil},
		{a, ".", "/a", nil},
		{a, "/a", "/a", nil},
		{nil, "", "", errno.ENOENT},
		{nil, "/x", "", errno.ENOENT},
		{nil, "/a/f/", "", errno.ENOTDIR},
		{nil, "/a/f/x", "", errno.ENOTDIR},
		{nil, "/" + strings.Repeat("n", layout.NameMax+1), "", errno.ENAMETOOLONG},
		{nil, strings.Repeat("/a", namei.PathMax), "", errno.ENAMETOOLONG},
		{nil, "/a\x00", "", errno.EINVAL},
	}
	for _, c := range cases {
		ip, err := w.Walk(c.start, c.path)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Walk(%q) = %v, want %v", c.path, err, c.err)
			}
			continue
		}
		if err != nil || ip.Inum != inums[c.want] {
			t.Errorf("Walk(%q) = %v, want %s", c.path, err, c.want)
			continue
		}
		w.T.Put(ip)
	}
}

func TestWalkParent(t *testing.T) {
	w, inums := tree(t)
	cases := []struct {
		path    string
		dir     string
		name    string
		dirOnly bool
		err     error
	}{
		{"/a/new", "/a", "new", false, nil},
		{"/a/b/", "/a", "b", true, nil},
		{"new", "/", "new", false, nil},
		{"/", "/", ".", true, nil},
		{"/a/f/x", "", "", false, errno.ENOTDIR},
		{"/nope/x", "", "", false, errno.ENOENT},
	}
	for _, c := range cases {
		dp, name, dirOnly, err := w.WalkParent(nil, c.path)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("WalkParent(%q) = %v, want %v", c.path, err, c.err)
			}
			continue
		}
		if err != nil || dp.Inum != inums[c.dir] || name != c.name || dirOnly != c.dirOnly {
			t.Errorf("WalkParent(%q) = %v %q %v %v", c.path, dp, name, dirOnly, err)
			continue
		}
		w.T.Put(dp)
	}
}
