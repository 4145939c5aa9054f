package domain

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/rlgo/redleaf/kernel/internal/registry"
)

// A kind is a registered domain package: its name, the package that
// registered it, the IDL interface its instances export, and its
// constructor.
type kind struct {
	name  string
	pkg   string // the package whose initialization registered it
	iface reflect.Type
	new   func(*Context) (any, error)
	// rivals are the other packages that registered the same name. A name
	// two packages claim is nobody's: such a kind is never created (see
	// lookupKind), whichever package was initialized first.
	rivals []string
}

var kinds struct {
	mu sync.RWMutex
	m  map[string]*kind
}

// Register registers a domain kind: a Go package compiled into the image,
// whose instances the Manager creates by name. new is the constructor: it
// gets the instance's Context (its capabilities, nothing else) and returns
// the instance's implementation of the IDL interface I, which the kernel
// never hands out but through proxies.
//
// A domain package calls Register from its init function (or from a library
// its init function calls, as Rv6 programs do through ulib.Register): the
// kind belongs to the package being initialized. Register panics if it is
// called outside package initialization or after the first domain started
// (the registry is sealed then), if I is not an interface, or if name is
// not a valid kind name. A name registered by two packages (or twice) is
// not an error at init, so that no package can make the boot fail by taking
// another's name first, but neither registration is ever created: Create
// fails, naming both packages.
func Register[I any](name string, new func(*Context) (I, error)) {
	t := reflect.TypeFor[I]()
	if t.Kind() != reflect.Interface {
		panic(fmt.Sprintf("domain.Register(%q): %v is not an interface", name, t))
	}
	if err := validKindName(name); err != nil {
		panic(fmt.Sprintf("domain.Register(%q): %v", name, err))
	}
	if registry.Sealed() {
		panic(fmt.Sprintf("domain.Register(%q) after the first domain started: the registry is sealed; a domain package registers its kind from its init function", name))
	}
	pkg := registry.Initializing()
	if pkg == "" {
		panic(fmt.Sprintf("domain.Register(%q) outside package initialization: a domain package registers its kind from its init function", name))
	}
	kinds.mu.Lock()
	defer kinds.mu.Unlock()
	if kinds.m == nil {
		kinds.m = make(map[string]*kind)
	}
	if k, dup := kinds.m[name]; dup {
		k.rivals = append(k.rivals, pkg)
		return
	}
	kinds.m[name] = &kind{name: name, pkg: pkg, iface: t, new: func(c *Context) (any, error) {
		v, err := new(c)
		if err != nil {
			return nil, err
		}
		return v, nil
	}}
}

// validKindName: printable, no spaces, at most 64 bytes, so that listings
// and logs cannot be garbled by a name.
func validKindName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("a kind name has 1 to 64 bytes")
	}
	for _, c := range name {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("a kind name is printable ASCII without spaces")
		}
	}
	return nil
}

// Kinds lists the registered kinds that can be created, sorted.
func Kinds() []string {
	kinds.mu.RLock()
	defer kinds.mu.RUnlock()
	var names []string
	for n, k := range kinds.m {
		if len(k.rivals) == 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Registered reports whether a kind named name is registered, by one
// package.
func Registered(name string) bool {
	kinds.mu.RLock()
	defer kinds.mu.RUnlock()
	k, ok := kinds.m[name]
	return ok && len(k.rivals) == 0
}

// KindPackage is the import path of the package that registered kind name,
// or "" if none did.
func KindPackage(name string) string {
	kinds.mu.RLock()
	defer kinds.mu.RUnlock()
	if k, ok := kinds.m[name]; ok {
		return k.pkg
	}
	return ""
}

func lookupKind(name string) (*kind, error) {
	kinds.mu.RLock()
	defer kinds.mu.RUnlock()
	k, ok := kinds.m[name]
	if !ok {
		return nil, fmt.Errorf("domain: no kind %q is registered (is its package imported?)", name)
	}
	if len(k.rivals) > 0 {
		return nil, fmt.Errorf("domain: kind %q is registered by %s and by %s: a kind belongs to one package; remove the others from the image",
			name, k.pkg, strings.Join(k.rivals, " and by "))
	}
	return k, nil
}
