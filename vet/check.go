package vet

import (
	"cmp"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// A Diagnostic is one violation of a domain-safety rule.
type Diagnostic struct {
	Pos     token.Position // file name relative to Check's dir when inside it
	Rule    string         // unsafe, cgo, asm, directive, go, import, banned, global, recover
	Message string         // what and why
}

// String formats d as "file:line:col: rule: what and why".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Rule, d.Message)
}

// Options say what Check checks, and for which build.
type Options struct {
	// Packages are go/packages patterns (relative to the module root) of
	// packages to check, each by its profile (profile.go). None: the
	// module's domains (DomainPackages).
	Packages []string
	// Programs are patterns of programs (such as ./cmd/rlkernel) whose
	// every package of the module is checked by its profile: what an image
	// links, marked //rl:domain or not, in a directory the go command's
	// patterns skip (_x, testdata) or not.
	Programs []string
	// GOOS and GOARCH are the target's; empty means the environment's.
	// Build constraints (x_arm64.go, //go:build) select files for them as
	// for the build, so an image is checked for its own architecture.
	GOOS, GOARCH string
}

// Check checks the packages o names, loaded with go/packages in dir, the
// root of a module. It returns the diagnostics sorted by file, line and
// column; an error means the check could not be done (packages that do
// not load or type-check, a linked package it could not check), not that
// it found violations.
//
// Packages are loaded with CGO_ENABLED=0, as images are built: no C
// compiler is needed, and import "C" is still reported.
func Check(dir string, o Options) ([]Diagnostic, error) {
	patterns := o.Packages
	if len(patterns) == 0 {
		var err error
		if patterns, err = DomainPackages(dir); err != nil {
			return nil, err
		}
		if len(patterns) == 0 && len(o.Programs) == 0 {
			return nil, nil
		}
	}
	env := append(os.Environ(), "CGO_ENABLED=0")
	if o.GOOS != "" {
		env = append(env, "GOOS="+o.GOOS)
	}
	if o.GOARCH != "" {
		env = append(env, "GOARCH="+o.GOARCH)
	}
	base := absDir(dir)
	cfg := &packages.Config{
		Mode:      packages.LoadAllSyntax | packages.NeedModule, // facts need the dependencies' syntax
		Dir:       dir,
		Env:       env,
		ParseFile: parseTrimmed,
	}
	all := append(append([]string(nil), patterns...), o.Programs...)
	pkgs, err := packages.Load(cfg, all...)
	if err != nil {
		return nil, fmt.Errorf("vet: loading %s: %w", strings.Join(all, " "), err)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("vet: no packages match %s in %s", strings.Join(all, " "), dir)
	}
	// With cgo disabled, a package whose every file imports "C" does not
	// load: report its imports of "C" here instead.
	var diags []Diagnostic
	pkgs = slices.DeleteFunc(pkgs, func(p *packages.Package) bool {
		d := cgoOnly(p)
		diags = append(diags, d...)
		return len(d) > 0
	})
	var loadErrs []error
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			if e.Kind == packages.TypeError && trimmed(p) {
				continue // unused imports of bodies parseTrimmed dropped
			}
			loadErrs = append(loadErrs, e)
		}
	})
	if len(loadErrs) > 0 {
		return nil, fmt.Errorf("vet: packages do not load: %w", errors.Join(loadErrs...))
	}

	// The roots: the packages named, and every package of the main module
	// that the programs link.
	roots := make(map[string]*packages.Package)
	for _, p := range pkgs {
		roots[p.ID] = p
	}
	if len(o.Programs) > 0 {
		var main *packages.Module
		for _, p := range pkgs {
			if p.Module != nil && p.Module.Main {
				main = p.Module
			}
		}
		packages.Visit(pkgs, nil, func(p *packages.Package) {
			if p.Module != nil && main != nil && p.Module.Path == main.Path {
				roots[p.ID] = p
			}
		})
	}
	var list []*packages.Package
	for _, p := range roots {
		if len(p.GoFiles) > 0 && len(p.Syntax) == 0 || p.Types == nil || p.TypesInfo == nil {
			return nil, fmt.Errorf("vet: %s is linked but could not be checked (no syntax or types); refusing rather than skipping it", p.PkgPath)
		}
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b *packages.Package) int { return cmp.Compare(a.ID, b.ID) })
	wanted := make(map[string]bool)
	for _, p := range list {
		wanted[p.PkgPath] = true
	}
	an := newAnalyzer(func(path string) bool { return wanted[path] })
	graph, err := checker.Analyze([]*analysis.Analyzer{an}, list, nil)
	if err != nil {
		return nil, fmt.Errorf("vet: %w", err)
	}
	for _, act := range graph.Roots {
		if act.Err != nil {
			return nil, fmt.Errorf("vet: %s: %w", act.Package.PkgPath, act.Err)
		}
		for _, d := range act.Diagnostics {
			diags = append(diags, Diagnostic{
				Pos:     act.Package.Fset.Position(d.Pos),
				Rule:    d.Category,
				Message: strings.TrimPrefix(d.Message, d.Category+": "),
			})
		}
	}
	for i := range diags {
		if rel, err := filepath.Rel(base, diags[i].Pos.Filename); err == nil && filepath.IsLocal(rel) {
			diags[i].Pos.Filename = rel
		}
	}
	slices.SortFunc(diags, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message))
	})
	// A package and its test variant would report the same thing twice.
	return slices.Compact(diags), nil
}

