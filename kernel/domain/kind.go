package domain

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// A kind is a registered domain package: its name, the IDL interface its
// instances export, and its constructor.
type kind struct {
	name  string
	iface reflect.Type
	new   func(*Context) (any, error)
}

var kinds struct {
	mu sync.RWMutex
	m  map[string]*kind
}

// Register registers a domain kind: a Go package compiled into the image,
// whose instances the Manager creates by name. new is the constructor: it
// gets the instance's Context (its capabilities, nothing else) and returns
// the instance's implementation of the IDL interface I, which the kernel
// never hands out but through proxies. A domain package calls Register from
// an init function. Register panics if name is taken or I is not an
// interface.
func Register[I any](name string, new func(*Context) (I, error)) {
	t := reflect.TypeFor[I]()
	if t.Kind() != reflect.Interface {
		panic(fmt.Sprintf("domain.Register(%q): %v is not an interface", name, t))
	}
	kinds.mu.Lock()
	defer kinds.mu.Unlock()
	if kinds.m == nil {
		kinds.m = make(map[string]*kind)
	}
	if _, dup := kinds.m[name]; dup {
		panic(fmt.Sprintf("domain.Register: %q registered twice", name))
	}
	kinds.m[name] = &kind{name: name, iface: t, new: func(c *Context) (any, error) {
		v, err := new(c)
		if err != nil {
			return nil, err
		}
		return v, nil
	}}
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	kinds.mu.RLock()
	defer kinds.mu.RUnlock()
	var names []string
	for n := range kinds.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Registered reports whether a kind named name is registered.
func Registered(name string) bool {
	kinds.mu.RLock()
	defer kinds.mu.RUnlock()
	_, ok := kinds.m[name]
	return ok
}

func lookupKind(name string) (*kind, error) {
	kinds.mu.RLock()
	defer kinds.mu.RUnlock()
	k, ok := kinds.m[name]
	if !ok {
		return nil, fmt.Errorf("domain: no kind %q is registered (is its package imported?)", name)
	}
	return k, nil
}
