package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDebianUnownedFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "loader.efi")
	os.WriteFile(p, []byte("MZ loader"), 0o644)
	link := filepath.Join(dir, "link.efi")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	pkgs, err := Debian(context.Background(), []Use{{Path: link, For: "disk: UEFI loader"}, {Path: p, For: "disk: UEFI loader"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("MZ loader"))
	if len(pkgs) != 1 || pkgs[0].Name != "" || pkgs[0].Version != "" || len(pkgs[0].Files) != 1 ||
		pkgs[0].Files[0].Path != p || pkgs[0].Files[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("got %+v", pkgs)
	}
}

func TestDebianMissingFile(t *testing.T) {
	_, err := Debian(context.Background(), []Use{{Path: "/nonexistent/gptmbr.bin", For: "disk: BIOS loader"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/gptmbr.bin") || !strings.Contains(err.Error(), "disk: BIOS loader") {
		t.Errorf("error %v does not name the file and its use", err)
	}
}

// A file from a Debian package is recorded under that package with its
// installed version.
func TestDebianOwnedFile(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("no dpkg-query: not a Debian host")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	real, _ := filepath.EvalSymlinks(sh)
	out, err := exec.Command("dpkg-query", "-S", real).Output()
	if err != nil {
		t.Skipf("%s belongs to no package here", real)
	}
	owner, _, _ := strings.Cut(strings.TrimSpace(string(out)), ": ")
	pkgs, err := Debian(context.Background(), []Use{{Path: sh, For: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 || pkgs[0].Name != owner || pkgs[0].Version == "" || pkgs[0].Files[0].Path != real {
		t.Errorf("got %+v, want package %s with a version", pkgs, owner)
	}
}

func TestGoSum(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.sum"), []byte("example.com/k v1.0.0 h1:abc=\nexample.com/k v1.0.0/go.mod h1:def=\n"), 0o644)
	if s, err := GoSum(dir, "example.com/k", "v1.0.0"); err != nil || s != "h1:abc=" {
		t.Errorf("GoSum = %q, %v", s, err)
	}
	if s, err := GoSum(dir, "example.com/other", "v1.0.0"); err != nil || s != "" {
		t.Errorf("GoSum of an absent module = %q, %v", s, err)
	}
	if s, err := GoSum(t.TempDir(), "example.com/k", "v1.0.0"); err != nil || s != "" {
		t.Errorf("GoSum without go.sum = %q, %v", s, err)
	}
}

// Test binaries record no modules; the end-to-end test checks that a
// built manifest lists rlbuild's (e2e/repro_test.go).
func TestRlbuild(t *testing.T) {
	v, mods := Rlbuild()
	if v != runtime.Version() {
		t.Errorf("Go %q, want %q", v, runtime.Version())
	}
	for i, m := range mods {
		if m.For != "rlbuild" || m.Version == "" || i > 0 && mods[i-1].Path >= m.Path {
			t.Errorf("module %d: %+v", i, m)
		}
	}
}
