package files

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanName(t *testing.T) {
	for _, ok := range []string{"undionly.kpxe", "a/b/c", "x..y", "..x", "a/.b", "ipxe-1.0.efi"} {
		if got, err := CleanName(ok); err != nil || got != ok {
			t.Errorf("CleanName(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"", "/", "/etc/passwd", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b",
		"a//b", "a/", "..\\x", "a\\b", "%2e%2e/x", "..%2f", "%2fetc", "a\x00b", "a\nb", "\x7f"} {
		if got, err := CleanName(bad); err == nil || !errors.Is(err, ErrRefused) {
			t.Errorf("CleanName(%q) = %q, %v; want refused", bad, got, err)
		}
	}
}

func TestDirMapUnion(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "root")
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(parent, "outside"), []byte("secret"), 0o644)
	os.Symlink("../outside", filepath.Join(dir, "link"))
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m := Map{"boot/ipxe.efi": filepath.Join(parent, "outside")}
	u := Union{m, d}
	read := func(fsys fs.FS, name string) (string, error) {
		f, err := fsys.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		return string(b), err
	}
	if s, err := read(u, "f"); s != "f" || err != nil {
		t.Errorf("f: %q %v", s, err)
	}
	if s, err := read(u, "boot/ipxe.efi"); s != "secret" || err != nil {
		t.Errorf("mapped: %q %v", s, err)
	}
	for _, name := range []string{"link", "d", "../outside", "boot/../f"} {
		if _, err := read(u, name); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	if _, err := read(u, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nope: %v", err)
	}
}

// FuzzCleanName checks that no accepted name can climb out of a tree.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a/../../b", "%2e%2e", "a\\..\\b", "/x", "...", "a/.../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		clean, err := CleanName(name)
		if err != nil {
			return
		}
		if clean != name || !fs.ValidPath(clean) || !filepath.IsLocal(clean) {
			t.Fatalf("accepted %q as %q", name, clean)
		}
		for _, elem := range strings.Split(clean, "/") {
			if elem == ".." || elem == "." || elem == "" {
				t.Fatalf("accepted %q with element %q", name, elem)
			}
		}
		if strings.ContainsAny(clean, "\\%\x00") {
			t.Fatalf("accepted %q", name)
		}
	})
}
