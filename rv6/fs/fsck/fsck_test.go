package fsck_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/fsck"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// image builds a small clean file system: /d (a directory), /d/f (a file
// with an indirect block), /g (a one-block file).
type image struct {
	d        *blockdev.MemDisk
	sb       layout.Superblock
	d_, f, g uint32 // inode numbers
}

func build(t *testing.T) *image {
	t.Helper()
	d := blockdev.NewMemDisk(2048)
	if err := fs.Format(d, fs.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Mount(d, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Mkdir("/d")
	for p, n := range map[string]int{"/d/f": 60_000, "/g": 100} {
		fl, err := f.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		fl.WriteAt(make([]byte, n), 0)
		fl.WriteAt([]byte{1}, int64(n-1))
		fl.Close()
	}
	im := &image{d: d}
	for p, dst := range map[string]*uint32{"/d": &im.d_, "/d/f": &im.f, "/g": &im.g} {
		st, err := f.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		*dst = st.Inum
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	b, _ := blockdev.ReadBlock(d, layout.SuperBlock)
	im.sb, _ = layout.DecodeSuperblock(b)
	if r := check(t, d); !r.OK() {
		t.Fatalf("the clean image has problems: %v", r.Problems)
	}
	return im
}

func check(t *testing.T, d blockdev.Device) *fsck.Report {
	t.Helper()
	r, err := fsck.Check(d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dinode changes inode inum's dinode on disk.
func (im *image) dinode(inum uint32, fn func(*layout.Dinode)) {
	blk, off := im.sb.InodeBlock(inum)
	b, _ := blockdev.ReadBlock(im.d, uint64(blk))
	d, _ := layout.DecodeDinode(b[off:])
	fn(&d)
	d.Encode(b[off:])
	blockdev.WriteBlock(im.d, uint64(blk), b)
}

func (im *image) get(inum uint32) layout.Dinode {
	blk, off := im.sb.InodeBlock(inum)
	b, _ := blockdev.ReadBlock(im.d, uint64(blk))
	d, _ := layout.DecodeDinode(b[off:])
	return d
}

// block changes block a on disk.
func (im *image) block(a uint32, fn func(b *blockdev.Block)) {
	b, _ := blockdev.ReadBlock(im.d, uint64(a))
	fn(b)
	blockdev.WriteBlock(im.d, uint64(a), b)
}

// entry changes the entry called name in directory dirInum.
func (im *image) entry(dirInum uint32, name string, fn func(raw []byte)) {
	a := im.get(dirInum).Addrs[0]
	im.block(a, func(b *blockdev.Block) {
		for i := 0; i < layout.BlockSize; i += layout.DirentSize {
			if e, _ := layout.DecodeDirent(b[i:]); e.Inum != 0 && e.Name == name {
				fn(b[i : i+layout.DirentSize])
				return
			}
		}
		panic("no entry " + name)
	})
}

func (im *image) setBit(b uint32, set bool) {
	blk, bit := im.sb.BitmapBlock(b)
	im.block(blk, func(d *blockdev.Block) {
		if set {
			d[bit/8] |= 1 << (bit % 8)
		} else {
			d[bit/8] &^= 1 << (bit % 8)
		}
	})
}

func expect(t *testing.T, im *image, want fsck.Kind, msg string) {
	t.Helper()
	r := check(t, im.d)
	if !r.Has(want) {
		t.Fatalf("no %s problem; got %v", want, r.Problems)
	}
	found := false
	for _, p := range r.Problems {
		if p.Kind == want && strings.Contains(p.Msg, msg) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no %s problem saying %q; got %v", want, msg, r.Problems)
	}
	// And mounting it does not panic (it may fail).
	if f, err := fs.Mount(im.d, fs.Options{ReadOnly: true}); err == nil {
		f.ReadDir("/d")
		f.Unmount()
	}
}

func TestSuperblock(t *testing.T) {
	im := build(t)
	im.block(layout.SuperBlock, func(b *blockdev.Block) { b[0] ^= 0xff })
	expect(t, im, fsck.Superblock, "magic")
}

func TestLogHeader(t *testing.T) {
	im := build(t)
	im.block(layout.LogStart, func(b *blockdev.Block) { *b = blockdev.Block{} })
	expect(t, im, fsck.Log, "magic")
}

func TestBadInode(t *testing.T) {
	im := build(t)
	blk, off := im.sb.InodeBlock(im.g)
	im.block(blk, func(b *blockdev.Block) { b[off] = 7 })
	expect(t, im, fsck.BadInode, "unknown type")
}

func TestBlockOutOfRange(t *testing.T) {
	im := build(t)
	im.dinode(im.g, func(d *layout.Dinode) { d.Addrs[0] = layout.LogStart + 1 })
	expect(t, im, fsck.BadBlock, "outside the data blocks")
}

func TestDuplicateBlock(t *testing.T) {
	im := build(t)
	shared := im.get(im.f).Addrs[3]
	im.dinode(im.g, func(d *layout.Dinode) { d.Addrs[1], d.Size, d.Blocks = shared, 8192, 2 })
	expect(t, im, fsck.DupBlock, "claimed by")
}

func TestSizeVersusBlocks(t *testing.T) {
	im := build(t)
	im.dinode(im.g, func(d *layout.Dinode) { d.Size = 0 })
	expect(t, im, fsck.Size, "past the size")
	im = build(t)
	im.dinode(im.f, func(d *layout.Dinode) { d.Blocks++ })
	expect(t, im, fsck.Size, "Blocks count")
	im = build(t)
	im.dinode(im.g, func(d *layout.Dinode) { d.Size = 50 }) // the byte at 99 is 1
	expect(t, im, fsck.Size, "non-zero bytes past the size")
}

func TestDanglingEntry(t *testing.T) {
	im := build(t)
	im.entry(im.d_, "f", func(raw []byte) { binary.LittleEndian.PutUint32(raw, im.sb.NInodes-1) })
	expect(t, im, fsck.BadDirent, "free or invalid")
	im = build(t)
	im.entry(im.d_, "f", func(raw []byte) { raw[4] = byte(layout.TypeDir) })
	expect(t, im, fsck.BadDirent, "says dir")
	im = build(t)
	im.entry(im.d_, "f", func(raw []byte) { raw[6] = 0 })
	expect(t, im, fsck.BadDirent, "NUL")
}

func TestDirStructure(t *testing.T) {
	im := build(t)
	im.entry(im.d_, "..", func(raw []byte) { binary.LittleEndian.PutUint32(raw, im.d_) })
	expect(t, im, fsck.DirStructure, `".." names`)
	im = build(t)
	im.entry(im.d_, ".", func(raw []byte) { binary.LittleEndian.PutUint32(raw, layout.RootInum) })
	expect(t, im, fsck.DirStructure, "first entry")
	// A directory named twice: a hard link to /d from the root.
	im = build(t)
	im.entry(layout.RootInum, "g", func(raw []byte) {
		(&layout.Dirent{Inum: im.d_, Type: layout.TypeDir, Name: "g"}).Encode(raw)
	})
	expect(t, im, fsck.DirStructure, "named twice")
}

func TestUnreachable(t *testing.T) {
	im := build(t)
	im.entry(layout.RootInum, "d", func(raw []byte) { clear(raw) })
	expect(t, im, fsck.Unreachable, "cannot be reached")
}

func TestLinkCount(t *testing.T) {
	im := build(t)
	im.dinode(im.g, func(d *layout.Dinode) { d.Nlink = 5 })
	expect(t, im, fsck.LinkCount, "link count 5, but 1 entries")
}

func TestBitmap(t *testing.T) {
	im := build(t)
	im.setBit(im.sb.Size-1, true)
	expect(t, im, fsck.Bitmap, "leaked")
	im = build(t)
	im.setBit(im.get(im.g).Addrs[0], false)
	expect(t, im, fsck.Bitmap, "in use by inode")
	im = build(t)
	im.setBit(layout.SuperBlock, false)
	expect(t, im, fsck.Bitmap, "metadata block")
	im = build(t)
	im.setBit(im.sb.Size+3, false)
	expect(t, im, fsck.Bitmap, "padding")
}

func TestOrphan(t *testing.T) {
	im := build(t)
	im.entry(layout.RootInum, "g", func(raw []byte) { clear(raw) })
	im.dinode(im.g, func(d *layout.Dinode) { d.Nlink = 0 })
	expect(t, im, fsck.Orphan, "no links")
	// After a crash (mounted state) an orphan is normal: a note.
	im.block(layout.SuperBlock, func(b *blockdev.Block) {
		sb, _ := layout.DecodeSuperblock(b)
		sb.State = layout.StateMounted
		sb.Encode(b)
	})
	r := check(t, im.d)
	if !r.OK() || len(r.Notes) != 2 {
		t.Fatalf("problems %v, notes %v", r.Problems, r.Notes)
	}
}

func TestManyProblemsAreCounted(t *testing.T) {
	im := build(t)
	// Every free data block marked in use: hundreds of leaks.
	for b := im.sb.DataStart(); b < im.sb.Size; b++ {
		im.setBit(b, true)
	}
	r := check(t, im.d)
	if r.Omitted[fsck.Bitmap] < 100 || len(r.Problems) > 60 {
		t.Fatalf("%d problems listed, %v omitted", len(r.Problems), r.Omitted)
	}
}
