package config

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/rlgo/redleaf/netboot/ipxe"
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
		} else if explicit["kernel.package"] {
			c.Kernel.Source = "debian"
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
	def("rv6.fs.size_mib", func() { c.RV6.FS.SizeMiB = 64 })
	def("rv6.fs.place", func() { c.RV6.FS.Place = PlaceInitramfs })
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
	if c.Kernel.IsPackageFile() && !filepath.IsAbs(c.Kernel.Package) {
		c.Kernel.Package = filepath.Join(l.configDir(), c.Kernel.Package)
	}
	for i, f := range c.RV6.FS.Files {
		if f.Src != "" && !filepath.IsAbs(f.Src) {
			c.RV6.FS.Files[i].Src = filepath.Join(l.configDir(), f.Src)
		}
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
	case "debian":
		l.validateDebian(c)
	default:
		l.fail("kernel.source", fmt.Sprintf("unknown kernel source %q", c.Kernel.Source), `use "module" (a Go module with a vmlinuz, the default), "file" (with kernel.path) or "debian" (with kernel.package)`)
	}
	if c.Kernel.Source != "file" && c.Kernel.Path != "" {
		l.fail("kernel.path", "kernel.path is set but kernel.source is "+c.Kernel.Source, "set kernel.source: file to boot that file, or remove kernel.path")
	}
	if c.Kernel.Source != "debian" && c.Kernel.Package != "" {
		l.fail("kernel.package", "kernel.package is set but kernel.source is "+c.Kernel.Source, "set kernel.source: debian to boot that package's kernel, or remove kernel.package")
	}
	if c.Kernel.Source != "debian" && len(c.Kernel.Modules) > 0 {
		l.fail("kernel.modules", "kernel.modules is set but kernel.source is "+c.Kernel.Source+" (only a Debian package brings modules)", "set kernel.source: debian and kernel.package, or remove kernel.modules")
	}
	// The command line goes into boot loader entries and iPXE scripts
	// line by line: a line break or an iPXE operator would add commands.
	if err := ipxe.CheckCmdline(c.Kernel.Cmdline); err != nil {
		l.fail("kernel.cmdline", err.Error(), "write the command line as one line of words separated by spaces")
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
	l.validateRV6(c)
	if !contains(bootModes, c.QEMU.Mode) {
		l.fail("qemu.mode", fmt.Sprintf("unknown boot mode %q", c.QEMU.Mode), "use one of "+strings.Join(bootModes, ", "))
	}
	// qemu.memory_mib and qemu.cpus: their range tags (config.go).
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
	// disk.esp_mib is 64 to 32768 (its range tag): FAT32 needs 64 and
	// some firmware insists on it.
	if d.SizeMiB != 0 && d.ESPMiB != 0 && d.SizeMiB < d.ESPMiB+2 {
		l.fail("disk.size_mib", fmt.Sprintf("%d MiB cannot hold the %d MiB ESP and the GPT", d.SizeMiB, d.ESPMiB), fmt.Sprintf("give 0 (fit the ESP) or at least %d", d.ESPMiB+2))
	}
}

var (
	debPackageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?(=[A-Za-z0-9.+~:-]+)?$`)
	moduleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
)

func (l *loader) validateDebian(c *Config) {
	k := c.Kernel
	switch {
	case k.Package == "":
		l.fail("kernel.package", "kernel.source is debian but no kernel.package is set", "set kernel.package to a linux-image .deb file or a package name such as linux-image-amd64")
	case k.IsPackageFile():
		if err := regularFile(k.Package); err != nil {
			l.fail("kernel.package", err.Error(), "point kernel.package at an existing linux-image .deb (relative paths start at the config file's directory), or name a package such as linux-image-amd64 for apt-get to download")
		}
	case !debPackageRE.MatchString(k.Package):
		l.fail("kernel.package", fmt.Sprintf("%q is neither a .deb file nor a Debian package name", k.Package), "name a package such as linux-image-amd64 or linux-image-6.1.0-28-amd64, or a file ending in .deb")
	}
	for _, m := range k.Modules {
		if !moduleNameRE.MatchString(m) {
			l.fail("kernel.modules", fmt.Sprintf("%q is not a kernel module name", m), "name modules as modprobe does, e.g. vfio-pci or vfio_iommu_type1 (no path, no .ko)")
		}
	}
}

// Limits of rv6.fs.size_mib.
const (
	MinFSMiB = 2
	// MaxInitramfsFSMiB: a cpio (newc) entry holds less than 4 GiB.
	MaxInitramfsFSMiB = 4095
	MaxFSMiB          = 1 << 20
)

func (l *loader) validateRV6(c *Config) {
	f := c.RV6.FS
	if !f.Enabled {
		return
	}
	switch f.Place {
	case PlaceInitramfs, PlaceDisk, PlaceBoth:
	default:
		l.fail("rv6.fs.place", fmt.Sprintf("unknown place %q", f.Place), "use initramfs (loaded as the RAM disk at boot), disk (rv6fs.img beside disk.img) or both")
	}
	switch {
	case f.SizeMiB < MinFSMiB:
		l.fail("rv6.fs.size_mib", fmt.Sprintf("a file system of %d MiB is too small", f.SizeMiB), fmt.Sprintf("give at least %d", MinFSMiB))
	case f.InInitramfs() && f.SizeMiB > MaxInitramfsFSMiB:
		l.fail("rv6.fs.size_mib", fmt.Sprintf("a file system of %d MiB does not fit in the initramfs (a cpio entry is below 4 GiB, and the RAM disk lives in memory)", f.SizeMiB), fmt.Sprintf("give at most %d, or set rv6.fs.place: disk", MaxInitramfsFSMiB))
	case f.SizeMiB > MaxFSMiB:
		l.fail("rv6.fs.size_mib", fmt.Sprintf("a file system of %d MiB is larger than rlbuild makes", f.SizeMiB), fmt.Sprintf("give at most %d", MaxFSMiB))
	}
	for i, e := range f.Files {
		switch {
		case e.Src == "":
			l.failEntry("rv6.fs.files", i, "src", "no src", "give the host file or directory to copy, relative to the config file, e.g. src: rootfs/etc/motd")
		default:
			if _, err := os.Stat(e.Src); err != nil {
				msg := err.Error()
				if os.IsNotExist(err) {
					msg = fmt.Sprintf("source %s does not exist", e.Src)
				}
				l.failEntry("rv6.fs.files", i, "src", msg, "name an existing host file or directory (relative paths start at the config file's directory)")
				continue
			}
		}
		switch {
		case e.Dst == "":
			l.failEntry("rv6.fs.files", i, "dst", "no dst", "give the absolute path in the file system, e.g. dst: /etc/motd")
		case !strings.HasPrefix(e.Dst, "/") || path.Clean(e.Dst) != e.Dst:
			l.failEntry("rv6.fs.files", i, "dst", fmt.Sprintf("%q is not a clean absolute path", e.Dst), fmt.Sprintf("write it as %q", path.Clean("/"+e.Dst)))
		case e.Dst == "/" && e.Src != "":
			if st, err := os.Stat(e.Src); err == nil && !st.IsDir() {
				l.failEntry("rv6.fs.files", i, "dst", "a file cannot be the root directory", "give the file's path in the file system, e.g. /"+filepath.Base(e.Src))
			}
		}
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
