// Package vet is the domain-safety checker: it rejects, at build time, code
// linked into the domain kernel that is not safe Go.
//
// RedLeaf domains are isolated by the language, not by page tables: a domain
// is a Go package the kernel instantiates with only the capabilities it is
// handed (interface references, RRefs, devices). That holds only if domain
// code can neither break memory safety nor reach anything it was not given,
// nor share state with other instances of itself, nor run outside the
// threads the kernel gave it.
//
// # What is checked, and how
//
// Every package linked into the kernel is checked by its profile, which its
// import path alone decides (profile.go), never a mark it could put on
// itself:
//
//   - trusted: kernel/... (the trusted base: unsafe, system calls, devices)
//     and the standard library are not checked.
//   - root: the composition root (system/..., cmd/rlkernel), the 82599
//     device model (drivers/ixgbe/model), idl (interfaces and the generated
//     proxies) and version: the unsafe, cgo, asm and directive rules. They
//     may use the kernel's whole API, os, goroutines and recover.
//   - domain: every other package of the module, marked //rl:domain or
//     not, in a directory the go command's patterns skip (_x, testdata,
//     .hidden) or not: all the rules below.
//
// Check (rlbuild vet, and rlbuild image before it publishes an image) loads
// the module's domains and every package of the module that the programs it
// is given (./cmd/rlkernel) link, for the target's GOOS and GOARCH, so that
// build constraints (x_arm64.go, //go:build) pick the files the image
// compiles. A linked package that does not load or type-check is an error,
// never a skipped package.
//
// # The rules (rule: what)
//
// In the non-test Go files of a domain package:
//
//   - unsafe: importing "unsafe".
//   - cgo: import "C", and C, C++, Fortran, SWIG or object files. import "C"
//     is caught whether cgo is enabled (in the files cmd/cgo writes) or not
//     (in the files the build ignores).
//   - asm: assembly files, and functions declared without a body (their code
//     comes from assembly or from elsewhere through the linker).
//   - directive: compiler directives other than //go:build, go:generate, and
//     the go: directives embed, noinline, nosplit, norace and fix, which cannot
//     break safety. Among the rejected: go:linkname (reaches any symbol of
//     any package), go:noescape, go:uintptrescapes and go:nocheckptr
//     (unchecked claims about pointers), go:debug (runtime settings of the
//     whole image, kernel included), go:wasmimport and cgo's directives.
//   - go: goroutines the kernel did not start. A domain's threads come from
//     the kernel's spawn call, so that a panic on them is caught and
//     attributed to the domain. Refused: go statements, and types of domain
//     code that implement context.Context (the context package calls a
//     parent's methods on a goroutine of its own: goroutines.go).
//   - import: imports outside the allowlist of imports.go: pure standard
//     packages, the kernel's domain API (idl, kernel/domain, kernel/rref,
//     kernel/faults, kernel/hw) and other packages marked //rl:domain. Any
//     other package of kernel/... and of the composition root is kernel-only,
//     marked or not. Denied among others: os, syscall, net, plugin, log,
//     runtime (all of it: it controls what every domain shares, and
//     finalizers run domain code on the runtime's goroutine) and reflect (all
//     of it: even read-only reflection reads unexported fields, which
//     capabilities rely on to hide what they hold).
//   - api: names of the kernel's packages that are not on the allowlist of
//     kernelapi.go, by exported name (rref.Move, domain.RegisterProxy,
//     domain.Connect, rref.Account.Close, hw.NewBuffer...), in any spelling
//     the type checker resolves (calls, values, embedding, type arguments),
//     and interface methods that a kernel-only method would satisfy. And
//     domain.Register (or a function that calls it, such as ulib.Register)
//     called anywhere but from the package-level init function of the
//     package that registers, or taken as a value: every kind is registered
//     before the first domain starts, by its own package.
//   - banned: functions of allowed packages that use ambient authority or
//     start goroutines: fmt.Print*, fmt.Scan*, the print and println
//     built-ins, time.LoadLocation, time.AfterFunc, context.AfterFunc,
//     (*sync.WaitGroup).Go (by name, or any method Go(func()) called through
//     an interface or type parameter). time.Sleep, timers and the clock are
//     fine.
//   - global: state every instance of a domain would share (globals.go,
//     initializers.go): package-level variables, the domain's and the
//     standard library's (unicode.Upper, base64.StdEncoding, time.UTC),
//     written after initialization or whose references escape (aliases,
//     copies of structs holding maps, value receivers, arguments); writes
//     through pointers to shared immutable types; function values made by
//     calls (closures, sync.OnceValue) or bound methods in package-level
//     variables; sentinel errors whose methods could change them; and
//     constructors given to domain.Register that capture init's locals.
//     Sentinel errors of the standard library, tables filled in their
//     declaration and read-only variables are fine; package-level mutexes
//     are not.
//   - recover: calls of recover. The kernel ends a failed or terminated
//     domain by unwinding its threads with a panic, which its proxies turn
//     into an error for the caller; a domain that recovers could swallow it
//     and keep running. Domains report failure with errors, or die.
//
// In a package of the root profile: the unsafe, cgo, asm and directive
// rules.
//
// Test files (_test.go) are not checked: tests run on the host, not in the
// image, and may use os and friends. Files excluded by build constraints
// are not checked either, except for import "C"; the checker sees the
// configuration it is loaded with (GOOS, GOARCH), as the image build does.
// Files generated by cmd/cgo and go test are the toolchain's, not the
// domain's: only the domain's code in them is checked.
//
// Limits: the checker makes domain code safe Go; it cannot make it correct
// Go. Data races on memory a domain shares with its own threads, unbounded
// recursion and endless loops are left to the kernel (the Go runtime's race
// and stack checks, deadlines, the watchdog). The global rule follows
// references one level deep (see globals.go). The api rule works on names:
// a value of a kernel type that no domain API hands out, reached through an
// interface the kernel's API defines, is the kernel's to refuse at run
// time (forged or unknown accounts, holders, crossings). Standard packages
// are trusted and never checked.
//
// Which packages are domains: a package is a domain if a comment before the
// package clause of one of its files is the directive line
//
//	//rl:domain
//
// DomainPackages lists them. The Analyzer records the mark as a package
// fact, so that a domain may import another domain; the mark changes no
// profile.
package vet

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// Analyzer checks each package it is run on by its profile (see
// profile.go): packages of the composition root with the root profile,
// kernel/... not at all, every other package as a domain. Its diagnostics
// read "rule: what and why"; Category holds the rule.
var Analyzer = newAnalyzer(nil)

