package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRV6FS(t *testing.T) {
	dir, file := tree(t, `rv6:
  fs:
    enabled: true
    size_mib: 16
    place: both
    files:
      - src: root/motd
        dst: /etc/motd
      - root:/data
`)
	os.MkdirAll(filepath.Join(dir, "root"), 0o755)
	os.WriteFile(filepath.Join(dir, "root", "motd"), []byte("hi\n"), 0o644)
	c, err := Load(Options{File: file, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f := c.RV6.FS
	if !f.Enabled || f.SizeMiB != 16 || f.Place != PlaceBoth || !f.InInitramfs() || !f.OnDisk() {
		t.Errorf("rv6.fs: %+v", f)
	}
	want := []FSFile{{filepath.Join(dir, "root", "motd"), "/etc/motd"}, {filepath.Join(dir, "root"), "/data"}}
	if len(f.Files) != 2 || f.Files[0] != want[0] || f.Files[1] != want[1] {
		t.Errorf("files %+v, want %+v", f.Files, want)
	}

	// The hash counts sources relative to the config file.
	dir2, file2 := tree(t, "rv6:\n  fs:\n    enabled: true\n    size_mib: 16\n    place: both\n    files:\n      - {src: root/motd, dst: /etc/motd}\n      - {src: root, dst: /data}\n")
	os.MkdirAll(filepath.Join(dir2, "root"), 0o755)
	os.WriteFile(filepath.Join(dir2, "root", "motd"), []byte("hi\n"), 0o644)
	c2, err := Load(Options{File: file2, WorkDir: dir2})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() != c2.Hash() {
		t.Error("the hash depends on where the checkout is")
	}

	// An environment variable replaces the list: SRC:DST entries.
	t.Setenv("RLBUILD_RV6_FS_FILES", filepath.Join(dir, "root", "motd")+":/motd")
	c, err = Load(Options{File: file, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.RV6.FS.Files) != 1 || c.RV6.FS.Files[0].Dst != "/motd" {
		t.Errorf("files from the environment: %+v", c.RV6.FS.Files)
	}
}

func TestRV6FSDefaults(t *testing.T) {
	c, err := load(t, "rv6:\n  fs:\n    enabled: true\n")
	if err != nil {
		t.Fatal(err)
	}
	if f := c.RV6.FS; f.SizeMiB != 64 || f.Place != PlaceInitramfs || !f.InInitramfs() || f.OnDisk() {
		t.Errorf("defaults: %+v", f)
	}
	c, err = load(t, "arch: amd64\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.RV6.FS.Enabled || c.RV6.FS.InInitramfs() {
		t.Errorf("rv6.fs is on by default: %+v", c.RV6.FS)
	}
}

func TestRV6FSErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  string
		want []string
	}{
		{"bad place", "rv6:\n  fs:\n    enabled: true\n    place: usb\n", []string{"test.yaml:4", "rv6.fs.place: unknown place \"usb\"", "initramfs", "disk", "both"}},
		{"too small", "rv6:\n  fs:\n    enabled: true\n    size_mib: 1\n", []string{"rv6.fs.size_mib:", "at least 2"}},
		{"too big for the initramfs", "rv6:\n  fs:\n    enabled: true\n    size_mib: 8192\n", []string{"rv6.fs.size_mib:", "does not fit in the initramfs", "place: disk"}},
		{"missing source", "rv6:\n  fs:\n    enabled: true\n    files:\n      - src: nope.txt\n        dst: /etc/nope\n", []string{"test.yaml:5", "rv6.fs.files[0].src:", "nope.txt does not exist", "relative paths start at the config file"}},
		{"no dst", "rv6:\n  fs:\n    enabled: true\n    files:\n      - src: go.mod\n", []string{"rv6.fs.files[0].dst: no dst", "dst: /etc/motd"}},
		{"relative dst", "rv6:\n  fs:\n    enabled: true\n    files:\n      - {src: go.mod, dst: etc/../go.mod}\n", []string{"rv6.fs.files[0].dst:", "not a clean absolute path", `"/go.mod"`}},
		{"file as root", "rv6:\n  fs:\n    enabled: true\n    files:\n      - {src: go.mod, dst: /}\n", []string{"rv6.fs.files[0].dst:", "cannot be the root"}},
		{"unknown entry key", "rv6:\n  fs:\n    enabled: true\n    files:\n      - source: go.mod\n        dst: /go.mod\n", []string{"test.yaml:5", "rv6.fs.files[0].source: unknown key", `did you mean "src"`}},
		{"entry not a mapping", "rv6:\n  fs:\n    enabled: true\n    files:\n      - [a, b]\n", []string{"rv6.fs.files[0]:", "expected a mapping with src and dst"}},
		{"files not a list", "rv6:\n  fs:\n    enabled: true\n    files: 3\n", []string{"rv6.fs.files:", "expected a list"}},
		{"unknown key", "rv6:\n  fs:\n    enable: true\n", []string{"rv6.fs.enable: unknown key", `"rv6.fs.enabled"`}},
		{"section as value", "rv6: true\n", []string{"rv6: is a section"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDebianKernel(t *testing.T) {
	c, err := load(t, "kernel:\n  package: linux-image-amd64\n  modules: [vfio-pci, vfio_iommu_type1]\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kernel.Source != "debian" || c.Kernel.IsPackageFile() || len(c.Kernel.Modules) != 2 {
		t.Errorf("kernel: %+v", c.Kernel)
	}
	dir, file := tree(t, "kernel:\n  source: debian\n  package: debs/linux.deb\n")
	os.MkdirAll(filepath.Join(dir, "debs"), 0o755)
	os.WriteFile(filepath.Join(dir, "debs", "linux.deb"), []byte("!<arch>\n"), 0o644)
	c, err = Load(Options{File: file, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Kernel.IsPackageFile() || c.Kernel.Package != filepath.Join(dir, "debs", "linux.deb") {
		t.Errorf("kernel: %+v", c.Kernel)
	}
}

func TestDebianKernelErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  string
		want []string
	}{
		{"no package", "kernel:\n  source: debian\n", []string{"kernel.package: kernel.source is debian but no kernel.package", "linux-image-amd64"}},
		{"missing deb", "kernel:\n  source: debian\n  package: nope.deb\n", []string{"test.yaml:3", "kernel.package:", "nope.deb does not exist", "apt-get"}},
		{"bad name", "kernel:\n  source: debian\n  package: Linux Image\n", []string{"kernel.package:", "neither a .deb file nor a Debian package name"}},
		{"bad module", "kernel:\n  source: debian\n  package: linux-image-amd64\n  modules: [drivers/vfio.ko]\n", []string{"kernel.modules:", "not a kernel module name", "vfio-pci"}},
		{"modules without debian", "kernel:\n  modules: [vfio-pci]\n", []string{"kernel.modules: kernel.modules is set but kernel.source is module", "kernel.source: debian"}},
		{"package with module source", "kernel:\n  source: module\n  package: linux-image-amd64\n", []string{"kernel.package: kernel.package is set but kernel.source is module"}},
		{"path with debian", "kernel:\n  source: debian\n  package: linux-image-amd64\n  path: bzImage\n", []string{"kernel.path is set but kernel.source is debian"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
