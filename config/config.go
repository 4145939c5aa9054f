// Package config loads and validates rlbuild configuration: a YAML file,
// then RLBUILD_* environment variables, then command-line flags, each
// overriding the one before. Every rlbuild command reads its settings
// through Load, so an invalid value is reported the same way everywhere:
// with the key, where it came from (file and line, variable or flag) and
// what would fix it.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
)

// Config is the effective configuration of one build.
//
// Keys are the yaml tags joined by dots ("kernel.cmdline"); the matching
// environment variable is RLBUILD_ followed by the key in upper case with
// dots as underscores (RLBUILD_KERNEL_CMDLINE).
type Config struct {
	// Name names the build; default: the config file's base name.
	Name string `yaml:"name" json:"name"`
	// Arch is the target GOARCH: amd64 or arm64.
	Arch string `yaml:"arch" json:"arch"`
	// Out is the artifacts directory; default out/<name> below the
	// directory rlbuild runs in. Not part of the config hash: the same
	// build in two places gives the same bytes.
	Out string `yaml:"out" json:"-"`
	// Source is the root of the redleaf source tree whose kernel and
	// programs are built; default: found by walking up from the working
	// directory. Not part of the config hash.
	Source string `yaml:"source" json:"-"`

	Kernel    Kernel    `yaml:"kernel" json:"kernel"`
	Initramfs Initramfs `yaml:"initramfs" json:"initramfs"`
	Disk      Disk      `yaml:"disk" json:"disk"`
	PXE       PXE       `yaml:"pxe" json:"pxe"`
	QEMU      QEMU      `yaml:"qemu" json:"qemu"`
	RV6       RV6       `yaml:"rv6" json:"rv6"`

	// File is the config file this was loaded from ("" if none).
	File string `yaml:"-" json:"-"`
}

// Kernel chooses the Linux kernel that boots the machine.
type Kernel struct {
	// Source is "module" (a Go module holding a vmlinuz, pinned in
	// go.mod), "file" (Path) or "debian" (Package).
	Source string `yaml:"source" json:"source"`
	// Module is the Go module path, optionally with @version; default
	// github.com/gokrazy/kernel.<arch> at the version go.mod pins.
	Module string `yaml:"module" json:"module"`
	// Path is a bzImage (amd64) or Image (arm64) file, relative to the
	// config file's directory.
	Path string `yaml:"path" json:"path"`
	// Cmdline is the kernel command line; default: the serial console of
	// the arch and panic=-1.
	Cmdline string `yaml:"cmdline" json:"cmdline"`
	// Package is a Debian linux-image package (source debian): a .deb
	// file (relative to the config file's directory) or a package name
	// that `apt-get download` fetches, e.g. linux-image-amd64.
	Package string `yaml:"package" json:"package"`
	// Modules are kernel modules of the package (source debian), by
	// name, e.g. vfio-pci. They and what they depend on are packed into
	// the initramfs and loaded at boot, in dependency order.
	Modules []string `yaml:"modules" json:"modules"`
}

// IsPackageFile reports whether kernel.package names a .deb file rather
// than a package for apt-get to fetch.
func (k *Kernel) IsPackageFile() bool {
	return strings.HasSuffix(k.Package, ".deb") || strings.ContainsRune(k.Package, '/')
}

// Initramfs configures the initial RAM file system.
type Initramfs struct {
	// Compression is zstd, gzip or none.
	Compression string `yaml:"compression" json:"compression"`
	// Commands are u-root command packages added for debugging, e.g.
	// github.com/u-root/u-root/cmds/core/ls; they land in /bbin.
	Commands []string `yaml:"commands" json:"commands"`
	// Files are extra files as HOSTPATH:TARGETPATH (or HOSTPATH, which
	// keeps the path), host paths relative to the config file.
	Files []string `yaml:"files" json:"files"`
}