// newAnalyzer returns the checker's analyzer. If wanted is not nil, only the
// packages it accepts are checked; the others (dependencies) only record
// their domain mark.
func newAnalyzer(wanted func(path string) bool) *analysis.Analyzer {
	return &analysis.Analyzer{
		Name:      "domainsafe",
		Doc:       "check that domain packages are safe Go: no unsafe, cgo, assembly, linkname, goroutines of their own, ambient authority, kernel-only API or shared package state",
		URL:       "https://github.com/rlgo/redleaf/tree/main/vet",
		Requires:  []*analysis.Analyzer{inspect.Analyzer},
		FactTypes: []analysis.Fact{new(isDomain), new(registers)},
		// Check type-checks the standard library without function bodies
		// (parseTrimmed), which leaves its imports unused: its packages
		// are ill-typed, and skipped. Check refuses any other package
		// with errors before analysis.
		RunDespiteErrors: true,
		Run:              func(pass *analysis.Pass) (any, error) { return run(pass, wanted) },
	}
}

// isDomain is the package fact of packages marked //rl:domain.
type isDomain struct{ Domain bool }

func (*isDomain) AFact()         {}
func (*isDomain) String() string { return "domain" }

// domainMark is the directive that makes a package a domain.
const domainMark = "//rl:domain"

// hasDomainMark reports whether a comment before f's package clause is the
// domain mark. f may have been parsed with parser.PackageClauseOnly.
func hasDomainMark(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() > f.Package {
			break
		}
		for _, c := range g.List {
			if c.Text == domainMark || strings.HasPrefix(c.Text, domainMark+" ") {
				return true
			}
		}
	}
	return false
}

// A domainCheck holds one pass over one package.
type domainCheck struct {
	pass     *analysis.Pass
	profile  profile // root or domain
	reported map[report]bool
	fields   map[*types.Var]string // kernel struct fields to their type's name (kernelapi.go)
}

// A report is a position and rule already reported.
type report struct {
	pos  token.Pos
	rule string
}

func (c *domainCheck) report(pos token.Pos, rule, format string, args ...any) {
	key := report{pos, rule}
	if c.reported[key] {
		return // e.g. import "C" seen both in cgo's output and as an ignored file
	}
	c.reported[key] = true
	c.pass.Report(analysis.Diagnostic{Pos: pos, Category: rule, Message: rule + ": " + fmt.Sprintf(format, args...)})
}

