// Package debkernel takes the Linux kernel of a Debian linux-image package
// (kernel.source: debian): a .deb file, or a package name that `apt-get
// download` fetches. It extracts vmlinuz and the modules the config names
// with everything they depend on, in load order, for the build to pack into
// the initramfs and the domain kernel to load at boot (kernel/modules).
//
// A .deb is an ar archive of control.tar.* and data.tar.*; both are read
// here in Go, but for xz, which the host's xz (xz-utils) decompresses:
// Go's xz decoders in the module graph take a minute on a kernel package.
// Debian does not ship modules.dep (depmod makes it on install): the
// dependencies come from each module's .modinfo (depends=, which modpost
// fills in from the same symbols depmod reads), or from a modules.dep if the
// package has one. What is extracted is cached under the .deb's SHA-256,
// so only the first build of a package reads it whole.
package debkernel

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/rlgo/redleaf/internal/suggest"
)

// Options say which package and modules.
type Options struct {
	// Package is a .deb file or a package name for apt-get.
	Package string
	// Arch is the target GOARCH (Debian's arch names are the same).
	Arch string
	// Modules are module names, e.g. vfio-pci.
	Modules []string
	// CacheDir holds downloaded packages and what was extracted from
	// them. Default: the user's cache directory + rlbuild/debian.
	CacheDir string
	// Logf reports slow steps (downloads, unpacking); nil: none.
	Logf func(format string, args ...any)
}

// Kernel is the kernel of a package.
type Kernel struct {
	Vmlinuz string // host path of the kernel image
	Release string // e.g. 6.1.0-28-amd64: /lib/modules/<Release>
	Name    string // the package that holds it
	Version string
	SHA256  string // of the .deb
	Deb     string // host path of the .deb
	// Modules are the requested modules and their dependencies, in load
	// order. Builtin are requested modules built into the kernel.
	Modules []Module
	Builtin []string
	// ModulesDep is modules.dep for Modules (depmod's format).
	ModulesDep string
}

// Module is one module to pack.
type Module struct {
	Name      string // as the kernel names it: vfio_pci
	Path      string // relative to /lib/modules/<Release>, as packed
	Host      string // the file to pack
	Requested bool
}

// Error is a problem a config key can fix.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return e.Key + ": " + e.Msg }

// index is what the first read of a package learned, cached as JSON.
type index struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Release    string   `json:"release"`
	Decompress bool     `json:"decompress"` // CONFIG_MODULE_DECOMPRESS=y: the kernel loads compressed modules
	Builtin    []string `json:"builtin"`
	Graph      depGraph `json:"graph"`
	Depends    string   `json:"depends"` // of a metapackage (no vmlinuz)
}

// Resolve finds the package, extracts its kernel and the modules, and
// returns them.
func Resolve(ctx context.Context, o Options) (*Kernel, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("kernel.package: no cache directory for Debian packages (%v): set $XDG_CACHE_HOME or $HOME", err)
		}
		o.CacheDir = filepath.Join(dir, "rlbuild", "debian")
	}
	isFile := strings.HasSuffix(o.Package, ".deb") || strings.ContainsRune(o.Package, '/')
	deb := o.Package
	for depth := 0; ; depth++ {
		if !isFile {
			var err error
			if deb, err = fetch(ctx, o, deb); err != nil {
				return nil, err
			}
		}
		sum, err := fileSHA256(deb)
		if err != nil {
			return nil, &Error{"kernel.package", err.Error()}
		}
		dir := filepath.Join(o.CacheDir, "x", sum[:24])
		idx, err := readIndex(ctx, o, deb, dir)
		if err != nil {
			return nil, err
		}
		if idx.Release == "" {
			dep := kernelDependency(idx.Depends)
			switch {
			case dep == "":
				return nil, &Error{"kernel.package", fmt.Sprintf("%s (%s) holds no boot/vmlinuz-* and depends on no linux-image package: name a linux-image package such as linux-image-amd64", idx.Name, deb)}
			case isFile:
				return nil, &Error{"kernel.package", fmt.Sprintf("%s is the metapackage %s: its kernel is in %s; set kernel.package: %s (apt-get downloads it) or give that package's .deb", deb, idx.Name, dep, dep)}
			case depth >= 2:
				return nil, &Error{"kernel.package", fmt.Sprintf("%s: metapackages lead to metapackages (%s); name the linux-image package itself", o.Package, dep)}
			}
			o.Logf("%s is a metapackage: taking %s", idx.Name, dep)
			deb = dep
			continue
		}
		k := &Kernel{Vmlinuz: filepath.Join(dir, "vmlinuz"), Release: idx.Release, Name: idx.Name, Version: idx.Version, SHA256: sum, Deb: deb}
		if err := modules(ctx, o, k, idx, deb, dir); err != nil {
			return nil, err
		}
		return k, nil
	}
}

// modulePathRE splits a module file's path in the package.
var modulePathRE = regexp.MustCompile(`^(?:usr/)?lib/modules/([^/]+)/(.+)$`)

