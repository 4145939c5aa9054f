package vet

import (
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
