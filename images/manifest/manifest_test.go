package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample(t *testing.T) (*Manifest, string) {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "pxe"), 0o755)
	for name, content := range map[string]string{"vmlinuz": "kernel", "initrd.img": "initrd", "pxe/boot.ipxe": "#!ipxe\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &Manifest{
		Name: "test", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.img", IPXE: "pxe/boot.ipxe",
		Cmdline: "console=ttyS0", Boot: []string{"kernel", "pxe"}, ConfigHash: "abc",
		ToolVersion: "v0", BuildTime: time.Unix(1700000000, 0).UTC(),
	}
	for _, p := range []string{"vmlinuz", "initrd.img", "pxe/boot.ipxe"} {
		if err := m.Add(dir, p); err != nil {
			t.Fatal(err)
		}
	}
	return m, dir
}

func TestRoundTrip(t *testing.T) {
	m, dir := sample(t)
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, filepath.Join(dir, FileName)} {
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dir() != dir || got.Kernel != "vmlinuz" || len(got.Artifacts) != 3 || !got.BuildTime.Equal(m.BuildTime) {
			t.Errorf("loaded %+v", got)
		}
		if got.Path(got.Kernel) != filepath.Join(dir, "vmlinuz") || got.Path("") != "" {
			t.Errorf("Path: %q", got.Path(got.Kernel))
		}
		if !got.Supports("pxe") || got.Supports("uefi") {
			t.Errorf("Supports: %v", got.Boot)
		}
		if err := got.Verify(); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	a := m.Artifacts[0]
	sum := sha256.Sum256([]byte("kernel"))
	if a.Path != "vmlinuz" || a.Size != 6 || a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("artifact %+v", a)
	}
}

func TestAddReplaces(t *testing.T) {
	m, dir := sample(t)
	os.WriteFile(filepath.Join(dir, "vmlinuz"), []byte("new kernel"), 0o644)
	if err := m.Add(dir, "vmlinuz"); err != nil {
		t.Fatal(err)
	}
	if len(m.Artifacts) != 3 || m.Artifacts[0].Size != 10 {
		t.Errorf("artifacts %+v", m.Artifacts)
	}
}

func TestVerifyDetectsChange(t *testing.T) {
	m, dir := sample(t)
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "initrd.img"), []byte("tampered"), 0o644)
	err := m.Verify()
	if err == nil || !strings.Contains(err.Error(), "initrd.img") {
		t.Errorf("Verify: %v", err)
	}
	os.Remove(filepath.Join(dir, "vmlinuz"))
	if err := m.Verify(); err == nil || !strings.Contains(err.Error(), "vmlinuz") {
		t.Errorf("Verify of a missing file: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "no manifest.json in "+dir) || !strings.Contains(err.Error(), "rlbuild image") {
		t.Errorf("missing: %v", err)
	}
	// A path that does not exist is named as given, not its parent.
	sub := filepath.Join(dir, "sub")
	if _, err := Load(sub); err == nil || !strings.Contains(err.Error(), sub+" does not exist") {
		t.Errorf("missing directory: %v", err)
	}
	for _, tc := range []struct{ json, want string }{
		{"{", "not a valid manifest"},
		{`{"format": 99, "arch": "amd64", "kernel": "k", "initrd": "i"}`, "format 99 is not supported"},
		{`{"arch": "amd64", "kernel": "k", "initrd": "i"}`, "format 0 is not supported"},
		{`{"format": 1, "kernel": "k", "initrd": "i"}`, "no arch"},
		{`{"format": 1, "arch": "amd64", "initrd": "i"}`, "no kernel"},
		{`{"format": 1, "arch": "amd64", "kernel": "../k", "initrd": "i"}`, `"../k" leaves the artifacts directory`},
		{`{"format": 1, "arch": "amd64", "kernel": "/etc/passwd", "initrd": "i"}`, "leaves the artifacts directory"},
		{`{"format": 1, "arch": "amd64", "kernel": "k", "initrd": "i", "artifacts": [{"path": "a/../../x"}]}`, "leaves the artifacts directory"},
		{`{"format": 1, "arch": "amd64", "kernel": "k", "initrd": "i", "rv6fs": {"path": "../rv6fs.img"}}`, `"../rv6fs.img" leaves the artifacts directory`},
	} {
		write(tc.json)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.json, err, tc.want)
		}
	}
}

func TestWriteRefusesEscapingPaths(t *testing.T) {
	m, dir := sample(t)
	m.Disk = "../disk.img"
	if err := m.Write(dir); err == nil {
		t.Error("Write accepted a path outside the directory")
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		t.Error("a refused manifest was written")
	}
}
