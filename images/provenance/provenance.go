// Package provenance finds out what a build's inputs were, for the
// manifest (manifest.Inputs): the Debian packages and digests of the host
// files a build used, the Go modules rlbuild itself was built from, and a
// module's go.sum hash. It only reads; nothing here changes a build.
package provenance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/rlgo/redleaf/images/manifest"
)

// Use is a host file a build used, and what for.
type Use struct {
	Path string // as found (a link is followed)
	For  string // e.g. "disk: UEFI loader"
}

// Debian returns the Debian packages that own the used files, with their
// installed versions and the files' digests, grouped by package and
// purpose and sorted. A file dpkg does not know (no dpkg on the host, or
// installed by hand) is listed under a package with no name and version,
// so its digest still explains a difference. Only a file that cannot be
// read is an error.
func Debian(ctx context.Context, uses []Use) ([]manifest.DebPackage, error) {
	type file struct {
		real string
		hash string
	}
	files := make([]file, len(uses))
	var query []string
	for i, u := range uses {
		real, err := filepath.EvalSymlinks(u.Path)
		if err != nil {
			return nil, fmt.Errorf("host file %s (%s): %w", u.Path, u.For, err)
		}
		a, err := manifest.HashFile(real)
		if err != nil {
			return nil, fmt.Errorf("host file %s (%s): %w", u.Path, u.For, err)
		}
		files[i] = file{real, a.SHA256}
		// dpkg knows a file by the path its package ships it under, which
		// on a merged-/usr system may be the resolved one or the other.
		query = append(query, real, u.Path)
	}
	owners := dpkgOwners(ctx, query)
	versions := map[string]string{}
	type key struct{ name, purpose string }
	groups := map[key]*manifest.DebPackage{}
	var order []key
	for i, u := range uses {
		owner := owners[files[i].real]
		if owner == "" {
			owner = owners[u.Path]
		}
		k := key{owner, u.For}
		g, ok := groups[k]
		if !ok {
			g = &manifest.DebPackage{Name: owner, For: u.For}
			if owner != "" {
				if _, ok := versions[owner]; !ok {
					versions[owner] = dpkgVersion(ctx, owner)
				}
				g.Version = versions[owner]
			}
			groups[k] = g
			order = append(order, k)
		}
		f := manifest.HostFile{Path: files[i].real, SHA256: files[i].hash}
		if !slices.Contains(g.Files, f) {
			g.Files = append(g.Files, f)
		}
	}
	pkgs := make([]manifest.DebPackage, 0, len(order))
	for _, k := range order {
		g := groups[k]
		slices.SortFunc(g.Files, func(a, b manifest.HostFile) int { return strings.Compare(a.Path, b.Path) })
		pkgs = append(pkgs, *g)
	}
	slices.SortStableFunc(pkgs, func(a, b manifest.DebPackage) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.For, b.For)
	})
	return pkgs, nil
}

// dpkgOwners maps each of paths that one package owns to that package,
// in one dpkg-query run (each run reads every package's file list). It
// exits 1 when a path is unknown but still lists the others; with no
// dpkg at all the map is empty. A path in two packages (a shared
// directory) cannot be one of our files and is left out.
func dpkgOwners(ctx context.Context, paths []string) map[string]string {
	owners := map[string]string{}
	if len(paths) == 0 {
		return owners
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	out, _ := exec.CommandContext(ctx, "dpkg-query", append([]string{"-S", "--"}, paths...)...).Output()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "pkg[:arch]: /path"; diversions start with "diversion by".
		pkg, p, ok := strings.Cut(sc.Text(), ": ")
		if !ok || strings.HasPrefix(pkg, "diversion ") || strings.Contains(pkg, ",") || !slices.Contains(paths, p) {
			continue
		}
		owners[p] = pkg
	}
	return owners
}

// dpkgVersion returns the installed version of pkg, or "".
func dpkgVersion(ctx context.Context, pkg string) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Rlbuild returns the toolchain the running rlbuild was built with and
// the modules it was built from (For "rlbuild"), sorted by path.
func Rlbuild() (goVersion string, mods []manifest.GoModule) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return runtime.Version(), nil
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		mods = append(mods, manifest.GoModule{Path: d.Path, Version: d.Version, Sum: d.Sum, For: "rlbuild"})
	}
	slices.SortFunc(mods, func(a, b manifest.GoModule) int { return strings.Compare(a.Path, b.Path) })
	return runtime.Version(), mods
}

// GoSum returns the go.sum hash of module path@version recorded in the
// module at dir ("" if go.sum has none).
func GoSum(dir, path, version string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == path && f[1] == version {
			return f[2], nil
		}
	}
	return "", nil
}
