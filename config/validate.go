package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"
)

// ModulePath is the Go module of the redleaf source tree.
const ModulePath = "github.com/rlgo/redleaf"

// Arch describes what differs between target architectures.
type Arch struct {
	Console      string // serial console device with options
	KernelModule string // default kernel module
}

// Arches are the supported target architectures.
var Arches = map[string]Arch{
	"amd64": {Console: "ttyS0,115200", KernelModule: "github.com/gokrazy/kernel.amd64"},
	"arm64": {Console: "ttyAMA0", KernelModule: "github.com/gokrazy/kernel.arm64"},
}

// DefaultQEMU are the qemu.* settings of a config that sets none, and of
// `rlbuild boot --artifacts` without a config.
var DefaultQEMU = QEMU{Mode: "kernel", MemoryMiB: 1024, CPUs: 1, Accel: "tcg"}

// Boot modes of `rlbuild boot`.
var bootModes = []string{"kernel", "uefi", "bios", "pxe"}

func (l *loader) applyDefaults(c *Config, explicit map[string]bool) {
	def := func(key string, set func()) {
		if !explicit[key] {
			set()
		}
	}
	def("name", func() { c.Name = strings.TrimSuffix(filepath.Base(l.opts.File), filepath.Ext(l.opts.File)) })
	def("arch", func() { c.Arch = "amd64" })
	a, ok := Arches[c.Arch]
	if !ok {
		a = Arches["amd64"]
	}
	def("kernel.source", func() {
		c.Kernel.Source = "module"
		if explicit["kernel.path"] {
			c.Kernel.Source = "file"
		}
	})
	def("kernel.module", func() { c.Kernel.Module = a.KernelModule })
	def("kernel.cmdline", func() { c.Kernel.Cmdline = "console=" + a.Console + " panic=-1" })
	def("initramfs.compression", func() { c.Initramfs.Compression = "zstd" })
	// Debian ships no arm64 systemd-boot for amd64 hosts, so arm64 builds
	// make no disk unless asked to.
	def("disk.enabled", func() { c.Disk.Enabled = c.Arch == "amd64" })
	def("disk.uefi", func() { c.Disk.UEFI = true })
	def("disk.bios", func() { c.Disk.BIOS = c.Arch == "amd64" })
	def("disk.esp_mib", func() { c.Disk.ESPMiB = 128 })
	def("pxe.enabled", func() { c.PXE.Enabled = true })
	def("qemu.mode", func() { c.QEMU.Mode = DefaultQEMU.Mode })
	def("qemu.memory_mib", func() { c.QEMU.MemoryMiB = DefaultQEMU.MemoryMiB })
	def("qemu.cpus", func() { c.QEMU.CPUs = DefaultQEMU.CPUs })
	def("qemu.accel", func() { c.QEMU.Accel = DefaultQEMU.Accel })
	def("out", func() { c.Out = filepath.Join("out", c.Name) })
	if !filepath.IsAbs(c.Out) {
		c.Out = filepath.Join(l.opts.WorkDir, c.Out)
	}
	def("source", func() {
		if c.Source = findSource(l.opts.WorkDir); c.Source == "" {
			c.Source = findSource(l.configDir())
		}
	})
	if c.Kernel.Path != "" && !filepath.IsAbs(c.Kernel.Path) {
		c.Kernel.Path = filepath.Join(l.configDir(), c.Kernel.Path)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (l *loader) validate(c *Config) {
	if !nameRE.MatchString(c.Name) {
		l.fail("name", fmt.Sprintf("%q is not a usable build name", c.Name), "use letters, digits, '.', '_' and '-', starting with a letter or digit")
	}
	if _, ok := Arches[c.Arch]; !ok {
		l.fail("arch", fmt.Sprintf("unknown arch %q", c.Arch), "use amd64 or arm64")
	}
	switch c.Kernel.Source {
	case "module":
		if c.Kernel.Module == "" || strings.ContainsAny(c.Kernel.Module, " \t") {
			l.fail("kernel.module", fmt.Sprintf("%q is not a Go module path", c.Kernel.Module), "name a module such as github.com/gokrazy/kernel.amd64, optionally with @version")
		}
	case "file":
		if c.Kernel.Path == "" {
			l.fail("kernel.path", "kernel.source is file but no kernel.path is set", "set kernel.path to a bzImage (amd64) or Image (arm64) file")
		} else if err := regularFile(c.Kernel.Path); err != nil {
			l.fail("kernel.path", err.Error(), "point kernel.path at an existing kernel image (relative paths start at the config file's directory)")
		}
	default:
		l.fail("kernel.source", fmt.Sprintf("unknown kernel source %q", c.Kernel.Source), `use "module" (a Go module with a vmlinuz, the default) or "file" (with kernel.path)`)
	}
	if c.Kernel.Source == "module" && c.Kernel.Path != "" {
		l.fail("kernel.path", "kernel.path is set but kernel.source is module", "set kernel.source: file to boot that file, or remove kernel.path")
	}
	switch c.Initramfs.Compression {
	case "zstd", "gzip", "none":
	default:
		l.fail("initramfs.compression", fmt.Sprintf("unknown compression %q", c.Initramfs.Compression), "use zstd, gzip or none")
	}
	for _, cmd := range c.Initramfs.Commands {
		if cmd == "" || strings.ContainsAny(cmd, " \t:") || strings.HasPrefix(cmd, "/") {
			l.fail("initramfs.commands", fmt.Sprintf("%q is not a Go package path", cmd), "name u-root commands by package, e.g. github.com/u-root/u-root/cmds/core/ls")
		}
	}
	for i, f := range c.Initramfs.Files {
		hostPath, target := SplitFile(f)
		if !filepath.IsAbs(hostPath) {
			hostPath = filepath.Join(l.configDir(), hostPath)
		}
		if err := regularFile(hostPath); err != nil {
			l.fail("initramfs.files", err.Error(), "list existing host files as HOSTPATH or HOSTPATH:TARGET (relative to the config file)")
			continue
		}
		if t := strings.TrimPrefix(target, "/"); t == "" || !filepath.IsLocal(t) || t == "init" {
			l.fail("initramfs.files", fmt.Sprintf("target %q of %q is not a usable path in the initramfs", target, f), "give a path inside the image other than /init, e.g. /etc/motd")
			continue
		}
		c.Initramfs.Files[i] = hostPath + ":" + target
	}
	l.validateDisk(c)
	if !contains(bootModes, c.QEMU.Mode) {
		l.fail("qemu.mode", fmt.Sprintf("unknown boot mode %q", c.QEMU.Mode), "use one of "+strings.Join(bootModes, ", "))
	}
	if c.QEMU.MemoryMiB < 128 {
		l.fail("qemu.memory_mib", fmt.Sprintf("%d MiB is too little memory", c.QEMU.MemoryMiB), "give at least 128")
	}
	if c.QEMU.CPUs < 1 || c.QEMU.CPUs > 64 {
		l.fail("qemu.cpus", fmt.Sprintf("%d CPUs is out of range", c.QEMU.CPUs), "give 1 to 64")
	}
	if c.QEMU.Accel != "tcg" && c.QEMU.Accel != "kvm" {
		l.fail("qemu.accel", fmt.Sprintf("unknown accelerator %q", c.QEMU.Accel), "use tcg (always works) or kvm (only where /dev/kvm works)")
	}
	if c.Source == "" {
		l.fail("source", "the redleaf source tree was not found above "+l.opts.WorkDir, "run rlbuild inside the repository or set source: to its root")
	} else if err := checkSource(c.Source); err != nil {
		l.fail("source", err.Error(), "set source: to the root of the redleaf repository (where go.mod names "+ModulePath+")")
	}
}

func (l *loader) validateDisk(c *Config) {
	d := c.Disk
	if !d.Enabled {
		return
	}
	if !d.UEFI && !d.BIOS {
		l.fail("disk.enabled", "a disk image needs a boot loader but disk.uefi and disk.bios are both false", "set disk.uefi or disk.bios to true, or disk.enabled to false")
	}
	if d.BIOS && c.Arch != "amd64" {
		l.fail("disk.bios", "legacy BIOS boot exists only on amd64", "set disk.bios: false for "+c.Arch)
	}
	if d.ESPMiB < 64 {
		l.fail("disk.esp_mib", fmt.Sprintf("an ESP of %d MiB is too small", d.ESPMiB), "give at least 64: FAT32 needs it and some firmware insists on it")
	} else if d.ESPMiB > 32768 {
		l.fail("disk.esp_mib", fmt.Sprintf("an ESP of %d MiB is larger than rlbuild supports", d.ESPMiB), "give at most 32768")
	}
	if d.SizeMiB != 0 && d.SizeMiB < d.ESPMiB+2 {
		l.fail("disk.size_mib", fmt.Sprintf("%d MiB cannot hold the %d MiB ESP and the GPT", d.SizeMiB, d.ESPMiB), fmt.Sprintf("give 0 (fit the ESP) or at least %d", d.ESPMiB+2))
	}
}

// SplitFile splits an initramfs.files entry into host path and target.
func SplitFile(entry string) (hostPath, target string) {
	if h, t, ok := strings.Cut(entry, ":"); ok {
		return h, t
	}
	return entry, entry
}

func regularFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s does not exist", path)
		}
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// findSource walks up from dir to the redleaf module root.
func findSource(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		if checkSource(abs) == nil {
			return abs
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return ""
		}
		abs = parent
	}
}

func checkSource(dir string) error {
	path := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: no go.mod", dir)
	}
	if mod := modfile.ModulePath(data); mod != ModulePath {
		return fmt.Errorf("%s is module %q, not %s", path, mod, ModulePath)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
