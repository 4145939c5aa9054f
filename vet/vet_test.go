package vet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"
)

func TestMain(m *testing.M) {
	// Load test packages as images are built; TestCgo turns cgo on.
	os.Setenv("CGO_ENABLED", "0")
	os.Exit(m.Run())
}

// TestAnalyzer runs the analyzer on seeded violations: each package's
// `// want` comments give the diagnostics expected at each line, and no
// others may appear; rules lists the rules each package must trigger.
func TestAnalyzer(t *testing.T) {
	testdata := analysistest.TestData()
	for _, tc := range []struct {
		pkg   string
		rules []string
	}{
		{"unsafecase", []string{"unsafe"}},
		{"directives", []string{"asm", "directive", "unsafe"}},
		{"gostmt", []string{"go"}},
		{"imports", []string{"import"}},
		{"banned", []string{"banned"}},
		{"recovercase", []string{"recover"}},
		{"globals", []string{"global"}},
		{"clean", nil},                // allowed patterns, and an import of another domain
		{"testfiles", nil},            // _test.go files are not checked
		{"spoof", []string{"import"}}, // but files that only claim to be tests or generated are
		{"kernelapi", []string{"api"}},
		{"register", []string{"api", "global"}},
		{"goroutines", []string{"banned", "go"}},
		{"aliases", []string{"global"}},
		{"state", []string{"global"}},
		{"rootdep", []string{"import"}},
		{"github.com/rlgo/redleaf/system", []string{"asm", "directive", "unsafe"}}, // the root profile
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range analysistest.Run(t, testdata, Analyzer, tc.pkg) {
				for _, d := range r.Diagnostics {
					got = append(got, d.Category)
				}
			}
			slices.Sort(got)
			if got = slices.Compact(got); !slices.Equal(got, tc.rules) {
				t.Errorf("rules reported = %q, want %q", got, tc.rules)
			}
		})
	}
}

// TestCgo checks that import "C" is caught when cgo is enabled, through the
// files cmd/cgo writes (TestCheck covers cgo disabled).
func TestCgo(t *testing.T) {
	cc, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath(strings.TrimSpace(string(cc))); err != nil {
		t.Skipf("no C compiler: %v", err)
	}
	t.Setenv("CGO_ENABLED", "1")
	analysistest.Run(t, analysistest.TestData(), Analyzer, "cgocase")
}

// writeTree writes files (slash-separated names relative to dir) into dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// moduleFiles is a small module: domains a (violations), b (clean, imports
// domain a), d (one cgo file) and f (only cgo files: with cgo disabled, the
// package has no files to load); c is not a domain; the marked packages under
// testdata, a hidden directory and a nested module are not part of it.
var moduleFiles = map[string]string{
	"go.mod": "module example.com/m\n\ngo 1.26\n",
	"a/a.go": `//rl:domain

// Package a is a domain with violations.
package a

import "os"

var count int

func Bump() string {
	count++
	return os.Getenv("HOME")
}
`,
	"a/a_test.go": `package a

import (
	"testing"
	"unsafe"
)

func TestBump(t *testing.T) { _ = unsafe.Sizeof(0); Bump() }
`,
	"b/doc.go": "//rl:domain\n\n// Package b is a clean domain.\npackage b\n",
	"b/b.go": `package b

import (
	"errors"

	"example.com/m/a"
)

var ErrEmpty = errors.New("b: empty")

func Home() (string, error) {
	if h := a.Bump(); h != "" {
		return h, nil
	}
	return "", ErrEmpty
}
`,
	"c/c.go": "// Package c is trusted code, not a domain.\npackage c\n\nimport \"os\"\n\nfunc Args() []string { return os.Args }\n",
	"d/d.go": `//rl:domain

package d

import "C"

func F() {}
`,
	"d/e.go":                "package d\n",
	"f/f.go":                "//rl:domain\n\npackage f\n\nimport \"C\"\n",
	"testdata/t/t.go":       "//rl:domain\n\npackage t\n",
	".hidden/h/h.go":        "//rl:domain\n\npackage h\n",
	"nested/go.mod":         "module example.com/nested\n",
	"nested/n.go":           "//rl:domain\n\npackage n\n",
	"_scratch/s.go":         "//rl:domain\n\npackage s\n",
	"c/notes_test.go":       "//rl:domain\n\npackage c\n",
	"c/sub/not_a_domain.go": "// rl:domain is not the directive, with the space.\npackage sub\n",
}

