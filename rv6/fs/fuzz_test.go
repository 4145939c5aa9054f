package fs_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"sync"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/faultdev"
	"github.com/rlgo/redleaf/rv6/fs/fsck"
)

// FuzzMount corrupts a small file system image and uses it: fsck, a
// read-only mount and a read-write mount with changes. A corrupt image
// must give errors, never a panic or a hang.
//
// The input is a list of 4-byte mutations: block (mod the image's size),
// offset in the block (2 bytes), and a byte to XOR in. The first input
// byte picks the image: a clean one, or one whose last transaction is
// committed in the log but not installed (so recovery runs on corrupt
// input too).

const fuzzBlocks = 96

var fuzzImages = sync.OnceValues(func() ([2]*blockdev.MemDisk, error) {
	var imgs [2]*blockdev.MemDisk
	base := blockdev.NewMemDisk(fuzzBlocks)
	if err := fs.Format(base, fs.FormatOptions{Inodes: 32, LogBlocks: 33}); err != nil {
		return imgs, err
	}
	build := func(dev blockdev.Device) error {
		f, err := fs.Mount(dev, fs.Options{Now: func() int64 { return 1 }})
		if err != nil {
			return err
		}
		f.Mkdir("/a")
		f.Mkdir("/a/d")
		for p, n := range map[string]int{"/a/b": 60_000, "/c": 10, "/a/d/e": 5000} {
			fl, err := f.Create(p)
			if err != nil {
				return err
			}
			fl.WriteAt(pattern(n, 1), 0)
			fl.Close()
		}
		f.Link("/c", "/a/c2")
		return f.Unmount()
	}
	probe := faultdev.New(base, faultdev.Never)
	if err := build(probe); err != nil {
		return imgs, err
	}
	imgs[0] = probe.Snapshot()
	// The same, crashed just after the commit point of the last
	// transaction that installs anything (before the unmount's).
	for k := probe.Writes() - 1; k > 0; k-- {
		dev := faultdev.New(base, k)
		build(dev)
		img := dev.Image(faultdev.AllPending, nil)
		if r, err := fsck.Check(img); err == nil && r.OK() && len(r.Notes) > 0 && r.Notes[0] != "the file system was not unmounted cleanly" {
			imgs[1] = img.Snapshot()
			return imgs, nil
		}
	}
	return imgs, fmt.Errorf("no image with a pending log")
})

func FuzzMount(f *testing.F) {
	if _, err := fuzzImages(); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0})
	f.Add([]byte{1})
	f.Add([]byte{0, 1, 0, 0, 0xff})                // superblock magic
	f.Add([]byte{1, 2, 4, 0, 0x01})                // log header count
	f.Add([]byte{0, 35, 0x80, 0, 0x10})            // an inode
	f.Add([]byte{0, 38, 0, 0, 0x01, 38, 64, 0, 3}) // data blocks
	f.Fuzz(runFuzzCase)
}

func runFuzzCase(t *testing.T, muts []byte) {
	{
		imgs, _ := fuzzImages()
		if len(muts) == 0 {
			return
		}
		img := imgs[muts[0]%2].Clone()
		muts = muts[1:]
		for len(muts) >= 4 {
			blk := uint64(muts[0]) % fuzzBlocks
			off := int(binary.LittleEndian.Uint16(muts[1:])) % blockdev.BlockSize
			b, _ := blockdev.ReadBlock(img, blk)
			b[off] ^= muts[3]
			blockdev.WriteBlock(img, blk, b)
			muts = muts[4:]
		}
		fsck.Check(img)
		if ro, err := fs.Mount(img, fs.Options{ReadOnly: true}); err == nil {
			exercise(ro, false)
			ro.Unmount()
		}
		if rw, err := fs.Mount(img.Clone(), fs.Options{CacheBlocks: 32}); err == nil {
			exercise(rw, true)
			rw.Unmount()
		}
	}
}

// exercise walks the tree, reads everything, and (if write) changes it.
func exercise(f *fs.FS, write bool) {
	var walk func(p string, depth int)
	seen := 0
	walk = func(p string, depth int) {
		es, err := f.ReadDir(p)
		if err != nil || depth > 8 {
			return
		}
		for _, e := range es {
			if seen++; seen > 200 {
				return
			}
			cp := path.Join(p, e.Name)
			st, err := f.Stat(cp)
			if err != nil {
				continue
			}
			if st.IsDir() {
				walk(cp, depth+1)
				continue
			}
			if fl, err := f.Open(cp, fs.O_RDONLY); err == nil {
				buf := make([]byte, 64<<10)
				if _, err := fl.ReadAt(buf, 0); err != nil && err != io.EOF {
					_ = err
				}
				fl.ReadAt(buf[:100], st.Size-50)
				fl.Close()
			}
		}
	}
	walk("/", 0)
	if !write {
		return
	}
	if fl, err := f.Create("/a/new"); err == nil {
		fl.WriteAt(pattern(20_000, 2), 0)
		fl.Truncate(100)
		fl.Close()
	}
	f.Mkdir("/a/d/sub")
	f.Rename("/a/d", "/moved")
	f.Rename("/c", "/a/b")
	f.Unlink("/a/c2")
	f.Unlink("/a/b")
	f.Rmdir("/moved/sub")
	f.Link("/a/new", "/n2")
	c := f.Cwd()
	c.Chdir("/moved")
	c.Getwd()
	c.Close()
	f.Statfs()
	walk("/", 0)
}
