package hostdev

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img")
	d, err := Create(p, 64*blockdev.BlockSize, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.NumBlocks() != 64 {
		t.Fatal(d.NumBlocks())
	}
	var a, got blockdev.Block
	a[0], a[4095] = 1, 2
	if err := d.Write([]blockdev.Req{{LBA: 63, Data: &a}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := d.Read([]blockdev.Req{{LBA: 63, Data: &got}, {LBA: 0, Data: new(blockdev.Block)}}); err != nil || got != a {
		t.Fatal(err)
	}
	if err := d.Read([]blockdev.Req{{LBA: 64, Data: &got}}); err == nil {
		t.Fatal("read past the end")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(p, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ro.Read([]blockdev.Req{{LBA: 63, Data: &got}})
	if got != a {
		t.Fatal("not persisted")
	}
	if err := ro.Write([]blockdev.Req{{LBA: 1, Data: &a}}); err == nil {
		t.Fatal("wrote a read-only image")
	}
	if _, err := Create(p, 100, Options{}); err == nil {
		t.Fatal("size not a whole number of blocks")
	}
	os.WriteFile(p, make([]byte, 100), 0o644)
	if _, err := Open(p, Options{}); err == nil {
		t.Fatal("opened an image of a partial block")
	}
}
