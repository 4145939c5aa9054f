// Package images turns a configuration into boot artifacts: it
// cross-compiles the domain kernel, assembles the initramfs, picks the
// Linux kernel, writes the PXE bundle and the GPT disk image, and records
// all of it in the manifest that every other rlbuild command reads.
//
// Layout of an artifacts directory:
//
//	manifest.json    the description of the build (see images/manifest)
//	vmlinuz          the Linux kernel
//	initrd.img       the compressed initramfs; /init is the domain kernel
//	disk.img         GPT disk: ESP with systemd-boot (UEFI) and syslinux (BIOS)
//	disk.img.bmap    its block map (bmaptool's format), for rlbuild flash
//	pxe/boot.ipxe    iPXE script; pxe/vmlinuz and pxe/initrd.img beside it
//	rv6fs.img        the Rv6 file system (rv6.fs.place: disk or both)
package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/host"
	"github.com/rlgo/redleaf/images/bmap"
	"github.com/rlgo/redleaf/images/debkernel"
	"github.com/rlgo/redleaf/images/disk"
	"github.com/rlgo/redleaf/images/gobuild"
	"github.com/rlgo/redleaf/images/initramfs"
	"github.com/rlgo/redleaf/images/kernelsrc"
	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/images/provenance"
	"github.com/rlgo/redleaf/version"
	"github.com/rlgo/redleaf/vet"
)

// KernelPackage is the Go package of the domain kernel, built as /init.
const KernelPackage = "./cmd/rlkernel"

// Artifact names inside the output directory.
const (
	KernelFile = "vmlinuz"
	InitrdFile = "initrd.img"
	DiskFile   = "disk.img"
	BmapFile   = "disk.img.bmap"
	PXEDir     = "pxe"
	IPXEFile   = "pxe/boot.ipxe"
)

