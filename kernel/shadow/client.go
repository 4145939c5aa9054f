package shadow

import (
	"errors"
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
// revoked binding.
func (c *Client[I]) rebind() *Binding[I] {
	d := c.g.Current()
	cur := c.cur.Load()
	if cur != nil && (cur.d == d || c.revoked.Load()) {
		return cur
	}
	v, err := d.Provide(c.holder, reflect.TypeFor[I](), c.opts...)
	if err != nil {
		panic(err) // no proxy for I: a build problem
	}
	nb := &Binding[I]{Impl: v.(I), d: d}
	if c.revoked.Load() {
		revoke(nb)
	}
	if !c.cur.CompareAndSwap(cur, nb) {
		revoke(nb)
		return c.cur.Load()
	}
	// The old binding is not revoked: other threads may be calling
	// through it; they get its instance's failure and rebind too.
	return nb
}

func revoke[I any](b *Binding[I]) {
	if cap, ok := any(b.Impl).(domain.Capability); ok {
		cap.Revoke()
	}
}

// Recover decides what a failed call does next. err is what the call
// through b returned and n how many retries it made. If err is the failure
// of b's instance and the policy allows, Recover restarts the instance (or
// finds it restarted) and returns the binding to retry through; otherwise it
// returns nil and the call returns err.
func (c *Client[I]) Recover(b *Binding[I], err error, n int) *Binding[I] {
	if n >= c.g.policy.Retries || c.revoked.Load() || !failureOf(err, b.d) {
		return nil
	}
	if _, rerr := c.g.recoverFrom(b.d); rerr != nil {
		return nil
	}
	return c.rebind()
}

// Recovered counts a call that succeeded on a retry.
func (c *Client[I]) Recovered() { c.g.recovered.Add(1) }

// failureOf reports whether err says that instance d died.
func failureOf(err error, d *domain.Domain) bool {
	f, ok := err.(*domain.FailedError)
	if !ok && !errors.As(err, &f) {
		return false
	}
	return d != nil && f.ID == d.ID()
}

// Record records a successful call of the //idl:init method named method,
// to replay on the instances the guard creates from now on (the last call of
// each such method). For generated code.
func (c *Client[I]) Record(method string, replay func(I) error) {
	c.g.record(method, func(v any) error { return replay(v.(I)) })
}

// Target is the guard: passing a shadow to another domain gives it a shadow
// of its own.
func (c *Client[I]) Target() domain.Provider { return c.g }

// Revoke fails the shadow for good: its calls return domain.ErrRevoked.
func (c *Client[I]) Revoke() {
	c.revoked.Store(true)
	revoke(c.Current())
}