// Disk configures the raw GPT disk image.
type Disk struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// UEFI installs systemd-boot on the ESP.
	UEFI bool `yaml:"uefi" json:"uefi"`
	// BIOS installs syslinux (amd64 only).
	BIOS bool `yaml:"bios" json:"bios"`
	// ESPMiB is the EFI System Partition's size; at least 64.
	ESPMiB int `yaml:"esp_mib" json:"esp_mib" range:"64,32768"`
	// SizeMiB is the whole image's size; 0 fits the ESP.
	SizeMiB int `yaml:"size_mib" json:"size_mib" range:"0,4194304"`
}

// PXE configures the network boot bundle (pxe/ with boot.ipxe).
type PXE struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
}

// RV6 configures what the build makes for Rv6.
type RV6 struct {
	FS RV6FS `yaml:"fs" json:"fs"`
}

// Places of the Rv6 file-system image (rv6.fs.place).
const (
	PlaceInitramfs = "initramfs" // in the initramfs, loaded as the RAM disk at boot
	PlaceDisk      = "disk"      // rv6fs.img in the artifacts directory, beside disk.img
	PlaceBoth      = "both"
)

// RV6FS is an Rv6 file-system image made by the build, with the same
// packages as `rlbuild mkfs`.
type RV6FS struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// SizeMiB is the file system's size (validateRV6 has the finer
	// limits, which depend on rv6.fs.place).
	SizeMiB int `yaml:"size_mib" json:"size_mib" range:"1,1048576"`
	// Place is initramfs, disk or both (the Place* constants).
	Place string `yaml:"place" json:"place"`
	// Files are copied into the file system, in order.
	Files []FSFile `yaml:"files" json:"files"`
}

// InInitramfs reports whether the image goes into the initramfs.
func (f *RV6FS) InInitramfs() bool {
	return f.Enabled && (f.Place == PlaceInitramfs || f.Place == PlaceBoth)
}

// OnDisk reports whether the image is written beside the disk image.
func (f *RV6FS) OnDisk() bool { return f.Enabled && (f.Place == PlaceDisk || f.Place == PlaceBoth) }

// FSFile is a host file or directory (Src, relative to the config file's
// directory; a directory is copied recursively) and its path in the file
// system (Dst, absolute).
type FSFile struct {
	Src string `yaml:"src" json:"src"`
	Dst string `yaml:"dst" json:"dst"`
}

// QEMU configures `rlbuild boot`.
type QEMU struct {
	// Mode is the default boot mode: kernel, uefi, bios or pxe.
	Mode      string `yaml:"mode" json:"mode"`
	MemoryMiB int    `yaml:"memory_mib" json:"memory_mib" range:"128,1048576"`
	CPUs      int    `yaml:"cpus" json:"cpus" range:"1,64"`
	// Accel is tcg or kvm.
	Accel string `yaml:"accel" json:"accel"`
}

// Hash returns the SHA-256 of the settings that shape the artifacts (all
// but Out, Source and File), in hex. Host paths count relative to the
// config file, so the same config in two checkouts has the same hash.
func (c *Config) Hash() string {
	cp := *c
	cp.Kernel.Path = c.relative(c.Kernel.Path)
	if c.Kernel.IsPackageFile() {
		cp.Kernel.Package = c.relative(c.Kernel.Package)
	}
	cp.RV6.FS.Files = nil
	for _, f := range c.RV6.FS.Files {
		cp.RV6.FS.Files = append(cp.RV6.FS.Files, FSFile{Src: c.relative(f.Src), Dst: f.Dst})
	}
	cp.Initramfs.Files = nil
	for _, f := range c.Initramfs.Files {
		h, t := SplitFile(f)
		cp.Initramfs.Files = append(cp.Initramfs.Files, c.relative(h)+":"+t)
	}
	b, _ := json.Marshal(&cp) // only strings, ints, bools and slices: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (c *Config) relative(path string) string {
	if path == "" || c.File == "" {
		return path
	}
	if rel, err := filepath.Rel(filepath.Dir(c.File), path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}