// Options tune a build.
type Options struct {
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// Result is a finished build.
type Result struct {
	Manifest  *manifest.Manifest
	Initramfs initramfs.Info
}

// plan is everything resolved before any work starts.
type plan struct {
	kernel    *kernelsrc.Kernel
	debian    *debkernel.Kernel // kernel.source debian
	buildTime time.Time         // manifest build time
	fileTime  time.Time         // timestamps inside artifacts
	loaders   []provenance.Use  // boot loader files the disk is made with
}

// Build produces the artifacts of c in c.Out. All inputs are checked
// first (kernel, host tools, SOURCE_DATE_EPOCH), so a bad input fails in
// a second, not after a long build. Artifacts are written to a staging
// directory inside c.Out and moved into place at the end, the manifest
// last: a failed build leaves the previous build intact.
func Build(ctx context.Context, c *config.Config, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	b := &builder{log: o.Log, res: &Result{}}
	p, err := prepare(ctx, c, o.Log)
	if err != nil {
		return nil, err
	}
	vetErr := make(chan error, 1)
	go func() { vetErr <- vetDomains(c.Source, c.Arch) }()
	type packages struct {
		list []manifest.DebPackage
		err  error
	}
	hostPkgs := make(chan packages, 1)
	go func() {
		list, err := hostPackages(ctx, c, p)
		hostPkgs <- packages{list, err}
	}()
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, fmt.Errorf("out: cannot create output directory: %w", err)
	}
	stage, err := os.MkdirTemp(c.Out, ".staging-")
	if err != nil {
		return nil, fmt.Errorf("out: %w", err)
	}
	defer os.RemoveAll(stage)
	work := filepath.Join(stage, ".work")
	if err := os.MkdirAll(filepath.Join(work, "initramfs"), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(stage, PXEDir), 0o755); err != nil {
		return nil, err
	}

	m := &manifest.Manifest{
		Name:          c.Name,
		Arch:          c.Arch,
		Kernel:        KernelFile,
		KernelVersion: p.kernel.Version,
		KernelSource:  p.kernel.Source,
		Initrd:        InitrdFile,
		Cmdline:       c.Kernel.Cmdline,
		Boot:          []string{"kernel"},
		ConfigHash:    c.Hash(),
		ToolVersion:   version.String(),
		BuildTime:     p.buildTime,
	}
	files := extraFiles(c)
	if c.RV6.FS.Enabled {
		fsImg := filepath.Join(work, RV6FSFile)
		if c.RV6.FS.OnDisk() {
			fsImg = filepath.Join(stage, RV6FSFile)
		}
		err = b.step(fmt.Sprintf("rv6 file system (%d MiB, %s)", c.RV6.FS.SizeMiB, c.RV6.FS.Place), func() error {
			return buildRV6FS(c, p, fsImg)
		})
		if err != nil {
			return nil, err
		}
		a, err := manifest.HashFile(fsImg)
		if err != nil {
			return nil, err
		}
		m.RV6FS = &manifest.FSImage{SHA256: a.SHA256, Size: a.Size}
		if c.RV6.FS.OnDisk() {
			m.RV6FS.Path = RV6FSFile
		}
		if c.RV6.FS.InInitramfs() {
			m.RV6FS.InitramfsPath = "/" + RV6FSTarget
			files = append(files, initramfs.File{Host: fsImg, Target: RV6FSTarget})
		}
	}
	if p.debian != nil {
		mods, err := moduleFiles(p.debian, work)
		if err != nil {
			return nil, err
		}
		files = append(files, mods...)
		m.KernelPackage = &manifest.Package{Name: p.debian.Name, Version: p.debian.Version, SHA256: p.debian.SHA256}
		for _, mod := range p.debian.Modules {
			m.KernelModules = append(m.KernelModules, manifest.Module{Name: mod.Name, Path: moduleTarget(p.debian, mod), Requested: mod.Requested})
		}
	}
	initBin := filepath.Join(work, "rlkernel")
	err = b.step(fmt.Sprintf("go build %s (linux/%s)", KernelPackage, c.Arch), func() error {
		return gobuild.Build(ctx, gobuild.Options{
			Dir:     c.Source,
			Package: KernelPackage,
			GOARCH:  c.Arch,
			Output:  initBin,
			X:       map[string]string{"github.com/rlgo/redleaf/version.Version": version.String()},
		})
	})
	if err != nil {
		return nil, err
	}
	m.Inputs, err = goInputs(c, p, initBin)
	if err != nil {
		return nil, err
	}
	err = b.step("initramfs ("+c.Initramfs.Compression+")", func() error {
		info, err := initramfs.Build(ctx, filepath.Join(stage, InitrdFile), initramfs.Spec{
			Arch:        c.Arch,
			Init:        initBin,
			Files:       files,
			Commands:    c.Initramfs.Commands,
			Compression: c.Initramfs.Compression,
			SourceDir:   c.Source,
			TempDir:     filepath.Join(work, "initramfs"),
		})
		if info != nil {
			b.res.Initramfs = *info
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	err = b.step("kernel "+p.kernel.Version+" from "+p.kernel.Source, func() error {
		return copyFile(p.kernel.Path, filepath.Join(stage, KernelFile))
	})
	if err != nil {
		return nil, err
	}
	if c.PXE.Enabled {
		err = b.step("pxe bundle", func() error { return writePXE(stage, c.Kernel.Cmdline) })
		if err != nil {
			return nil, err
		}
		m.IPXE = IPXEFile
		m.Boot = append(m.Boot, "pxe")
	}
	if c.Disk.Enabled {
		err = b.step("disk image", func() error {
			_, err := disk.Build(filepath.Join(stage, DiskFile), disk.Spec{
				Arch:    c.Arch,
				Kernel:  filepath.Join(stage, KernelFile),
				Initrd:  filepath.Join(stage, InitrdFile),
				Cmdline: c.Kernel.Cmdline,
				Title:   "RedLeaf-Go (" + c.Name + ")",
				Seed:    m.ConfigHash,
				ESPSize: int64(c.Disk.ESPMiB) << 20,
				Size:    int64(c.Disk.SizeMiB) << 20,
				UEFI:    c.Disk.UEFI,
				BIOS:    c.Disk.BIOS,
				Time:    p.fileTime,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		m.Disk = DiskFile
		// The block map lets rlbuild flash and bmaptool write only the
		// blocks that hold data.
		err = b.step("block map", func() error {
			_, err := bmap.Create(filepath.Join(stage, DiskFile), filepath.Join(stage, BmapFile))
			return err
		})
		if err != nil {
			return nil, err
		}
		m.Bmap = BmapFile
		if c.Disk.UEFI {
			m.Boot = append(m.Boot, "uefi")
		}
		if c.Disk.BIOS {
			m.Boot = append(m.Boot, "bios")
		}
	}
	if err := <-vetErr; err != nil {
		return nil, err
	}
	pkgs := <-hostPkgs
	if pkgs.err != nil {
		return nil, pkgs.err
	}
	m.Inputs.Packages = pkgs.list
	err = b.step("manifest", func() error {
		for _, rel := range artifactList(m) {
			if err := m.Add(stage, rel); err != nil {
				return err
			}
		}
		if m.IPXE != "" {
			// pxe/vmlinuz and pxe/initrd.img are links to (or copies of)
			// the files hashed above: record them without reading again.
			for _, a := range m.Artifacts[:2] {
				m.Artifacts = append(m.Artifacts, manifest.Artifact{Path: PXEDir + "/" + a.Path, SHA256: a.SHA256, Size: a.Size})
			}
		}
		return publish(stage, c.Out, m)
	})
	if err != nil {
		return nil, err
	}
	b.res.Manifest = m
	return b.res, nil
}

type builder struct {
	log io.Writer
	res *Result
}

func (b *builder) step(name string, f func() error) error {
	start := time.Now()
	err := f()
	d := time.Since(start)
	if err == nil {
		fmt.Fprintf(b.log, "  %-60s %6.2fs\n", name, d.Seconds())
	}
	return err
}

// prepare resolves and checks every input before work starts.
func prepare(ctx context.Context, c *config.Config, log io.Writer) (*plan, error) {
	p := &plan{buildTime: time.Now().UTC()}
	if s, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		secs, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || secs < 0 {
			return nil, fmt.Errorf("environment variable SOURCE_DATE_EPOCH=%q is not a Unix time in seconds: set it to e.g. $(git log -1 --format=%%ct) or unset it", s)
		}
		p.buildTime = time.Unix(secs, 0).UTC()
		p.fileTime = p.buildTime
	}
	var err error
	switch c.Kernel.Source {
	case "file":
		p.kernel, err = kernelsrc.FromFile(c.Kernel.Path, c.Arch)
	case "debian":
		p.debian, err = debkernel.Resolve(ctx, debkernel.Options{
			Package: c.Kernel.Package,
			Arch:    c.Arch,
			Modules: c.Kernel.Modules,
			Logf:    func(format string, args ...any) { fmt.Fprintf(log, "  "+format+"\n", args...) },
		})
		if err == nil {
			p.kernel, err = kernelsrc.FromFile(p.debian.Vmlinuz, c.Arch)
		}
		if err == nil {
			p.kernel.Source = fmt.Sprintf("debian %s %s", p.debian.Name, p.debian.Version)
		}
	default:
		p.kernel, err = kernelsrc.FromModule(c.Source, c.Kernel.Module, c.Arch)
	}
	if err != nil {
		return nil, configError(c, err)
	}
	var missing []error
	// The same host.Find as images/disk's, so the files found here are
	// the ones the disk is made with, recorded in the manifest.
	need := func(f host.File, purpose, use string) {
		path, err := host.Find(f, purpose)
		if err != nil {
			missing = append(missing, err)
			return
		}
		p.loaders = append(p.loaders, provenance.Use{Path: path, For: use})
	}
	if c.Disk.Enabled && c.Disk.UEFI {
		if c.Arch == "arm64" {
			need(host.SystemdBootAA64, "for arm64 UEFI disk images (disk.uefi)", "disk: UEFI loader")
		} else {
			need(host.SystemdBootX64, "for UEFI disk images (disk.uefi)", "disk: UEFI loader")
		}
	}
	if c.Disk.Enabled && c.Disk.BIOS {
		need(host.Syslinux, "for BIOS disk images (disk.bios)", "disk: BIOS loader (syslinux --install)")
		need(host.SyslinuxGPTMBR, "for BIOS disk images (disk.bios)", "disk: BIOS loader (MBR boot code)")
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	return p, nil
}

// vetDomains checks, for linux/arch as the image is built, the domains of
// the source tree and every package of the module the kernel links (each
// by its profile: see package vet). Domains are isolated by the language
// only: an image whose domain code is not safe Go is refused, and so is
// one linking a package the checker could not check. It runs beside the
// build (loading every package's syntax takes longer than a warm go
// build), and Build waits for it before publishing.
func vetDomains(source, arch string) error {
	diags, err := vet.Check(source, vet.Options{Programs: []string{KernelPackage}, GOOS: "linux", GOARCH: arch})
	if err != nil {
		return fmt.Errorf("checking domains: %w", err)
	}
	if len(diags) > 0 {
		lines := make([]string, len(diags))
		for i, d := range diags {
			lines[i] = d.String()
		}
		return fmt.Errorf("refusing to build: %d violation(s) of the domain rules (rlbuild vet lists them):\n%s", len(diags), strings.Join(lines, "\n"))
	}
	return nil
}

// configError names the config file for errors about a config key.
func configError(c *config.Config, err error) error {
	var ke *kernelsrc.Error
	if errors.As(err, &ke) {
		return &config.Error{Origin: c.File, Key: ke.Key, Msg: ke.Msg}
	}
	var de *debkernel.Error
	if errors.As(err, &de) {
		return &config.Error{Origin: c.File, Key: de.Key, Msg: de.Msg}
	}
	return err
}

func extraFiles(c *config.Config) []initramfs.File {
	var fs []initramfs.File
	for _, f := range c.Initramfs.Files {
		h, t := config.SplitFile(f)
		fs = append(fs, initramfs.File{Host: h, Target: t})
	}
	return fs
}

// writePXE writes the iPXE script and links the kernel and initrd beside
// it, so that pxe/ alone can be a TFTP or HTTP root.
func writePXE(stage, cmdline string) error {
	for _, f := range []string{KernelFile, InitrdFile} {
		if err := linkOrCopy(filepath.Join(stage, f), filepath.Join(stage, PXEDir, f)); err != nil {
			return err
		}
	}
	// initrd= on the command line lets the kernel's EFI stub find the
	// initrd when iPXE runs as an EFI program; BIOS iPXE ignores it.
	script := fmt.Sprintf("#!ipxe\n# RedLeaf-Go: generated by rlbuild image\nkernel %s initrd=%s %s\ninitrd %s\nboot\n",
		KernelFile, InitrdFile, cmdline, InitrdFile)
	return os.WriteFile(filepath.Join(stage, IPXEFile), []byte(script), 0o644)
}

func artifactList(m *manifest.Manifest) []string {
	list := []string{m.Kernel, m.Initrd}
	if m.IPXE != "" {
		list = append(list, IPXEFile)
	}
	if m.Disk != "" {
		list = append(list, m.Disk)
	}
	if m.Bmap != "" {
		list = append(list, m.Bmap)
	}
	if m.RV6FS != nil && m.RV6FS.Path != "" {
		list = append(list, m.RV6FS.Path)
	}
	return list
}

// knownArtifacts are the files a build may own in its output directory;
// publish removes the ones this build did not produce, and nothing else.
var knownArtifacts = []string{KernelFile, InitrdFile, DiskFile, BmapFile, IPXEFile, RV6FSFile, PXEDir + "/" + KernelFile, PXEDir + "/" + InitrdFile}

// publish moves the staged artifacts into out and writes the manifest.
// The old manifest goes first, so a crash in between leaves no manifest
// that describes files it does not match.
func publish(stage, out string, m *manifest.Manifest) error {
	if err := os.Remove(filepath.Join(out, manifest.FileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	produced := map[string]bool{}
	for _, a := range m.Artifacts {
		produced[a.Path] = true
		dst := filepath.Join(out, filepath.FromSlash(a.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(stage, filepath.FromSlash(a.Path)), dst); err != nil {
			return err
		}
		// Readable by all, as disk.img and manifest.json are, whatever the
		// umask: a TFTP or HTTP server running as another user serves them.
		if err := os.Chmod(dst, 0o644); err != nil {
			return err
		}
	}
	for _, k := range knownArtifacts {
		if !produced[k] {
			os.Remove(filepath.Join(out, filepath.FromSlash(k)))
		}
	}
	os.Remove(filepath.Join(out, PXEDir)) // only if empty
	return m.Write(out)
}
