// Package state shares state between instances of a domain without a
// flagged write (review item 6): closures and method values in package
// variables, sync.OnceValue's results, value receivers over maps, copies of
// structs holding maps, and errors whose Error method changes them.
package state

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

func counter() func() int {
	n := 0
	return func() int { n++; return n }
}

type registry struct{ m map[string]int }

func (r registry) add(k string) { r.m[k]++ }

type buf struct{ b []byte }

func (b *buf) write(p []byte) { b.b = append(b.b, p...) }

type mutErr struct{ n int }

func (e *mutErr) Error() string { e.n++; return fmt.Sprint(e.n) }

type mapErr struct{ seen map[string]bool }

func (e mapErr) Error() string { e.seen["x"] = true; return "x" }

type Errno int

func (e Errno) Error() string { return fmt.Sprint(int(e)) }

func newErr() error { return &mutErr{} }

var (
	next          = counter()                                                         // want `^global: package-level var next holds a function value made by a call`
	lazy          = sync.OnceValue(func() map[string]int { return map[string]int{} }) // want `^global: package-level var lazy holds a function value made by a call`
	once          = sync.OnceFunc(func() {})                                          // want `^global: package-level var once holds a function value made by a call`
	table         = map[string]func() int{"next": counter()}                          // want `^global: package-level var table holds a function value made by a call`
	bound         = (&buf{}).write                                                    // want `^global: package-level var bound holds the method value write`
	reg           = registry{m: map[string]int{}}
	ErrMut  error = &mutErr{}                       // want `^global: package-level var ErrMut holds a \*mutErr: its methods \(Error\) can change`
	ErrMap  error = mapErr{seen: map[string]bool{}} // want `^global: package-level var ErrMap holds a mapErr: its methods`
	ErrCall       = newErr()                        // want `^global: package-level var ErrCall holds what a function of domain code returns`

	// Fine: declared functions, function literals, method expressions,
	// sentinel errors of the standard library, value types without
	// references.
	upper         = strings.ToUpper
	square        = func(x int) int { return x * x }
	writeTo       = (*buf).write
	ErrStd        = errors.New("state: std")
	ErrWrap       = fmt.Errorf("state: %w", ErrStd)
	ErrNo   error = Errno(2)
	_             = counter() // never read
)

func Use() int {
	reg.add("x") // want `^global: lets a reference into package-level var reg \(registry\) escape, as the receiver of method add`
	c := reg     // want `^global: lets a reference into package-level var reg \(registry\) escape, copied`
	c.m["y"] = 1
	writeTo(&buf{}, nil)
	_ = upper("x") + ErrMut.Error() + ErrNo.Error() + ErrWrap.Error() + ErrMap.Error() + ErrCall.Error()
	bound(nil)
	once()
	return next() + square(2) + len(lazy()) + table["next"]()
}
