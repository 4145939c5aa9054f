package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Rv6 host tools: mkfs builds a reproducible image, fsck accepts it
// and rejects a corrupted one, fsls and fscat look inside.
func TestFSTools(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("deep\n"), 0o644)
	img := filepath.Join(dir, "rv6.img")
	img2 := filepath.Join(dir, "rv6-2.img")
	for _, out := range []string{img, img2} {
		if r := rl(t, nil, "mkfs", "-o", out, "--size", "64MiB", "--add", src+":/data"); r.code != 0 {
			t.Fatalf("mkfs: %s", r.stderr)
		}
	}
	a, _ := os.ReadFile(img)
	b, _ := os.ReadFile(img2)
	if string(a) != string(b) {
		t.Error("two mkfs runs differ")
	}
	if r := rl(t, nil, "fsck", img); r.code != 0 || !strings.Contains(r.stdout, "consistent") {
		t.Errorf("fsck: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := rl(t, nil, "fsls", "-R", img, "/"); r.code != 0 || !strings.Contains(r.stdout, "/data/sub/b.txt") {
		t.Errorf("fsls: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := rl(t, nil, "fscat", img, "/data/sub/b.txt"); r.code != 0 || r.stdout != "deep\n" {
		t.Errorf("fscat: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := rl(t, nil, "fscat", img, "/nope"); r.code == 0 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("fscat of a missing file: exit %d %s", r.code, r.stderr)
	}
	if r := rl(t, nil, "mkfs", "-o", filepath.Join(dir, "x"), "--size", "lots"); r.code == 0 || !strings.Contains(r.stderr, "--size") {
		t.Errorf("bad size: exit %d %s", r.code, r.stderr)
	}
	// Wreck the superblock: fsck must say so and exit non-zero.
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(make([]byte, 4096), 4096)
	f.Close()
	if r := rl(t, nil, "fsck", img); r.code == 0 {
		t.Errorf("fsck of a wrecked image exited 0:\n%s", r.stdout)
	}
}
