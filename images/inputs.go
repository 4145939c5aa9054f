package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/images/gobuild"
	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/images/provenance"
)

// iPXE binaries that `rlbuild netboot serve` hands to PXE clients by
// default: Debian's ipxe package, under the names netboot/server's boot
// map uses (the arm64 ones are not packaged; recorded when present).
const ipxeDir = "/usr/lib/ipxe"

var ipxeFiles = []string{"undionly.kpxe", "snponly.efi", "ipxe.pxe", "ipxe.efi", "snponly-arm64.efi", "ipxe-arm64.efi"}

// hostUses lists the host files the build of c packs into its artifacts,
// or runs to write them, and the iPXE binaries netboot would serve with
// them. loaders are the paths prepare found.
func hostUses(c *config.Config, loaders []provenance.Use) []provenance.Use {
	uses := slices.Clone(loaders)
	if c.Disk.Enabled && c.Disk.BIOS {
		// syslinux --install runs mtools' mattrib and mmove on the ESP.
		for _, prog := range []string{"mattrib", "mmove"} {
			if p, err := exec.LookPath(prog); err == nil {
				uses = append(uses, provenance.Use{Path: p, For: "disk: mtools, run by syslinux --install"})
			}
		}
	}
	if c.PXE.Enabled {
		for _, name := range ipxeFiles {
			p := filepath.Join(ipxeDir, name)
			if _, err := os.Stat(p); err == nil {
				uses = append(uses, provenance.Use{Path: p, For: "netboot: iPXE served to PXE clients (not in the artifacts)"})
			}
		}
	}
	return uses
}

// hostPackages records the host files of the build of c (see hostUses)
// with their Debian packages. It reads every package's file list once, so
// Build runs it beside the go build.
func hostPackages(ctx context.Context, c *config.Config, p *plan) ([]manifest.DebPackage, error) {
	pkgs, err := provenance.Debian(ctx, hostUses(c, p.loaders))
	if err != nil {
		return nil, fmt.Errorf("recording the build's inputs: %w", err)
	}
	return pkgs, nil
}

// goInputs gathers the Go part of the manifest's Inputs: initBin is the
// built /init.
func goInputs(c *config.Config, p *plan, initBin string) (*manifest.Inputs, error) {
	info, err := gobuild.ReadInfo(initBin)
	if err != nil {
		return nil, err
	}
	sum, err := manifest.HashFile(initBin)
	if err != nil {
		return nil, err
	}
	in := &manifest.Inputs{Go: info.Go, InitSHA256: sum.SHA256}
	keys := make([]string, 0, len(info.Settings))
	for k := range info.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.GoSettings = append(in.GoSettings, manifest.Setting{Key: k, Value: info.Settings[k]})
	}
	for _, d := range info.Deps {
		in.Modules = append(in.Modules, manifest.GoModule{Path: d.Path, Version: d.Version, Sum: d.Sum, For: "init"})
	}
	if path, version, ok := kernelModule(p.kernel.Source); ok {
		s, err := provenance.GoSum(c.Source, path, version)
		if err != nil {
			return nil, err
		}
		in.Modules = append(in.Modules, manifest.GoModule{Path: path, Version: version, Sum: s, For: "linux"})
	}
	var tool []manifest.GoModule
	in.RlbuildGo, tool = provenance.Rlbuild()
	in.Modules = append(in.Modules, tool...)
	return in, nil
}

// kernelModule parses kernelsrc's "module PATH@VERSION" source.
func kernelModule(source string) (path, version string, ok bool) {
	mv, ok := strings.CutPrefix(source, "module ")
	if !ok {
		return "", "", false
	}
	return strings.Cut(mv, "@")
}
