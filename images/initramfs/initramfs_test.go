package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/mkuimage/cpio"
)

// fakeInit stands in for the kernel binary: the builder only copies it.
func fakeInit(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rlkernel")
	if err := os.WriteFile(p, bytes.Repeat([]byte("\x7fELF init "), 1000), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func build(t *testing.T, spec Spec) []byte {
	t.Helper()
	spec.TempDir = t.TempDir()
	if spec.Arch == "" {
		spec.Arch = "amd64"
	}
	out := filepath.Join(t.TempDir(), "initrd")
	info, err := Build(context.Background(), out, spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.CPIOSize == 0 {
		t.Errorf("info %+v for %d bytes", info, len(data))
	}
	return data
}

func decompress(t *testing.T, data []byte, how string) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	switch how {
	case "zstd":
		d, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		r = d
	case "gzip":
		g, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = g
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", how, err)
	}
	return out
}

func records(t *testing.T, cpioData []byte) map[string]cpio.Record {
	t.Helper()
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(cpioData)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cpio.Record{}
	for _, r := range recs {
		m[r.Name] = r
	}
	return m
}

func TestContents(t *testing.T) {
	init := fakeInit(t)
	extra := filepath.Join(t.TempDir(), "motd")
	os.WriteFile(extra, []byte("hello\n"), 0o644)
	for _, how := range []string{"zstd", "gzip", "none"} {
		t.Run(how, func(t *testing.T) {
			data := build(t, Spec{Init: init, Compression: how, Files: []File{{extra, "/etc/motd"}}})
			recs := records(t, decompress(t, data, how))
			r, ok := recs["init"]
			if !ok {
				t.Fatalf("no /init in %v", keys(recs))
			}
			got, _ := io.ReadAll(io.NewSectionReader(r, 0, int64(r.FileSize)))
			want, _ := os.ReadFile(init)
			if !bytes.Equal(got, want) {
				t.Error("/init differs from the kernel binary")
			}
			if r.Mode&0o111 == 0 {
				t.Errorf("/init mode %o is not executable", r.Mode)
			}
			motd, ok := recs["etc/motd"]
			if !ok {
				t.Fatalf("no /etc/motd in %v", keys(recs))
			}
			if b, _ := io.ReadAll(io.NewSectionReader(motd, 0, int64(motd.FileSize))); string(b) != "hello\n" {
				t.Errorf("/etc/motd = %q", b)
			}
			for _, p := range []string{"dev", "dev/console", "proc", "sys", "tmp"} {
				if _, ok := recs[p]; !ok {
					t.Errorf("no %s", p)
				}
			}
			for name, r := range recs {
				if r.MTime != 0 || r.UID != 0 || r.GID != 0 {
					t.Errorf("%s: mtime %d uid %d gid %d, want zeros", name, r.MTime, r.UID, r.GID)
				}
			}
		})
	}
}

func TestReproducible(t *testing.T) {
	init := fakeInit(t)
	a := build(t, Spec{Init: init, Compression: "zstd"})
	b := build(t, Spec{Init: init, Compression: "zstd"})
	if !bytes.Equal(a, b) {
		t.Error("two builds differ")
	}
}

func TestMissingInit(t *testing.T) {
	_, err := Build(context.Background(), filepath.Join(t.TempDir(), "x"), Spec{Init: "/nonexistent/rlkernel", TempDir: t.TempDir(), Compression: "zstd"})
	if err == nil {
		t.Fatal("no error")
	}
}

func keys(m map[string]cpio.Record) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
