package domain

import (
	"fmt"
	"slices"
	"sync"

	"github.com/rlgo/redleaf/kernel/internal/registry"
)

// Declarations are facts a domain package states about its kind when it
// registers it, for other domains to read: an Rv6 program declares the
// capabilities it needs (rv6/ulib.NeedsInet), which the shell passes it
// without grant. Like the kinds, they are fixed when the image is built,
// so reading them is no authority; only the package that registered a
// kind may declare about it.
var declarations struct {
	mu sync.RWMutex
	m  map[string][]string // kind -> facts, in the order declared
}

// Declare records fact about kind name, which the package being
// initialized registered before (Register). It panics outside package
// initialization, after the registry is sealed, or for a kind of another
// package.
func Declare(name, fact string) {
	pkg := registry.Initializing()
	switch {
	case registry.Sealed():
		panic(fmt.Sprintf("domain.Declare(%q, %q) after the first domain started: declare from the init function that registers the kind", name, fact))
	case pkg == "":
		panic(fmt.Sprintf("domain.Declare(%q, %q) outside package initialization: declare from the init function that registers the kind", name, fact))
	case KindPackage(name) != pkg:
		panic(fmt.Sprintf("domain.Declare(%q, %q) by %s: only the package that registered the kind (%q) declares about it", name, fact, pkg, KindPackage(name)))
	}
	declarations.mu.Lock()
	defer declarations.mu.Unlock()
	if declarations.m == nil {
		declarations.m = make(map[string][]string)
	}
	if !slices.Contains(declarations.m[name], fact) {
		declarations.m[name] = append(declarations.m[name], fact)
	}
}

// Declared lists the facts declared about kind name (nil if none, or if
// the kind is not registered by exactly one package).
func Declared(name string) []string {
	if !Registered(name) {
		return nil
	}
	declarations.mu.RLock()
	defer declarations.mu.RUnlock()
	return slices.Clone(declarations.m[name])
}
