package vet

import (
	"go/ast"
	"go/parser"
	"path/filepath"
	"strconv"
	"strings"
)

// allowedDirectives are the //go: directives a domain may use: none of them
// changes what the code may touch.
var allowedDirectives = map[string]bool{
	"build":    true, // build constraints
	"generate": true, // run by go generate on the host, not compiled
	"embed":    true, // read-only data baked in at build time
	"noinline": true, // code generation only
	"nosplit":  true, // the linker rejects nosplit chains that could overflow the stack
	"norace":   true, // race detector instrumentation only
	"fix":      true, // //go:fix inline, a hint for source tools
}

// directiveWhy says why notable directives are rejected; the others are
// reserved to the trusted kernel because the checker cannot vouch for them.
var directiveWhy = map[string]string{
	"linkname":       "it binds a name to any symbol of any package, bypassing the import allowlist and type safety",
	"noescape":       "it makes an unchecked claim that pointers do not escape; a wrong claim corrupts memory",
	"uintptrescapes": "it serves unsafe pointer arithmetic, outside memory safety",
	"nocheckptr":     "it turns off the checks of unsafe pointer conversions",
	"debug":          "it changes runtime settings of the whole image, kernel included",
	"wasmimport":     "it calls functions of the host, outside Go",
	"wasmexport":     "it exposes functions to the host, outside Go",
}

// checkDirectives reports //go: directives that are not allowedDirectives.
// The compiler honours them anywhere in a file, so every comment is looked at.
func (c *domainCheck) checkDirectives(f *ast.File) {
	for _, g := range f.Comments {
		for _, cm := range g.List {
			text, ok := strings.CutPrefix(cm.Text, "//go:")
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(text, " ")
			if allowedDirectives[name] {
				continue
			}
			why, ok := directiveWhy[name]
			if !ok && strings.HasPrefix(name, "cgo_") {
				why = "it is cmd/cgo's, for linking C code"
			} else if !ok {
				why = "domains may use only go:build, go:generate, go:embed, go:noinline, go:nosplit, go:norace and go:fix; the others are for trusted code"
			}
			c.report(cm.Pos(), "directive", "%s may not use //go:%s: %s", c.who(), name, why)
		}
	}
}

// foreignSources maps the extensions of non-Go source files the go command
// builds into a package to the rule that rejects them.
var foreignSources = map[string]string{
	".s": "asm", ".S": "asm", ".sx": "asm",
	".c": "cgo", ".h": "cgo", ".cc": "cgo", ".cpp": "cgo", ".cxx": "cgo", ".hh": "cgo", ".hpp": "cgo", ".hxx": "cgo",
	".m": "cgo", ".f": "cgo", ".F": "cgo", ".for": "cgo", ".f90": "cgo",
	".swig": "cgo", ".swigcxx": "cgo", ".syso": "cgo",
}

// checkOtherFiles reports the package's non-Go source files, and import "C"
// in Go files the build ignores (with cgo disabled, every file that imports
// "C" is ignored, so the type-checked files never show it).
func (c *domainCheck) checkOtherFiles() {
	names := append(append([]string(nil), c.pass.OtherFiles...), c.pass.IgnoredFiles...)
	for _, name := range names {
		if filepath.Ext(name) == ".go" {
			if !strings.HasSuffix(name, "_test.go") {
				c.checkIgnoredGoFile(name)
			}
			continue
		}
		rule, ok := foreignSources[filepath.Ext(name)]
		if !ok {
			continue
		}
		data, err := c.pass.ReadFile(name)
		if err != nil {
			data = nil // report it all the same, at line 1
		}
		tf := c.pass.Fset.AddFile(name, -1, len(data))
		tf.SetLinesForContent(data)
		kind := "assembly"
		if rule == "cgo" {
			kind = "C, C++, Fortran, SWIG or object code"
		}
		c.report(tf.LineStart(1), rule, "%s may not contain %s (%s): it runs outside Go's memory safety, which is what isolates domains", c.who(), kind, filepath.Base(name))
	}
}

// checkIgnoredGoFile reports import "C" in a Go file the build ignores.
func (c *domainCheck) checkIgnoredGoFile(name string) {
	data, err := c.pass.ReadFile(name)
	if err != nil {
		return
	}
	f, err := parser.ParseFile(c.pass.Fset, name, data, parser.ImportsOnly)
	if err != nil {
		return
	}
	for _, spec := range f.Imports {
		if p, _ := strconv.Unquote(spec.Path.Value); p == "C" {
			c.checkImport(spec, false)
		}
	}
}