// readIndex returns the cached index of deb, reading the package first if
// there is none: vmlinuz, config, modules.builtin, modules.dep if present,
// and every uncompressed module's .modinfo.
func readIndex(ctx context.Context, o Options, deb, dir string) (*index, error) {
	file := filepath.Join(dir, "index.json")
	if b, err := os.ReadFile(file); err == nil {
		var idx index
		if json.Unmarshal(b, &idx) == nil {
			return &idx, nil
		}
	}
	fields, err := control(ctx, deb)
	if err != nil {
		return nil, &Error{"kernel.package", fmt.Sprintf("%v: give a linux-image .deb", err)}
	}
	idx := &index{Name: fields["Package"], Version: fields["Version"], Depends: fields["Depends"], Graph: depGraph{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o.Logf("unpacking %s %s (once; cached in %s)", idx.Name, idx.Version, dir)
	var shipped depGraph
	err = walkDeb(ctx, deb, "data.tar", func(h *tar.Header, r io.Reader) error {
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		switch {
		case strings.HasPrefix(h.Name, "boot/vmlinuz-"):
			idx.Release = strings.TrimPrefix(h.Name, "boot/vmlinuz-")
			return writeFileAtomic(filepath.Join(dir, "vmlinuz"), r)
		case strings.HasPrefix(h.Name, "boot/config-"):
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			idx.Decompress = strings.Contains("\n"+string(b), "\nCONFIG_MODULE_DECOMPRESS=y")
			return nil
		}
		m := modulePathRE.FindStringSubmatch(h.Name)
		if m == nil {
			return nil
		}
		rel := m[2]
		switch rel {
		case "modules.builtin":
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			for _, l := range strings.Fields(string(b)) {
				if n, ok := moduleName(l); ok {
					idx.Builtin = append(idx.Builtin, n)
				}
			}
			return nil
		case "modules.dep":
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			shipped, err = parseModulesDep(string(b))
			return err
		}
		name, ok := moduleName(rel)
		if !ok {
			return nil
		}
		e := depEntry{Path: rel}
		if compressedExt(rel) == "" {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			mi, err := readModinfo(b)
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			e.Depends, e.Known = mi.Depends, true
		}
		idx.Graph[name] = e
		return nil
	})
	if err != nil {
		return nil, &Error{"kernel.package", err.Error()}
	}
	for n, e := range shipped {
		if g, ok := idx.Graph[n]; ok {
			e.Path = g.Path
		}
		idx.Graph[n] = e
	}
	if err := writeIndex(file, idx); err != nil {
		return nil, err
	}
	return idx, nil
}

func writeIndex(file string, idx *index) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeFileAtomic(file, strings.NewReader(string(b)))
}

// modules resolves o.Modules in idx and extracts them (and their
// dependencies) into dir/modules, reading the package again only for
// what the cache does not have.
func modules(ctx context.Context, o Options, k *Kernel, idx *index, deb, dir string) error {
	var requested []string
	for _, m := range o.Modules {
		n := normalize(m)
		if _, ok := idx.Graph[n]; !ok {
			if slices.Contains(idx.Builtin, n) {
				k.Builtin = append(k.Builtin, n)
				continue
			}
			names := make([]string, 0, len(idx.Graph))
			for n := range idx.Graph {
				names = append(names, n)
			}
			fix := "name modules of the package (see its lib/modules/" + idx.Release + "/kernel)"
			if s := suggest.Closest(n, names); s != "" {
				fix = fmt.Sprintf("did you mean %q?", s)
			}
			return &Error{"kernel.modules", fmt.Sprintf("module %s is neither a module of %s %s nor built into its kernel: %s", m, idx.Name, idx.Version, fix)}
		}
		if !slices.Contains(requested, n) {
			requested = append(requested, n)
		}
	}
	modDir := filepath.Join(dir, "modules")
	for range 16 {
		order, _ := idx.Graph.resolve(requested)
		var want []string // not in the cache yet
		for _, n := range order {
			if _, err := os.Stat(filepath.Join(modDir, filepath.FromSlash(idx.Graph[n].Path))); err != nil {
				want = append(want, n)
			}
		}
		if len(want) == 0 && len(idx.Graph.unknown(order)) == 0 {
			return pack(ctx, k, idx, order, requested, modDir)
		}
		if len(want) > 0 {
			o.Logf("extracting %d modules from %s", len(want), filepath.Base(deb))
			if err := extract(ctx, deb, idx, want, modDir); err != nil {
				return &Error{"kernel.package", err.Error()}
			}
		}
		// Read the .modinfo of compressed modules, now on disk.
		for _, n := range idx.Graph.unknown(order) {
			e := idx.Graph[n]
			b, err := os.ReadFile(filepath.Join(modDir, filepath.FromSlash(e.Path)))
			if err != nil {
				return err
			}
			if b, err = decompressFile(ctx, e.Path, b); err != nil {
				return fmt.Errorf("kernel.package: module %s: %w", e.Path, err)
			}
			mi, err := readModinfo(b)
			if err != nil {
				return fmt.Errorf("kernel.package: module %s: %w", e.Path, err)
			}
			e.Depends, e.Known = mi.Depends, true
			idx.Graph[n] = e
		}
		if err := writeIndex(filepath.Join(dir, "index.json"), idx); err != nil {
			return err
		}
	}
	return fmt.Errorf("kernel.modules: the dependencies of %v do not settle", o.Modules)
}

// extract writes the files of names into modDir.
func extract(ctx context.Context, deb string, idx *index, names []string, modDir string) error {
	want := map[string]bool{}
	for _, n := range names {
		want[idx.Graph[n].Path] = true
	}
	left := len(want)
	return walkDeb(ctx, deb, "data.tar", func(h *tar.Header, r io.Reader) error {
		m := modulePathRE.FindStringSubmatch(h.Name)
		if m == nil || m[1] != idx.Release || !want[m[2]] || h.Typeflag != tar.TypeReg {
			return nil
		}
		dst := filepath.Join(modDir, filepath.FromSlash(m[2]))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := writeFileAtomic(dst, r); err != nil {
			return err
		}
		if left--; left == 0 {
			return errStop
		}
		return nil
	})
}

// pack fills k.Modules: compressed modules stay compressed if the kernel
// decompresses modules itself (CONFIG_MODULE_DECOMPRESS), and are
// decompressed here otherwise.
func pack(ctx context.Context, k *Kernel, idx *index, order, requested []string, modDir string) error {
	var names []string
	g := depGraph{}
	for _, n := range order {
		e := idx.Graph[n]
		host := filepath.Join(modDir, filepath.FromSlash(e.Path))
		if ext := compressedExt(e.Path); ext != "" && !idx.Decompress {
			plain := strings.TrimSuffix(host, ext)
			if _, err := os.Stat(plain); err != nil {
				b, err := os.ReadFile(host)
				if err != nil {
					return err
				}
				if b, err = decompressFile(ctx, e.Path, b); err != nil {
					return fmt.Errorf("kernel.package: module %s: %w", e.Path, err)
				}
				if err := writeFileAtomic(plain, strings.NewReader(string(b))); err != nil {
					return err
				}
			}
			host, e.Path = plain, strings.TrimSuffix(e.Path, ext)
		}
		k.Modules = append(k.Modules, Module{Name: n, Path: e.Path, Host: host, Requested: slices.Contains(requested, n)})
		g[n] = e
		names = append(names, n)
	}
	if len(names) > 0 {
		k.ModulesDep = g.formatModulesDep(names)
	}
	return nil
}

// fetch downloads package name with apt-get into the cache, unless the
// cache has the version apt would download, and returns the .deb's path.
func fetch(ctx context.Context, o Options, name string) (string, error) {
	spec := name
	if o.Arch != "" && o.Arch != hostArch() && !strings.Contains(name, ":") {
		spec = name + ":" + o.Arch
	}
	fix := "check the name (apt-cache search linux-image), run apt-get update, or set kernel.package to a downloaded .deb file"
	uris, err := apt(ctx, "", "download", "--print-uris", spec)
	if err != nil {
		return "", &Error{"kernel.package", fmt.Sprintf("apt-get cannot download %s: %v; %s", spec, err, fix)}
	}
	// 'URL' FILE SIZE SHA256:HEX
	f := strings.Fields(uris)
	if len(f) < 4 || !strings.HasPrefix(f[3], "SHA256:") || strings.ContainsAny(f[1], "/\\") {
		return "", &Error{"kernel.package", fmt.Sprintf("apt-get download --print-uris %s printed %q, not one package: %s", spec, strings.TrimSpace(uris), fix)}
	}
	file, want := f[1], strings.ToLower(strings.TrimPrefix(f[3], "SHA256:"))
	debs := filepath.Join(o.CacheDir, "debs")
	dst := filepath.Join(debs, file)
	if sum, err := fileSHA256(dst); err == nil && sum == want {
		return dst, nil
	}
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(debs, ".download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	o.Logf("apt-get download %s", spec)
	if _, err := apt(ctx, tmp, "download", spec); err != nil {
		return "", &Error{"kernel.package", fmt.Sprintf("apt-get download %s failed: %v; %s", spec, err, fix)}
	}
	got := filepath.Join(tmp, file)
	if sum, err := fileSHA256(got); err != nil || sum != want {
		return "", &Error{"kernel.package", fmt.Sprintf("apt-get download %s did not give %s with SHA-256 %s: run apt-get update and try again", spec, file, want)}
	}
	if err := os.Rename(got, dst); err != nil {
		return "", err
	}
	return dst, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, bufio.NewReaderSize(f, 1<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeFileAtomic writes r to p through a temporary file and a rename, so
// that the cache never holds a partial file under its real name.
func writeFileAtomic(p string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+path.Base(filepath.ToSlash(p))+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

var errNoApt = errors.New("apt-get is not installed (this needs a Debian or Ubuntu host)")
