package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/images/manifest"
)

// builder is one way a user or a CI system may build: what differs
// between builders and must not reach the artifacts.
type builder struct {
	name     string
	umask    os.FileMode // for the checkout's files and for rlbuild
	checkout string      // path of the checkout below the test's temp dir
	tz, lang string
	// emptyCache gives the build an empty GOCACHE, so /init is compiled
	// from nothing (the standard library included); otherwise the test's
	// own warm cache is used.
	emptyCache bool
	// hostileHome puts settings into HOME that a build must ignore: a
	// `go env -w` file raising GOAMD64 and adding a build tag, and an
	// ~/.mtoolsrc.
	hostileHome bool
}

// The default config built by two builders that differ in umask, HOME,
// checkout path, Go build cache (warm and empty), time zone and locale
// gives byte-identical artifacts, manifest included.
func TestReproducibleAcrossBuilders(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the default image twice, once with an empty Go build cache")
	}
	builders := []builder{
		{name: "A", umask: 0o022, checkout: "a/redleaf", tz: "UTC", lang: "C.UTF-8"},
		{name: "B", umask: 0o077, checkout: "b/home/ci/work/another-checkout", tz: "Pacific/Chatham", lang: "de_DE.UTF-8",
			emptyCache: true, hostileHome: true},
	}
	var outs []string
	for _, b := range builders {
		outs = append(outs, buildAs(t, b))
	}
	if diffs := compareTrees(t, outs[0], outs[1]); len(diffs) > 0 {
		r := rl(t, nil, "image", "--explain-diff", outs[0], outs[1])
		t.Fatalf("builders A and B gave different artifacts: %s\nrlbuild image --explain-diff:\n%s%s", strings.Join(diffs, ", "), r.stdout, r.stderr)
	}
	m, err := manifest.Load(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	checkInputs(t, m)
	r := rl(t, nil, "image", "--explain-diff", outs[0], filepath.Join(outs[1], manifest.FileName))
	if r.code != 0 || !strings.Contains(r.stdout, "same:") {
		t.Errorf("--explain-diff of two equal builds: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// buildAs copies the module tree as b would check it out and builds the
// default config there as b, returning the artifacts directory.
func buildAs(t *testing.T, b builder) string {
	t.Helper()
	top := t.TempDir()
	src := filepath.Join(top, filepath.FromSlash(b.checkout))
	copyTree(t, root, src, b.umask)
	home := filepath.Join(top, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if b.hostileHome {
		writeFile(t, filepath.Join(home, ".config", "go", "env"), "GOAMD64=v3\nGOFLAGS=-tags=hostile\nGOEXPERIMENT=\n")
		writeFile(t, filepath.Join(home, ".mtoolsrc"), "mtools_lower_case=1\nmtools_twenty_four_hour_clock=0\n")
	}
	cache := goEnv(t, "GOCACHE")
	if b.emptyCache {
		cache = filepath.Join(top, "gocache")
	}
	// HOME moves, so the module cache is named: a build must not need
	// the network for modules the test's own build already has.
	env := []string{
		"HOME=" + home, "TZ=" + b.tz, "LANG=" + b.lang, "LC_ALL=" + b.lang,
		"GOCACHE=" + cache, "GOMODCACHE=" + goEnv(t, "GOMODCACHE"), "GOPATH=" + goEnv(t, "GOPATH"),
		"SOURCE_DATE_EPOCH=1700000000",
	}
	out := filepath.Join(top, "out")
	umask := fmt.Sprintf("%04o", uint32(b.umask))
	cmd := exec.Command("sh", "-c", `umask "$1" && shift && exec "$@"`, "sh",
		umask, rlbuild, "image", "--config", "configs/qemu.yaml", "--out", out)
	cmd.Dir = src
	cmd.Env = append(builderEnv(), env...)
	start := time.Now()
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("builder %s: rlbuild image: %v\n%s", b.name, err, output)
	}
	t.Logf("builder %s (umask %s, GOCACHE %s): built in %.1fs", b.name, umask,
		map[bool]string{true: "empty", false: "warm"}[b.emptyCache], time.Since(start).Seconds())
	return out
}

// builderEnv is the test's environment without anything a builder sets.
func builderEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME" || k == "TZ" || k == "LANG" || strings.HasPrefix(k, "LC_"),
			k == "XDG_CONFIG_HOME" || k == "GOENV" || k == "GOFLAGS" || k == "SOURCE_DATE_EPOCH",
			k == "GOCACHE" || k == "GOMODCACHE" || k == "GOPATH" || strings.HasPrefix(k, "RLBUILD_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the module tree at from (the files git knows, tracked or
// not ignored; every file but .git and out/ without git) to to, with the
// modes a checkout under umask gets: 0666 or 0777 (executable) and
// directories 0777, less umask.
func copyTree(t *testing.T, from, to string, umask os.FileMode) {
	t.Helper()
	var files []string
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = from
	if out, err := cmd.Output(); err == nil {
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if f != "" {
				files = append(files, filepath.FromSlash(f))
			}
		}
	} else {
		err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(from, p)
			if d.IsDir() && (d.Name() == ".git" || rel == "out") {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range files {
		src := filepath.Join(from, rel)
		st, err := os.Lstat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or a link
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o777&^umask); err != nil {
			t.Fatal(err)
		}
		perm := os.FileMode(0o666)
		if st.Mode()&0o111 != 0 {
			perm = 0o777
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dst, perm&^umask); err != nil {
			t.Fatal(err)
		}
	}
	// MkdirAll's mode is filtered by the test's umask: set it exactly.
	err := filepath.WalkDir(to, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o777&^umask)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compareTrees compares every file below a and b byte for byte and
// returns the relative paths that differ or exist on one side only.
func compareTrees(t *testing.T, a, b string) []string {
	t.Helper()
	list := func(dir string) []string {
		var files []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	fa, fb := list(a), list(b)
	if len(fa) < 7 {
		t.Fatalf("only %d files in %s: %v", len(fa), a, fa)
	}
	var diffs []string
	for _, f := range fa {
		if !slices.Contains(fb, f) {
			diffs = append(diffs, f+" (only in A)")
			continue
		}
		x, errx := os.ReadFile(filepath.Join(a, f))
		y, erry := os.ReadFile(filepath.Join(b, f))
		if errx != nil || erry != nil {
			t.Fatal(errx, erry)
		}
		if !bytes.Equal(x, y) {
			diffs = append(diffs, f)
		}
	}
	for _, f := range fb {
		if !slices.Contains(fa, f) {
			diffs = append(diffs, f+" (only in B)")
		}
	}
	return diffs
}

// checkInputs checks that the manifest names the inputs it promises.
func checkInputs(t *testing.T, m *manifest.Manifest) {
	t.Helper()
	in := m.Inputs
	if in == nil {
		t.Fatal("manifest records no inputs")
	}
	if !strings.HasPrefix(in.Go, "go1.") || !strings.HasPrefix(in.RlbuildGo, "go1.") || len(in.InitSHA256) != 64 {
		t.Errorf("inputs: go %q, rlbuild_go %q, init_sha256 %q", in.Go, in.RlbuildGo, in.InitSHA256)
	}
	want := map[string]string{
		"golang.org/x/sys":                "init",
		"github.com/gokrazy/kernel.amd64": "linux",
		"github.com/u-root/mkuimage":      "rlbuild",
		"github.com/diskfs/go-diskfs":     "rlbuild",
		"github.com/klauspost/compress":   "rlbuild",
	}
	for _, mod := range in.Modules {
		if want[mod.Path] == mod.For && mod.Version != "" && mod.Sum != "" {
			delete(want, mod.Path)
		}
	}
	if len(want) > 0 {
		t.Errorf("modules missing from the manifest (path: for): %v", want)
	}
	settings := map[string]string{}
	for _, s := range in.GoSettings {
		settings[s.Key] = s.Value
	}
	if settings["GOAMD64"] != "v1" || settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("go settings %v", settings)
	}
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		return
	}
	pkgs := map[string]string{}
	for _, p := range in.Packages {
		pkgs[p.Name] = p.Version
	}
	for _, name := range []string{"systemd-boot-efi:amd64", "syslinux", "syslinux-common", "mtools"} {
		if _, ok := pkgs[name]; !ok {
			if _, ok := pkgs[strings.TrimSuffix(name, ":amd64")]; !ok {
				t.Errorf("package %s not in the manifest's inputs: %v", name, pkgs)
			}
		}
	}
}

// --explain-diff names what differs between two builds and says so by
// its exit status.
func TestExplainDiff(t *testing.T) {
	mk := func(initrd, goVersion string) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "vmlinuz"), "kernel")
		writeFile(t, filepath.Join(dir, "initrd.img"), initrd)
		m := &manifest.Manifest{Name: "qemu", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.img", Boot: []string{"kernel"},
			ConfigHash: "c0ffee", Inputs: &manifest.Inputs{Go: goVersion, RlbuildGo: "go1.26.8", InitSHA256: "aa"}}
		for _, p := range []string{"vmlinuz", "initrd.img"} {
			if err := m.Add(dir, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Write(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b := mk("initrd one", "go1.26.8"), mk("initrd two", "go1.26.7")
	r := rl(t, nil, "image", "--explain-diff", a, b)
	if r.code != 1 || !strings.Contains(r.stdout, "go (toolchain of /init)\n    A: go1.26.8\n    B: go1.26.7") ||
		!strings.Contains(r.stdout, "artifacts that differ:\n  initrd.img") || strings.Contains(r.stdout, "vmlinuz") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := rl(t, nil, "image", "--explain-diff", a, filepath.Join(a, manifest.FileName)); r.code != 0 || !strings.Contains(r.stdout, "same:") {
		t.Errorf("same build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := rl(t, nil, "image", "--explain-diff", a, filepath.Join(t.TempDir(), "missing")); r.code != 2 || !strings.Contains(r.stderr, "missing does not exist") {
		t.Errorf("missing build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := rl(t, nil, "image", "--explain-diff", a); r.code == 0 || !strings.Contains(r.stderr, "takes two builds") {
		t.Errorf("one argument: exit %d\n%s", r.code, r.stderr)
	}
}
