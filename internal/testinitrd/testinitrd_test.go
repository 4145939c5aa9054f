package testinitrd

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"

	"github.com/u-root/mkuimage/cpio"
)

const program = `package main

func main() {}
`

// Build's archive holds dev/, dev/console and an ELF /init, read back with
// the cpio reader.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a Go program")
	}
	path := Build(t, "arm64", program)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3: %v", len(recs), recs)
	}
	want := []struct {
		name         string
		mode         uint64
		major, minor uint64
	}{
		{"dev", cpio.S_IFDIR | 0o755, 0, 0},
		{"dev/console", cpio.S_IFCHR | 0o600, 5, 1},
		{"init", cpio.S_IFREG | 0o755, 0, 0},
	}
	for i, w := range want {
		r := recs[i].Info
		if r.Name != w.name || r.Mode != w.mode || r.Rmajor != w.major || r.Rminor != w.minor {
			t.Errorf("record %d: %s mode %o dev %d:%d; want %s mode %o dev %d:%d",
				i, r.Name, r.Mode, r.Rmajor, r.Rminor, w.name, w.mode, w.major, w.minor)
		}
	}
	head := make([]byte, 20)
	if _, err := recs[2].ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	// ELF magic, and e_machine 183 (EM_AARCH64) at offset 18.
	if !bytes.HasPrefix(head, []byte("\x7fELF")) || head[18] != 183 || head[19] != 0 {
		t.Errorf("/init starts % x, want an arm64 ELF file", head)
	}
}
