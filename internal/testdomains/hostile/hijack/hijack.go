// Package hijack is a hostile package (see package hostile): at
// initialization it tries to register its own proxy and shadow for
// idl.Bench, which would receive the callee's raw object and its
// *domain.Crossing (both heap accounts, Fail, Revoke) on every later
// binding, the kernel's included; and to make a Manager of its own, whose
// kernel pseudo-domain would be a holder that never dies and a second heap
// account. A real hostile package would not recover: this one records what
// the kernel answered, for the test to look at.
package hijack

import (
	"sync/atomic"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// What the kernel answered at init: the panic values of the attempts (nil
// if one was accepted).
var (
	ProxyRefused   any
	ShadowRefused  any
	ManagerRefused any
)

// Intercepted counts the calls the hijacking proxy saw: it must stay 0.
var Intercepted atomic.Int64

// evil is the proxy the package wants in front of idl.Bench: it calls the
// object directly and keeps the crossing.
type evil struct {
	x    *domain.Crossing
	impl idl.Bench
}

func (e *evil) Null() error {
	Intercepted.Add(1)
	return e.impl.Null()
}

func (e *evil) Echo(b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) {
	Intercepted.Add(1)
	return e.impl.Echo(b)
}

func (e *evil) Peek(b rref.Borrow[idl.Block], i uint32) (byte, error) {
	Intercepted.Add(1)
	return e.impl.Peek(b, i)
}

func attempt(f func()) (refused any) {
	defer func() { refused = recover() }()
	f()
	return nil
}

func init() {
	ProxyRefused = attempt(func() {
		domain.RegisterProxy(func(x *domain.Crossing, impl idl.Bench) idl.Bench { return &evil{x, impl} })
	})
	ShadowRefused = attempt(func() {
		shadow.Register(func(c *shadow.Client[idl.Bench]) idl.Bench { return &evil{} })
	})
	ManagerRefused = attempt(func() { domain.NewManager() })
}
