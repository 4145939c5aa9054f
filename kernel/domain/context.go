package domain

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/rlgo/redleaf/kernel/rref"
)

// A Context is a domain instance's view of the kernel: its identity, its
// heap account, its grants and its threads. The constructor gets it; the
// instance keeps it. It is the only ambient thing a domain has, and it
// reaches nothing the instance was not granted.
//
// Every method is a kernel call: once the instance is dead it panics with
// the instance's private unwinding, which stops the calling thread (the
// crossing or spawn wrapper it came through recovers it).
type Context struct {
	d    *Domain
	cfg  *createConfig
	heap *rref.Account // the instance's copy of its account

	mu    sync.Mutex
	rrefs map[string]any // the RRefs granted to this instance, moved to it; guarded by mu
}

// Name is the instance's name.
func (c *Context) Name() string { return c.d.name }

// ID is the instance's id.
func (c *Context) ID() ID { return c.d.id }

// Heap is the instance's account on the shared heap: what it allocates RRefs
// with.
func (c *Context) Heap() *rref.Account {
	c.d.check()
	return c.heap
}

// Done is closed when the instance dies: its threads select on it.
func (c *Context) Done() <-chan struct{} { return c.d.done }

// Check returns if the instance is alive and unwinds the calling thread
// otherwise: a cheap point for long loops to stop at.
func (c *Context) Check() { c.d.check() }

// Sleep waits for d, or until the instance dies (then it unwinds).
func (c *Context) Sleep(d time.Duration) {
	c.d.check()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.d.done:
	}
	c.d.check()
}

// Spawn starts a thread of the instance running fn. Domain code has no other
// way to start one (no go statements): the thread is attributed to the
// instance, a panic on it fails the instance, and it stops when the instance
// dies, at its next crossing or kernel call (or when it sees Done).
func (c *Context) Spawn(name string, fn func()) {
	c.d.check()
	c.d.spawn(name, fn)
}

// Logf writes a line to the kernel log, prefixed with the instance's name.
// The line is formatted on the calling thread, before the kernel log sees
// it: the String methods of args are the domain's code, and must not run
// inside the kernel's log (where a blocking one would hold it for
// everybody).
func (c *Context) Logf(format string, args ...any) {
	c.d.check()
	line := fmt.Sprintf(format, args...)
	c.d.check()
	c.d.mgr.logf("%s: %s", c.d.name, line)
}

// Import binds a capability of IDL interface I to what the instance was
// granted under name: a generated proxy (or shadow) bound to this instance.
// If the granted domain is dead (a restarted instance may outlive what it
// was granted), the capability is born broken: its calls return that
// domain's *FailedError.
func Import[I any](c *Context, name string) (I, error) {
	c.d.check()
	var zero I
	g, ok := c.cfg.grants[name]
	if !ok {
		return zero, noGrant("capability", name)
	}
	p, err := g.p.Provide(c.d, reflect.TypeFor[I](), g.opts...)
	if err != nil {
		return zero, err
	}
	v, ok := p.(I)
	if !ok {
		return zero, noGrant("capability of this interface", name)
	}
	c.d.mu.Lock()
	c.d.imports = append(c.d.imports, v)
	c.d.mu.Unlock()
	return v, nil
}

// Device returns the kernel object granted under name.
func Device[T any](c *Context, name string) (T, error) {
	c.d.check()
	var zero T
	dev, ok := c.cfg.devices[name]
	if !ok {
		return zero, noGrant("device", name)
	}
	t, ok := dev.(T)
	if !ok {
		return zero, noGrant("device of this type", name)
	}
	return t, nil
}

// TakeRRef returns the RRef granted under name, owned by the instance. It
// can be taken once.
func TakeRRef[T any](c *Context, name string) (rref.RRef[T], error) {
	c.d.check()
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.rrefs[name]
	if !ok {
		return rref.RRef[T]{}, noGrant("RRef", name)
	}
	r, ok := v.(rref.RRef[T])
	if !ok {
		return rref.RRef[T]{}, noGrant("RRef of this type", name)
	}
	delete(c.rrefs, name)
	return r, nil
}
