// Package kernelapi names kernel functions and types that are not domain
// API, in every spelling the type checker resolves to the same name.
package kernelapi

import (
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

type block struct{ n int }

// A capability that intercepts every later binding (review item 1).
func Intercept() {
	domain.RegisterProxy(func(x *domain.Crossing, impl any) any { // want `^api: domains may not use kernel/domain.RegisterProxy: it is kernel-only API` `^api: domains may not use kernel/domain.Crossing: `
		x.Fail("boom") // want `^api: domains may not use kernel/domain.Crossing.Fail: `
		return impl
	})
}

// Forged kernel objects (review item 2) start with names domains may not use.
func Forge(ctx *domain.Context) {
	fake := &rref.Account{}                           // allowed name; the kernel refuses unknown accounts at run time
	r := rref.New(ctx.Heap(), block{})                // allowed
	r = rref.Move(r, ctx.Heap(), fake)                // want `^api: domains may not use kernel/rref.Move: `
	_ = rref.Lend(r.Borrow(), fake, ctx.Heap())       // want `^api: domains may not use kernel/rref.Lend: `
	_, _ = domain.Connect[any](&domain.Domain{}, nil) // want `^api: domains may not use kernel/domain.Connect: ` `^api: domains may not use kernel/domain.Domain: `
	_ = ctx.Heap().Close()                            // want `^api: domains may not use kernel/rref.Account.Close: `
	move := rref.Move[block]                          // want `^api: domains may not use kernel/rref.Move: `
	_ = move
	var m *domain.Manager         // want `^api: domains may not use kernel/domain.Manager: `
	_ = m.Kill                    // want `^api: domains may not use kernel/domain.Manager.Kill: `
	_ = hw.NewBuffer(nil, 0x1000) // want `^api: domains may not use kernel/hw.NewBuffer: `
	var e *domain.FailedError
	_ = e.Error() + e.Domain // allowed: reading why a callee failed
}

// embedded makes the kernel's methods its own; they keep their names.
type embedded struct {
	*domain.Manager // want `^api: domains may not use kernel/domain.Manager: `
}

func (e embedded) kill() { _ = e.Kill(1) } // want `^api: domains may not use kernel/domain.Manager.Kill: `

// closer reaches rref.Account.Close without naming it.
type closer interface {
	Close() int // want `^api: interface method Close has the signature of the kernel-only method kernel/rref.Account.Close`
	ID() uint32 // allowed: rref.Account.ID is domain API
}

func Close(ctx *domain.Context) int {
	var a any = ctx.Heap()
	return a.(closer).Close() + a.(interface {
		Kill(domain.ID) error // want `^api: interface method Kill has the signature of the kernel-only method kernel/domain.Manager.Kill`
	}).Kill(1)
}
