package fs_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/fsck"
)

// newDisk returns a formatted RAM disk of n blocks.
func newDisk(t testing.TB, n uint64, opts fs.FormatOptions) *blockdev.MemDisk {
	t.Helper()
	d := blockdev.NewMemDisk(n)
	if err := fs.Format(d, opts); err != nil {
		t.Fatal(err)
	}
	return d
}

func mount(t testing.TB, d blockdev.Device, opts fs.Options) *fs.FS {
	t.Helper()
	f, err := fs.Mount(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// newFS returns a mounted file system on a fresh RAM disk of n blocks.
func newFS(t testing.TB, n uint64) (*fs.FS, *blockdev.MemDisk) {
	t.Helper()
	d := newDisk(t, n, fs.FormatOptions{})
	return mount(t, d, fs.Options{}), d
}

// checkClean unmounts f (if not nil) and runs fsck on d, failing on any
// problem.
func checkClean(t testing.TB, f *fs.FS, d blockdev.Device) *fsck.Report {
	t.Helper()
	if f != nil {
		if err := f.Unmount(); err != nil {
			t.Fatalf("unmount: %v", err)
		}
	}
	r, err := fsck.Check(d)
	if err != nil {
		t.Fatalf("fsck: %v", err)
	}
	for _, p := range r.Problems {
		t.Errorf("fsck: %v", p)
	}
	return r
}

func writeFile(t testing.TB, f interface {
	Create(string) (*fs.File, error)
}, path string, data []byte) {
	t.Helper()
	fl, err := f.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fl.WriteAt(data, 0); err != nil || n != len(data) {
		t.Fatalf("write %s: %d, %v", path, n, err)
	}
	if err := fl.Close(); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, f interface {
	Open(string, fs.Flag) (*fs.File, error)
}, path string) []byte {
	t.Helper()
	fl, err := f.Open(path, fs.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	st, err := fl.Stat()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, st.Size)
	if n, err := fl.ReadAt(buf, 0); n != len(buf) || err != nil && err != io.EOF {
		t.Fatalf("read %s: %d, %v", path, n, err)
	}
	return buf
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/4096) ^ seed
	}
	return b
}

var _ = bytes.Equal
