// Package registry holds the rules the kernel's registries (domain kinds,
// generated proxies and shadows) share: a registration is accepted only
// while a package is being initialized, only from the package that defines
// what it registers, and only until the registries are sealed, which the
// kernel does before the first domain starts. Who is calling is read from
// the calling goroutine's stack, in trusted code: a domain cannot name
// another package's init function, nor run code on the stack of one.
//
// The package is internal to kernel/: domains cannot import it.
package registry

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
)

// IDLPackage is the package of the IDL interfaces: the only package whose
// interfaces have generated proxies and shadows (cmd/idlgen writes them
// there), and so the only one that may register them.
const IDLPackage = "github.com/rlgo/redleaf/idl"

var sealed atomic.Bool

// Seal closes the registries for good.
func Seal() { sealed.Store(true) }

// Sealed reports whether Seal was called.
func Sealed() bool { return sealed.Load() }

// maxFrames bounds the stack walks. A registration deeper than that in an
// init function is refused, which is the safe side.
const maxFrames = 512

// Frames returns the function names on the calling goroutine's stack, skip
// frames above the caller of Frames excluded, innermost first, and whether
// the walk reached the bottom of the stack.
func Frames(skip int) (names []string, whole bool) {
	pcs := make([]uintptr, maxFrames)
	n := runtime.Callers(skip+2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if f.Function != "" {
			names = append(names, f.Function)
		}
		if !more {
			break
		}
	}
	return names, n < maxFrames
}

// Split splits a function name as the runtime reports it into the import
// path of its package and the rest ("init.0", "(*T).M", "F.func1").
func Split(fn string) (pkg, rest string) {
	i := strings.LastIndexByte(fn, '/') + 1
	if j := strings.IndexByte(fn[i:], '.'); j >= 0 {
		return fn[:i+j], fn[i+j+1:]
	}
	return fn, ""
}

// isInit reports whether rest names a package's init function: "init" (the
// initialization of its variables) or "init.N" (its init functions).
func isInit(rest string) bool {
	if rest == "init" {
		return true
	}
	n, ok := strings.CutPrefix(rest, "init.")
	if !ok || n == "" {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Initializing returns the import path of the package whose initialization
// the calling goroutine is in (the innermost, if the stack holds several),
// or "" if it is in none: the package that registers, when a package's init
// function calls a library that registers for it (rv6/ulib.Register).
func Initializing() string {
	names, _ := Frames(1)
	for _, fn := range names {
		if pkg, rest := Split(fn); isInit(rest) {
			return pkg
		}
	}
	return ""
}

// CheckIDL applies the rules to the registration of what (a proxy or a
// shadow) for interface t: t must be an interface of the IDL package, the
// registry open, and the caller that package's initialization.
func CheckIDL(what string, t reflect.Type) error {
	if t.Kind() != reflect.Interface || t.PkgPath() != IDLPackage {
		return fmt.Errorf("registering a %s for %v: only the interfaces of %s have %ss", what, t, IDLPackage, what)
	}
	if Sealed() {
		return fmt.Errorf("registering a %s for %v after the first domain started: the registry is sealed", what, t)
	}
	if pkg := Initializing(); pkg != t.PkgPath() {
		if pkg == "" {
			pkg = "code outside package initialization"
		}
		return fmt.Errorf("registering a %s for %v from %s: only the initialization of %s may", what, t, pkg, t.PkgPath())
	}
	return nil
}
