// Package manifest is the one description of a build that every rlbuild
// command reads: `rlbuild image` writes it next to the artifacts, and boot,
// netboot, flash and the lab runner load it to find the kernel, the initrd,
// the command line and the disk image, and to check their digests.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileName is the manifest's name inside an artifacts directory.
const FileName = "manifest.json"

// Format is the version of the manifest format this package writes.
// Load refuses manifests of a newer format.
const Format = 1

// Manifest describes the artifacts of one build. Paths are relative to the
// directory holding the manifest and use forward slashes.
type Manifest struct {
	Format int    `json:"format"`
	Name   string `json:"name"` // config name, e.g. "qemu"
	Arch   string `json:"arch"` // GOARCH of the target: amd64, arm64

	Kernel        string `json:"kernel"`         // kernel image (bzImage or arm64 Image)
	KernelVersion string `json:"kernel_version"` // Linux release, e.g. "7.1.2"
	KernelSource  string `json:"kernel_source"`  // where the kernel came from (module@version or file)
	Initrd        string `json:"initrd"`         // compressed initramfs
	Cmdline       string `json:"cmdline"`        // kernel command line
	Disk          string `json:"disk,omitempty"` // raw GPT disk image, if built
	IPXE          string `json:"ipxe,omitempty"` // iPXE script of the PXE bundle, if built
	Bmap          string `json:"bmap,omitempty"` // block map of the disk image, if built

	// KernelPackage is the Debian package the kernel came from (kernel
	// source debian): its name, version and the .deb's SHA-256.
	KernelPackage *Package `json:"kernel_package,omitempty"`
	// KernelModules are the modules packed into the initramfs, in the
	// order the domain kernel loads them at boot (dependencies first).
	KernelModules []Module `json:"kernel_modules,omitempty"`
	// RV6FS is the Rv6 file-system image of the build, if any.
	RV6FS *FSImage `json:"rv6fs,omitempty"`

	// Boot lists the ways this build can boot: kernel, uefi, bios, pxe.
	Boot []string `json:"boot"`

	ConfigHash  string    `json:"config_hash"` // sha256 of the effective configuration
	ToolVersion string    `json:"tool_version"`
	BuildTime   time.Time `json:"build_time"` // SOURCE_DATE_EPOCH when set

	// Inputs names what else decided the artifacts' bytes (absent in
	// manifests of older rlbuilds).
	Inputs *Inputs `json:"inputs,omitempty"`

	Artifacts []Artifact `json:"artifacts"`

	dir string // directory the manifest was loaded from or written to
}

// Artifact is one file of a build with its digest.
type Artifact struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Package is a Debian package an artifact came from.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"` // of the .deb
}

// Module is a kernel module packed into the initramfs.
type Module struct {
	Name string `json:"name"` // as the kernel names it, e.g. vfio_pci
	// Path is the module's file in the initramfs, e.g.
	// /lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/pci/vfio-pci.ko.
	Path string `json:"path"`
	// Requested is true for the modules the config names; the others
	// are their dependencies.
	Requested bool `json:"requested,omitempty"`
}

// FSImage is an Rv6 file-system image built from the config.
type FSImage struct {
	// Path is the image's artifact (relative to the manifest) when it was
	// written beside the disk image; "" if it is only in the initramfs.
	Path string `json:"path,omitempty"`
	// InitramfsPath is the image's path inside the initramfs, loaded as
	// the RAM disk at boot; "" if it is not there.
	InitramfsPath string `json:"initramfs_path,omitempty"`
	SHA256        string `json:"sha256"`
	Size          int64  `json:"size"`
}

// Dir returns the directory the manifest belongs to.
func (m *Manifest) Dir() string { return m.dir }

// Path returns the host path of a path relative to the manifest, or "" for "".
func (m *Manifest) Path(rel string) string {
	if rel == "" {
		return ""
	}
	return filepath.Join(m.dir, filepath.FromSlash(rel))
}

// Supports reports whether the build can boot in mode.
func (m *Manifest) Supports(mode string) bool {
	for _, b := range m.Boot {
		if b == mode {
			return true
		}
	}
	return false
}

// Add hashes the file at rel (relative to dir) and records it as an artifact,
// replacing an earlier record of the same path.
func (m *Manifest) Add(dir, rel string) error {
	a, err := HashFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	a.Path = rel
	for i := range m.Artifacts {
		if m.Artifacts[i].Path == rel {
			m.Artifacts[i] = a
			return nil
		}
	}
	m.Artifacts = append(m.Artifacts, a)
	return nil
}

// HashFile returns the size and SHA-256 of a file; Path is left empty.
func HashFile(path string) (Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Artifact{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return Artifact{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// Write stores the manifest as dir/manifest.json, atomically.
func (m *Manifest) Write(dir string) error {
	m.Format = Format
	if err := m.validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(dir, ".manifest-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, FileName)); err != nil {
		return err
	}
	m.dir = dir
	return nil
}

// Load reads the manifest of an artifacts directory. path may name the
// directory or the manifest file itself.
func Load(path string) (*Manifest, error) {
	file := path
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Name what the user gave, not a directory above it.
		return nil, fmt.Errorf("%s does not exist: give an artifacts directory (or its %s) that `rlbuild image --config CONFIG --out DIR` wrote", path, FileName)
	case err == nil && st.IsDir():
		file = filepath.Join(path, FileName)
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no %s in %s: build one with `rlbuild image --config CONFIG --out %s`", FileName, path, path)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a valid manifest: %v", file, err)
	}
	if m.Format == 0 || m.Format > Format {
		return nil, fmt.Errorf("%s: manifest format %d is not supported by this rlbuild (it reads format %d): rebuild the image with this rlbuild", file, m.Format, Format)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m.dir = filepath.Dir(file)
	return &m, nil
}

// validate checks that every path stays inside the artifacts directory and
// that the required fields are set.
func (m *Manifest) validate() error {
	if m.Arch == "" {
		return errors.New("manifest has no arch")
	}
	if m.Kernel == "" || m.Initrd == "" {
		return errors.New("manifest names no kernel or no initrd")
	}
	paths := []string{m.Kernel, m.Initrd, m.Disk, m.IPXE, m.Bmap}
	if m.RV6FS != nil {
		paths = append(paths, m.RV6FS.Path)
	}
	for _, p := range append(paths, m.artifactPaths()...) {
		if p == "" {
			continue
		}
		if !localPath(p) {
			return fmt.Errorf("manifest path %q leaves the artifacts directory", p)
		}
	}
	return nil
}

func (m *Manifest) artifactPaths() []string {
	ps := make([]string, len(m.Artifacts))
	for i, a := range m.Artifacts {
		ps[i] = a.Path
	}
	return ps
}

func localPath(p string) bool {
	return filepath.IsLocal(filepath.FromSlash(p)) && !strings.Contains(p, "\\")
}

// Verify checks every artifact's size and SHA-256 against the files on disk.
func (m *Manifest) Verify() error {
	var errs []error
	for _, a := range m.Artifacts {
		got, err := HashFile(m.Path(a.Path))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got.Size != a.Size || got.SHA256 != a.SHA256 {
			errs = append(errs, fmt.Errorf("%s: size %d sha256 %s, manifest says size %d sha256 %s", m.Path(a.Path), got.Size, got.SHA256, a.Size, a.SHA256))
		}
	}
	return errors.Join(errs...)
}
