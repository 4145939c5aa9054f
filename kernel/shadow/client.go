package shadow

import (
	"reflect"
	"sync/atomic"

	"github.com/rlgo/redleaf/kernel/domain"
)

// A Client is one holder's shadow of a guarded domain: the state behind a
// generated shadow. For generated code.
type Client[I any] struct {
	g       *Guard
	holder  *domain.Domain
	opts    []domain.BindOption
	revoked atomic.Bool
	cur     atomic.Pointer[Binding[I]]
}

// A Binding is a Client's capability to one instance.
type Binding[I any] struct {
	Impl I // the proxy to call
	d    *domain.Domain
}

// Current is the binding to call through: one atomic load.
func (c *Client[I]) Current() *Binding[I] { return c.cur.Load() }

// rebind binds c to the guard's current instance, unless it is bound to it
// already, and returns the binding to use. A revoked client stays on its
// revoked binding. It fails only if the kernel refuses the binding (a holder
// it did not make).
func (c *Client[I]) rebind() (*Binding[I], error) {
	d := c.g.Current()
	cur := c.cur.Load()
	if cur != nil && (cur.d == d || c.revoked.Load()) {
		return cur, nil
	}
	v, err := d.Provide(c.holder, reflect.TypeFor[I](), c.opts...)
	if err != nil {
		return nil, err
	}
	nb := &Binding[I]{Impl: v.(I), d: d}
	if c.revoked.Load() {
		revoke(nb)
	}
	if !c.cur.CompareAndSwap(cur, nb) {
		revoke(nb)
		return c.cur.Load(), nil
	}
	// The old binding is not revoked: other threads may be calling
	// through it; they get its instance's failure and rebind too.
	return nb, nil
}

func revoke[I any](b *Binding[I]) {
	if cap, ok := any(b.Impl).(domain.Capability); ok {
		cap.Revoke()
	}
}

// Recover decides what a failed call does next. err is what the call
// through b returned and n how many retries it made. If err is the kernel's
// report of the death of b's instance (domain.Domain.Failed: not an error
// that only says so) and the policy allows, Recover restarts the instance
// (or finds it restarted) and returns the binding to retry through;
// otherwise it returns nil and the call returns err.
func (c *Client[I]) Recover(b *Binding[I], err error, n int) *Binding[I] {
	if n >= c.g.policy.Retries || c.revoked.Load() || b.d == nil || !b.d.Failed(err) {
		return nil
	}
	if _, rerr := c.g.recoverFrom(b.d); rerr != nil {
		return nil
	}
	nb, rerr := c.rebind()
	if rerr != nil {
		return nil
	}
	return nb
}

// Recovered counts a call that succeeded on a retry.
func (c *Client[I]) Recovered() { c.g.recovered.Add(1) }

// Record records a successful call of the //idl:init method named method,
// to replay on the instances the guard creates from now on (the last call of
// each such method). For generated code.
func (c *Client[I]) Record(method string, replay func(I) error) {
	c.g.record(method, func(v any) error { return replay(v.(I)) })
}

// Target is the guard, as a provider only: passing a shadow to another
// domain gives it a shadow of its own.
func (c *Client[I]) Target() domain.Provider { return provider{c.g} }

// Revoke fails the shadow for good: its calls return domain.ErrRevoked.
func (c *Client[I]) Revoke() {
	c.revoked.Store(true)
	revoke(c.Current())
}
