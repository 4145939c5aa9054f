// Command idlgen writes the proxies and shadows of an IDL package.
//
// Run in the package's directory (go generate ./idl/... does that), it loads
// the package, checks every exported interface (every method returns an
// error last; every other parameter and result is exchangeable: plain data,
// rref.RRef, rref.Deque, rref.Borrow as a parameter, or an interface of the
// package), and writes proxies_gen.go: per interface, the proxy the kernel
// binds capabilities with and the shadow that recovers failed callees. A
// rejected signature is reported as file:line:col: what and why, and nothing
// is written. Directives in doc comments: //idl:init on a method (shadows
// replay its last successful call after a restart), //idl:skip on an
// interface (not part of the IDL).
//
// Usage:
//
//	idlgen [-dir DIR] [-o FILE] [-check]
//
// With -check it writes nothing and fails if FILE is not what it would write.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", ".", "the IDL package's directory")
	out := flag.String("o", defaultOut, "the file to write, in the package's directory")
	check := flag.Bool("check", false, "fail if the file is out of date instead of writing it")
	flag.Parse()
	if err := run(*dir, *out, *check); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir, out string, check bool) error {
	src, err := Generate(dir, out)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, out)
	if check {
		old, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(old, src) {
			return fmt.Errorf("idlgen: %s is out of date: run go generate", path)
		}
		return nil
	}
	return os.WriteFile(path, src, 0o644)
}
