package initramfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// hostTree writes the inputs of an initramfs with the permission bits a
// builder's umask would leave: dir and file modes are ANDed with ^umask.
func hostTree(t *testing.T, umask os.FileMode) Spec {
	t.Helper()
	dir := t.TempDir()
	write := func(rel string, perm os.FileMode, data string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		// Chmod, not the create mode, so the test's own umask plays no part.
		if err := os.Chmod(p, perm&^umask); err != nil {
			t.Fatal(err)
		}
		return p
	}
	init := write("rlkernel", 0o777, "\x7fELF init")
	motd := write("motd", 0o666, "hello\n")
	write("tree/bin/tool", 0o777, "#!/bin/sh\n")
	write("tree/notes", 0o666, "notes\n")
	for _, d := range []string{"tree/bin", "tree"} {
		if err := os.Chmod(filepath.Join(dir, d), 0o777&^umask); err != nil {
			t.Fatal(err)
		}
	}
	return Spec{Init: init, Compression: "none", Files: []File{
		{motd, "/etc/motd"},
		{filepath.Join(dir, "tree"), "/opt/tree"},
		{motd, "/tmp/motd"}, // inside a directory of u-root's base archive
	}}
}

// The archive is the same whatever the umask the host files were written
// under, and every entry has the mode the build sets.
func TestModesIndependentOfUmask(t *testing.T) {
	want := map[string]uint64{
		"init":              0o100755,
		"etc":               0o040755,
		"etc/motd":          0o100644,
		"opt":               0o040755,
		"opt/tree":          0o040755,
		"opt/tree/bin":      0o040755,
		"opt/tree/bin/tool": 0o100755,
		"opt/tree/notes":    0o100644,
		"tmp":               0o040777, // u-root's base archive says so
		"tmp/motd":          0o100644,
		"dev/console":       0o020600,
	}
	var archives [][]byte
	for _, umask := range []os.FileMode{0o022, 0o077, 0o002, 0o027} {
		data := build(t, hostTree(t, umask))
		archives = append(archives, data)
		recs := records(t, data)
		for name, mode := range want {
			r, ok := recs[name]
			if !ok {
				t.Errorf("umask %03o: no %s in %v", umask, name, keys(recs))
				continue
			}
			if r.Mode != mode {
				t.Errorf("umask %03o: %s has mode %o, want %o", umask, name, r.Mode, mode)
			}
		}
	}
	for i := 1; i < len(archives); i++ {
		if !bytes.Equal(archives[0], archives[i]) {
			t.Errorf("the archive built from files written under umask 022 differs from build %d", i)
		}
	}
}
