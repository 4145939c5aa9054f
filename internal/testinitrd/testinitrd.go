// Package testinitrd builds tiny initramfs images for tests that boot a
// Linux kernel: a Go program, compiled statically, as /init. It is for
// tests only; nothing outside _test.go files should import it.
package testinitrd

import (
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/u-root/mkuimage/cpio"
)

// Build compiles program, the source of a Go main package that uses only
// the standard library, for linux/goarch with CGO_ENABLED=0 and packs it
// as /init into a gzip-compressed newc cpio archive, the initramfs format
// the kernel unpacks. The archive also holds /dev and /dev/console (5:1),
// which the kernel opens as init's stdin, stdout and stderr before any
// devtmpfs is mounted. Build returns the archive's path in t.TempDir().
//
// Build skips the test when there is no go command to compile with.
func Build(t testing.TB, goarch, program string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the test's /init")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module testinit\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(src, "init")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building /init for %s: %v\n%s", goarch, err, out)
	}
	initData, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "initrd-"+goarch+".gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	w := cpio.Newc.Writer(zw)
	for _, r := range []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.StaticFile("init", string(initData), 0o755),
	} {
		if err := w.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			t.Fatalf("writing initrd: %v", err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatalf("writing initrd: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("writing initrd: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("writing initrd: %v", err)
	}
	return path
}