func run(pass *analysis.Pass, wanted func(string) bool) (any, error) {
	for _, f := range pass.Files {
		if check, _ := classify(pass, f); check && hasDomainMark(f) {
			pass.ExportPackageFact(&isDomain{Domain: true})
			break
		}
	}
	// The analyzer also runs on every dependency, to gather facts. The
	// standard library is trusted and never a domain: skip its files.
	if inGOROOT(pass) {
		return nil, nil
	}
	prof := profileOf(pass.Pkg.Path())
	if prof == trusted {
		return nil, nil
	}
	exportRegisters(pass)
	if wanted != nil && !wanted(pass.Pkg.Path()) {
		return nil, nil
	}
	c := &domainCheck{pass: pass, profile: prof, reported: make(map[report]bool)}
	var files []inspector.Cursor
	root := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector).Root()
	for fc := range root.Children() {
		f := fc.Node().(*ast.File)
		check, cgoOutput := classify(pass, f)
		if !check {
			continue
		}
		files = append(files, fc)
		for _, spec := range f.Imports {
			c.checkImport(spec, cgoOutput)
		}
		c.checkDirectives(f)
		c.checkCode(fc)
	}
	c.checkOtherFiles()
	if prof == domain {
		c.checkGlobals(files)
		c.checkInitializers(files)
		c.checkTypes(files)
		c.checkKernelInterfaces(files)
	}
	return nil, nil
}

// checkCode applies the rules that look at statements and expressions.
// Packages of the root profile get only the asm rule.
func (c *domainCheck) checkCode(file inspector.Cursor) {
	for cur := range file.Preorder((*ast.GoStmt)(nil), (*ast.FuncDecl)(nil), (*ast.CallExpr)(nil), (*ast.Ident)(nil)) {
		if _, ok := cur.Node().(*ast.FuncDecl); !ok && c.profile == root {
			continue
		}
		switch n := cur.Node().(type) {
		case *ast.GoStmt:
			c.report(n.Go, "go", "domains may not start goroutines with a go statement: threads come from the kernel's spawn call, so that a panic on them is caught and attributed to the domain")
		case *ast.FuncDecl:
			if n.Body == nil {
				c.report(n.Name.Pos(), "asm", "function %s has no body: its code is assembly or linked in from elsewhere, outside the compiler's checks", n.Name.Name)
			}
		case *ast.CallExpr:
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && id.Name == "recover" && c.pass.TypesInfo.Uses[id] == types.Universe.Lookup("recover") {
				c.report(n.Pos(), "recover", "domains may not call recover: the kernel ends a failed or terminated domain by unwinding its threads with a panic that its proxies turn into an error; recovering could swallow it")
			}
		case *ast.Ident:
			c.checkBanned(n)
			c.checkKernelAPI(cur)
		}
	}
}

// classify says whether f is checked, and whether cmd/cgo wrote it from a
// domain source file.
//
// The go command writes some of the files it type-checks: with cgo enabled,
// a package's files that import "C" are replaced by cmd/cgo's rewrites of
// them, whose //line directives map back to the originals (checked as
// those), and by cgo's own files (_cgo_gotypes.go, _cgo_import.go; skipped,
// they are the toolchain's); go test adds a test main (skipped). Such files
// are named by a build cache entry, which does not end in ".go", or start
// with "_", which the go command never takes from a package's directory.
// Everything else is the domain's own, whatever its comments say.
func classify(pass *analysis.Pass, f *ast.File) (check, cgoOutput bool) {
	read := pass.Fset.File(f.Pos()).Name()
	source := pass.Fset.Position(f.Package).Filename // after //line directives
	name := read
	if !strings.HasSuffix(read, ".go") || strings.HasPrefix(filepath.Base(read), "_") {
		if source == read {
			return false, false
		}
		name = source
	}
	if strings.HasSuffix(name, "_test.go") {
		return false, false
	}
	return true, source != read && strings.Contains(generator(f), "cmd/cgo")
}

// generator returns the "// Code generated ... DO NOT EDIT." line before
// f's package clause, if any.
func generator(f *ast.File) string {
	for _, g := range f.Comments {
		if g.Pos() > f.Package {
			break
		}
		for _, c := range g.List {
			if strings.HasPrefix(c.Text, "// Code generated ") && strings.HasSuffix(c.Text, " DO NOT EDIT.") {
				return c.Text
			}
		}
	}
	return ""
}

// goroot is where the standard library's sources are; empty if unknown
// (a binary built with -trimpath), in which case nothing is skipped.
var goroot = build.Default.GOROOT

func inGOROOT(pass *analysis.Pass) bool {
	if goroot == "" || len(pass.Files) == 0 {
		return false
	}
	name := pass.Fset.File(pass.Files[0].Pos()).Name()
	return strings.HasPrefix(name, filepath.Join(goroot, "src")+string(filepath.Separator))
}
