package main

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"
)

// defaultOut is the file idlgen writes.
const defaultOut = "proxies_gen.go"

// load loads and type-checks the package in dir, seeing the file out (the
// previous output) as empty: it may be stale or broken, and the
// interfaces never depend on it.
func load(dir, out string) (*packages.Package, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	overlay := map[string][]byte{}
	outPath := filepath.Join(abs, out)
	if _, err := os.Stat(outPath); err == nil {
		f, err := parser.ParseFile(token.NewFileSet(), outPath, nil, parser.PackageClauseOnly)
		if err != nil {
			return nil, fmt.Errorf("idlgen: %s: %v (delete it and run again)", outPath, err)
		}
		overlay[outPath] = []byte("package " + f.Name.Name + "\n")
	}
	cfg := &packages.Config{
		Mode:    packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:     abs,
		Overlay: overlay,
	}
	pkgs, err := packages.Load(cfg, ".")
	if err != nil {
		return nil, fmt.Errorf("idlgen: loading %s: %w", dir, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("idlgen: %s holds %d packages, want 1", dir, len(pkgs))
	}
	p := pkgs[0]
	if len(p.Errors) > 0 {
		var msgs []string
		for _, e := range p.Errors {
			msgs = append(msgs, e.Error())
		}
		return nil, errors.New("idlgen: " + strings.Join(msgs, "\n"))
	}
	return p, nil
}