// parseTrimmed parses the standard library's files without function
// bodies, and the others whole: the checker needs only the standard
// library's declarations (it trusts the rest), and type-checking its
// bodies would double the time and memory of a check.
func parseTrimmed(fset *token.FileSet, name string, src []byte) (*ast.File, error) {
	const mode = parser.AllErrors | parser.ParseComments | parser.SkipObjectResolution
	if !inGOROOTFile(name) {
		return parser.ParseFile(fset, name, src, mode)
	}
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if f != nil {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				fd.Body = nil
			}
		}
	}
	return f, err
}

// inGOROOTFile reports whether the file name is in the standard library.
func inGOROOTFile(name string) bool {
	return goroot != "" && strings.HasPrefix(name, filepath.Join(goroot, "src")+string(filepath.Separator))
}

// trimmed reports whether p's files were parsed without bodies.
func trimmed(p *packages.Package) bool {
	return len(p.CompiledGoFiles) > 0 && inGOROOTFile(p.CompiledGoFiles[0])
}

// cgoOnly returns the imports of "C" of a package that has no Go files
// but ignored ones, as when all of them use cgo and cgo is disabled.
func cgoOnly(p *packages.Package) []Diagnostic {
	if len(p.GoFiles) > 0 {
		return nil
	}
	var diags []Diagnostic
	fset := token.NewFileSet()
	for _, name := range p.IgnoredFiles {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			continue
		}
		for _, spec := range f.Imports {
			if spec.Path.Value == `"C"` {
				diags = append(diags, Diagnostic{Pos: fset.Position(spec.Path.Pos()), Rule: "cgo", Message: cgoMessage})
			}
		}
	}
	return diags
}

// absDir returns dir made absolute with symbolic links resolved, as the go
// command reports file names.
func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir
}

// DomainPackages lists, sorted, the import paths of the domain packages of
// the module rooted at dir: those with a non-test Go file whose comments
// before the package clause include the line //rl:domain. It skips testdata,
// vendor, directories whose name starts with "." or "_", and nested modules.
func DomainPackages(dir string) ([]string, error) {
	gomod := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return nil, fmt.Errorf("vet: %s is not a module root: %w", dir, err)
	}
	mod := modfile.ModulePath(data)
	if mod == "" {
		return nil, fmt.Errorf("vet: %s has no module line", gomod)
	}
	var paths []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != dir {
			name := d.Name()
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		marked, err := markedDomain(path)
		if err != nil || !marked {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			paths = append(paths, mod)
		} else {
			paths = append(paths, mod+"/"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vet: finding domain packages: %w", err)
	}
	slices.Sort(paths)
	return paths, nil
}

// markedDomain reports whether a non-test Go file in dir carries the domain
// mark. Only package clauses and the comments before them are parsed.
func markedDomain(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return false, err
		}
		if hasDomainMark(f) {
			return true, nil
		}
	}
	return false, nil
}
