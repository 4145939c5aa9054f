package system_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/tools"
	"github.com/rlgo/redleaf/system"
)

// A DiskImage (the Rv6 file system rlbuild puts in the initramfs) is what
// the RAM disk domain serves: its size and its bytes, through the shadow.
func TestDiskImage(t *testing.T) {
	dir := t.TempDir()
	motd := filepath.Join(dir, "motd")
	os.WriteFile(motd, []byte(strings.Repeat("hello from the image\n", 500)), 0o644)
	img := filepath.Join(dir, "root.img")
	if err := tools.Mkfs(img, 3<<20, []tools.Add{{Host: motd, Path: "/etc/motd"}}, tools.MkfsOptions{}); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	s, log := start(t, system.Options{DiskImage: img, DiskSize: 1 << 20})
	n, err := s.Disk().NumBlocks()
	if err != nil || n != uint64(len(want))/idl.BlockSize {
		t.Fatalf("NumBlocks = %d, %v; want %d (the image's size)", n, err, len(want)/idl.BlockSize)
	}
	used := 0
	for lba := uint64(0); lba < n; lba++ {
		b, err := s.ReadBlock(lba)
		if err != nil {
			t.Fatal(err)
		}
		w := want[lba*idl.BlockSize : (lba+1)*idl.BlockSize]
		if !bytes.Equal(b[:], w) {
			t.Fatalf("block %d differs from the image", lba)
		}
		if !bytes.Equal(w, make([]byte, idl.BlockSize)) {
			used++
		}
	}
	if used == 0 {
		t.Fatal("the image is all zeroes: nothing was checked")
	}
	if !strings.Contains(log.String(), "ramdisk: 3 MiB from "+img) {
		t.Errorf("log lacks the image:\n%s", log)
	}
	// The contents are the kernel's, not the driver's: they survive a
	// restart of the driver, and writes land in them.
	var blk idl.Block
	copy(blk[:], "written")
	if err := s.WriteBlock(n-1, &blk); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restart(system.DiskName); err != nil {
		t.Fatal(err)
	}
	if b, err := s.ReadBlock(n - 1); err != nil || !bytes.HasPrefix(b[:], []byte("written")) {
		t.Errorf("after a restart: %q, %v", b[:8], err)
	}
	if b, err := s.ReadBlock(1); err != nil || !bytes.Equal(b[:], want[idl.BlockSize:2*idl.BlockSize]) {
		t.Errorf("the superblock changed after a restart: %v", err)
	}
}

// Without the file the RAM disk is DiskSize bytes of zeroes; a file that
// is not whole blocks is an error.
func TestDiskImageMissingOrBad(t *testing.T) {
	s, _ := start(t, system.Options{DiskImage: filepath.Join(t.TempDir(), "none.img"), DiskSize: 1 << 20})
	if n, err := s.Disk().NumBlocks(); err != nil || n != (1<<20)/idl.BlockSize {
		t.Errorf("NumBlocks = %d, %v; want DiskSize's", n, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.img")
	os.WriteFile(bad, make([]byte, idl.BlockSize+1), 0o644)
	if s, err := system.Start(system.Options{DiskImage: bad}); err == nil {
		s.Close()
		t.Fatal("an image of a partial block was accepted")
	} else if !strings.Contains(err.Error(), "not a multiple of") || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v", err)
	}
}

func TestLoadMemory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m")
	data := make([]byte, 300<<10) // not a multiple of the read chunk
	copy(data[200<<10:], "middle")
	data[len(data)-1] = 0xff
	os.WriteFile(p, data, 0o644)
	m, err := system.LoadMemory(p)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, m.Size())
	m.ReadAt(got, 0)
	if !bytes.Equal(got, data) {
		t.Error("LoadMemory did not give the file's bytes")
	}
	if _, err := system.LoadMemory(""); err == nil {
		t.Error(`LoadMemory("") did not fail`)
	}
}
