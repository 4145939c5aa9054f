package domain

import (
	"reflect"

	"github.com/rlgo/redleaf/kernel/internal/registry"
)

// Go has no thread-local storage, so where the kernel must know what runs on
// the calling goroutine (off the per-call path: when a dead domain's thread
// stops, when a Manager is made), it reads the goroutine's stack. These are
// the functions it looks for.
var (
	pkgDomain      = reflect.TypeFor[Domain]().PkgPath()
	fnRunThread    = pkgDomain + ".(*Domain).runThread"
	fnConstructor  = pkgDomain + ".(*Manager).runConstructor"
	fnConstruct    = pkgDomain + ".construct"
	pkgRuntime     = "runtime"
	pkgIDL         = registry.IDLPackage
	ownThreadRoots = map[string]bool{fnRunThread: true, fnConstructor: true}
)

// ownThread reports whether the calling goroutine is a thread of the domain
// whose code called the kernel, with no other domain's code on its stack: a
// thread that Context.Spawn started (or a kernel worker running the
// domain's constructor) and that is not inside a call into another domain.
// The kernel's own frames and the runtime's are skipped, then, if the
// kernel was called by a generated proxy (a crossing the thread is entering
// or leaving), that proxy's frames; below that, a crossing means the thread
// came from another domain, which must get its call's error back rather
// than lose its own frames to runtime.Goexit.
func ownThread() bool {
	names, whole := registry.Frames(1)
	if !whole {
		return false // too deep to tell: unwind with a panic, as before
	}
	i := 0
	for i < len(names) && (pkgOf(names[i]) == pkgDomain || pkgOf(names[i]) == pkgRuntime) {
		i++
	}
	for i < len(names) && (pkgOf(names[i]) == pkgIDL || pkgOf(names[i]) == pkgRuntime) {
		i++
	}
	root := ""
	for ; i < len(names); i++ {
		switch pkgOf(names[i]) {
		case pkgIDL:
			return false
		case pkgRuntime:
			continue
		}
		root = names[i]
	}
	return ownThreadRoots[root]
}

// domainCode returns what shows that the calling goroutine runs domain code
// (a domain's thread, constructor or crossing, or the initialization of a
// package), or "" if nothing does: kernel-only operations (NewManager)
// refuse to run under domain code.
func domainCode() string {
	if pkg := registry.Initializing(); pkg != "" {
		return "the initialization of package " + pkg
	}
	names, whole := registry.Frames(1)
	if !whole {
		return "a stack too deep to inspect"
	}
	for _, fn := range names {
		switch {
		case pkgOf(fn) == pkgIDL:
			return "a call through a capability (" + fn + ")"
		case fn == fnRunThread || fn == fnConstructor:
			return "a domain thread"
		case fn == fnConstruct:
			return "a domain constructor"
		}
	}
	return ""
}

func pkgOf(fn string) string {
	pkg, _ := registry.Split(fn)
	return pkg
}
