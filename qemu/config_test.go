package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/images/manifest"
)

func writeManifest(t *testing.T, m manifest.Manifest) *manifest.Manifest {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{m.Kernel, m.Initrd, m.Disk} {
		if p != "" {
			if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

func TestFromManifest(t *testing.T) {
	m := writeManifest(t, manifest.Manifest{
		Name: "qemu", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.gz", Cmdline: "console=ttyS0",
		Disk: "disk.img", Boot: []string{"kernel", "uefi", "bios"},
	})
	c, err := FromManifest(m, Kernel)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Arch: "amd64", Mode: Kernel, Kernel: m.Path("vmlinuz"), Initrd: m.Path("initrd.gz"), Cmdline: "console=ttyS0"}
	if c.Arch != want.Arch || c.Mode != want.Mode || c.Kernel != want.Kernel || c.Initrd != want.Initrd || c.Cmdline != want.Cmdline || c.Disk != "" {
		t.Errorf("kernel mode: %+v, want %+v", c, want)
	}
	for _, mode := range []Mode{UEFI, BIOS} {
		c, err := FromManifest(m, mode)
		if err != nil {
			t.Fatal(err)
		}
		if c.Mode != mode || c.Disk != m.Path("disk.img") || c.Kernel != "" || c.Cmdline != "" || c.Writable {
			t.Errorf("%s mode: %+v", mode, c)
		}
		if _, _, err := c.Args(t.TempDir()); err != nil {
			t.Errorf("%s mode: Args: %v", mode, err)
		}
	}
}

func TestFromManifestErrors(t *testing.T) {
	kernelOnly := writeManifest(t, manifest.Manifest{Name: "tiny", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.gz", Boot: []string{"kernel"}})
	noDisk := writeManifest(t, manifest.Manifest{Name: "odd", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.gz", Boot: []string{"kernel", "uefi"}})
	noModes := writeManifest(t, manifest.Manifest{Name: "old", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.gz"})
	for _, tc := range []struct {
		m    *manifest.Manifest
		mode Mode
		want string
	}{
		{kernelOnly, UEFI, `build "tiny" (` + kernelOnly.Dir() + `) cannot boot in uefi mode (its boot modes: kernel)`},
		{kernelOnly, BIOS, `cannot boot in bios mode`},
		{kernelOnly, "floppy", `boot mode "floppy" is not supported yet (supported: kernel, uefi, bios, pxe)`},
		{noDisk, UEFI, `build "odd" (` + noDisk.Dir() + `) has no disk image, which uefi mode boots`},
		{noModes, Kernel, `cannot boot in kernel mode (its boot modes: none)`},
	} {
		_, err := FromManifest(tc.m, tc.mode)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromManifest(%s, %s): err = %v, want it to contain %q", tc.m.Name, tc.mode, err, tc.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("UEFI"); err == nil {
		t.Error("ParseMode is case-insensitive")
	}
}