func TestDomainPackages(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, moduleFiles)
	got, err := DomainPackages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"example.com/m/a", "example.com/m/b", "example.com/m/d", "example.com/m/f"}
	if !slices.Equal(got, want) {
		t.Errorf("DomainPackages = %q, want %q", got, want)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, moduleFiles)

	check := func(patterns ...string) []string {
		t.Helper()
		diags, err := Check(dir, Options{Packages: patterns})
		if err != nil {
			t.Fatalf("Check(%q): %v", patterns, err)
		}
		var lines []string
		for _, d := range diags {
			lines = append(lines, d.String())
		}
		return lines
	}
	expect := func(got, want []string) {
		t.Helper()
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = strings.HasPrefix(got[i], want[i])
		}
		if !ok {
			t.Errorf("diagnostics:\n%s\nwant (prefixes):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	// No patterns: the module's domains. Sorted by file and line.
	got := check()
	expect(got, []string{
		`a/a.go:6:8: import: domains may not import "os": it gives ambient authority over files, processes and the environment of the whole system`,
		`a/a.go:11:2: global: increments package-level var count: package-level variables are shared by every instance of the domain`,
		`d/d.go:5:8: cgo: domains may not use cgo (import "C"): C code runs outside Go's memory safety`,
		`f/f.go:5:8: cgo: domains may not use cgo (import "C")`,
	})
	if len(got) > 0 {
		if want := `a/a.go:6:8: import: domains may not import "os": it gives ambient authority over files, processes and the environment of the whole system`; got[0] != want {
			t.Errorf("got  %s\nwant %s", got[0], want)
		}
	}

	// A package named explicitly is checked as a domain whatever it is.
	expect(check("./c", "./b"), []string{
		`c/c.go:4:8: import: domains may not import "os"`,
		`c/c.go:6:31: global: lets a reference into package-level var os.Args ([]string) escape, copied`,
	})

	if _, err := Check(dir, Options{Packages: []string{"./nosuch"}}); err == nil {
		t.Error("Check of a missing package: no error")
	}
}

// A domain that makes a Manager of its own is rejected: this needs the
// real kernel/domain package, so it checks a package of this module.
func TestNewManagerBanned(t *testing.T) {
	diags, err := Check("..", Options{Packages: []string{"./vet/testdata/newmanager"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		"vet/testdata/newmanager/newmanager.go:10:20: api: domains may not use kernel/domain.Manager: it is kernel-only API",
		"vet/testdata/newmanager/newmanager.go:10:44: api: domains may not use kernel/domain.NewManager: it is kernel-only API",
	}
	if len(got) != len(want) || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
		t.Errorf("diagnostics:\n%s\nwant (prefixes):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// imageFiles is a module with this repository's path, so that the profiles
// apply: cmd/rlkernel links the composition root, the kernel, a domain
// with a file for arm64 only, an unmarked package that registers a
// program, and marked packages in directories the go command's patterns
// skip. Test files under vet/ are copied in as needed.
var imageFiles = map[string]string{
	"go.mod": "module github.com/rlgo/redleaf\n\ngo 1.26\n",
	"kernel/domain/domain.go": `// Package domain stands in for the kernel's.
package domain

import "unsafe"

type Context struct{}

func Register[I any](name string, new func(*Context) (I, error)) { _ = unsafe.Sizeof(name) }
`,
	"system/system.go": `// Package system is the composition root: os, go and recover are its to use.
package system

import "os"

func Boot() {
	go func() {
		defer func() { recover() }()
		os.Exit(0)
	}()
}
`,
	"cmd/rlkernel/main.go": `package main

import (
	_ "github.com/rlgo/redleaf/_x/hidden"
	_ "github.com/rlgo/redleaf/drivers/d"
	_ "github.com/rlgo/redleaf/progs/evil"
	"github.com/rlgo/redleaf/system"
	_ "github.com/rlgo/redleaf/testdata/marked"
)

func main() { system.Boot() }
`,
	"drivers/d/d.go": "//rl:domain\n\n// Package d is a driver domain.\npackage d\n",
	"drivers/d/x_arm64.go": `package d

import (
	"os"
	_ "unsafe"
)

//go:linkname nanotime runtime.nanotime
func nanotime() int64

func init() {
	go os.Exit(1)
}
`,
	"progs/evil/evil.go": `// Package evil is not marked, and registers a program.
package evil

import (
	"os"

	"github.com/rlgo/redleaf/kernel/domain"
)

type prog struct{}

func newProg(*domain.Context) (*prog, error) { os.Exit(1); return nil, nil }

func init() { domain.Register("prog/evil", newProg) }
`,
	"_x/hidden/hidden.go":       "//rl:domain\n\npackage hidden\n\nfunc init() { go func() {}() }\n",
	"testdata/marked/marked.go": "//rl:domain\n\npackage marked\n\nfunc F() { defer func() { recover() }() }\n",
}

// TestImage checks what an image links, for the image's architecture.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, imageFiles)
	check := func(o Options) []string {
		t.Helper()
		o.Programs = []string{"./cmd/rlkernel"}
		diags, err := Check(dir, o)
		if err != nil {
			t.Fatalf("Check(%+v): %v", o, err)
		}
		var lines []string
		for _, d := range diags {
			lines = append(lines, fmt.Sprintf("%s:%d: %s", d.Pos.Filename, d.Pos.Line, d.Rule))
		}
		return lines
	}
	linked := []string{
		"_x/hidden/hidden.go:5: go",
		"progs/evil/evil.go:5: import",
		"testdata/marked/marked.go:5: recover",
	}
	arm64 := []string{
		"drivers/d/x_arm64.go:4: import",
		"drivers/d/x_arm64.go:5: unsafe",
		"drivers/d/x_arm64.go:8: directive",
		"drivers/d/x_arm64.go:9: asm",
		"drivers/d/x_arm64.go:12: go",
	}
	if got := check(Options{GOOS: "linux", GOARCH: "amd64"}); !slices.Equal(got, linked) {
		t.Errorf("linux/amd64:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(linked, "\n"))
	}
	want := append(append([]string(nil), linked[:1]...), arm64...)
	want = append(want, linked[1:]...)
	if got := check(Options{GOOS: "linux", GOARCH: "arm64"}); !slices.Equal(got, want) {
		t.Errorf("linux/arm64:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// rlbuild vet takes the architecture from the environment.
	t.Setenv("GOARCH", "arm64")
	if got := check(Options{GOOS: "linux"}); !slices.Equal(got, want) {
		t.Errorf("GOARCH=arm64 in the environment:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestImageUncheckable checks that a linked package that cannot be loaded
// makes the check fail, rather than go unchecked.
func TestImageUncheckable(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"go.mod":               "module github.com/rlgo/redleaf\n\ngo 1.26\n",
		"cmd/rlkernel/main.go": "package main\n\nimport _ \"github.com/rlgo/redleaf/drivers/d\"\n\nfunc main() {}\n",
		"drivers/d/d.go":       "//rl:domain\n\npackage d\n",
		"drivers/d/x_arm64.go": "package d\n\nvar x int = \"not an int\"\n",
	})
	o := Options{Programs: []string{"./cmd/rlkernel"}, GOOS: "linux", GOARCH: "amd64"}
	if _, err := Check(dir, o); err != nil {
		t.Fatalf("linux/amd64: %v", err)
	}
	o.GOARCH = "arm64"
	_, err := Check(dir, o)
	if err == nil || !strings.Contains(err.Error(), "x_arm64.go") {
		t.Errorf("linux/arm64: err = %v, want one naming x_arm64.go", err)
	}
}

// TestModule checks this repository as rlbuild vet and rlbuild image do:
// its domains and everything the kernel links, for both architectures
// images are built for. A violation in the tree fails it.
func TestModule(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the whole kernel twice (a few seconds)")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		diags, err := Check("..", Options{Programs: []string{"./cmd/rlkernel"}, GOOS: "linux", GOARCH: arch})
		if err != nil {
			t.Fatalf("linux/%s: %v", arch, err)
		}
		for _, d := range diags {
			t.Errorf("linux/%s: %s", arch, d)
		}
	}
}

// BenchmarkCheckModule times the checks of this repository: its marked
// domains alone (what rlbuild vet checked before it checked what the
// kernel links), and the image check (domains and every package of the
// module that cmd/rlkernel links), for linux/amd64 and linux/arm64.
func BenchmarkCheckModule(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    Options
	}{
		{"domains", Options{GOOS: "linux", GOARCH: "amd64"}},
		{"image-amd64", Options{Programs: []string{"./cmd/rlkernel"}, GOOS: "linux", GOARCH: "amd64"}},
		{"image-arm64", Options{Programs: []string{"./cmd/rlkernel"}, GOOS: "linux", GOARCH: "arm64"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Check("..", bc.o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
