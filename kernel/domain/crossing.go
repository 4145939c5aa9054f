package domain

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/kernel/internal/registry"
	"github.com/rlgo/redleaf/kernel/rref"
)

// A Crossing is the kernel half of one capability: the binding of a caller
// domain (the holder) to a callee domain's implementation of one IDL
// interface. Every generated proxy owns one and calls Enter and Leave
// around each call (and Fail when a call failed); nothing else is on the
// per-call path.
//
// Per call, a crossing costs one atomic add on its own cache line (the call
// counter, which also carries the slow-path bit) and one atomic load on the
// way out. No lock and no shared counter is touched: the manager sums the
// per-crossing counters when it lists domains. Two threads of one caller
// calling through the same proxy do contend on that line; that is the price
// of counting exactly under -race (see the package doc).
type Crossing struct {
	// state counts calls in its low 63 bits. Its top bit sends Enter and
	// Leave to their slow path: set when either side dies or the
	// capability is revoked.
	state    atomic.Uint64
	caller   *Domain
	callee   *Domain
	from, to *rref.Account // caller.acct and callee.acct, one load nearer
	faults   atomic.Uint64 // calls that failed the callee
	iface    reflect.Type
	deadline time.Duration // 0: calls run on the caller's thread
	revoked  atomic.Bool
	// The pad makes a crossing 128 bytes, a size class the allocator
	// aligns to 128: its counter shares no cache line with another's.
	_ [52]byte
}

const slowPath = 1 << 63

// Enter starts a call. It returns the callee's *FailedError if the callee is
// dead, ErrRevoked if the capability was revoked, and panics with the
// caller's unwinding if the caller is dead (the thread stops at this
// crossing). For generated proxies.
//
// If the callee dies during a call, the call fails with its *FailedError
// even if it returns; if the capability is revoked during a call, the call
// completes.
func (x *Crossing) Enter() error {
	if x.state.Add(1)&slowPath != 0 {
		return x.enterSlow()
	}
	return nil
}

func (x *Crossing) enterSlow() error {
	x.state.Add(^uint64(0)) // not a call
	x.mustGenuine()
	x.caller.check()
	if x.revoked.Load() {
		return ErrRevoked
	}
	if !x.callee.Alive() {
		return x.callee.dead()
	}
	x.state.Add(1)
	return nil
}

// Leave ends a call. v is what the proxy's deferred function recovered.
// It reports whether the call failed: the callee panicked (v != nil), or
// either side died while the thread was in the callee. The proxy then gives
// back the RRefs the call had taken, drops the results, and calls Fail. For
// generated proxies.
//
// Leave is also the proxy's half of the agreement with rref.Account.Close:
// the proxy moves RRefs with rref.TryMove, which does not look at the
// receiver's account; Leave's load of the slow-path bit, after every move of
// the call, does. A side that dies sets the bit before its account is
// closed, so either the account's sweep sees the moved cells, or Leave sees
// the bit and the proxy takes them back.
//
// If the callee died, Leave returns once its death is complete (as Fail
// would): its account is closed and its reclaim over, so that the proxy's
// rescue (rref.RescueDeque) can take back a batch the reclaim took from
// under the call, and no sweep runs while it does.
func (x *Crossing) Leave(v any) bool {
	if v == nil && x.state.Load()&slowPath == 0 {
		return false
	}
	if !x.callee.Alive() {
		x.callee.waitDead()
		return true
	}
	return v != nil || !x.caller.Alive()
}

// mustGenuine panics unless the kernel made x: a Crossing a domain declared
// (&domain.Crossing{}) binds nobody to anything. Its fast paths (Enter and
// Leave of a call that was never made) do nothing for it; everything else
// refuses it here.
func (x *Crossing) mustGenuine() {
	if x == nil || x.callee == nil {
		panic("domain: a Crossing the kernel did not make: refused")
	}
}

// Fail ends a failed call: it fails the callee with panic value v (unless v
// is the callee's own unwinding: it is dead already) and returns the
// callee's *FailedError, once the proxy has taken back what it could. If the
// caller died, Fail panics with the caller's unwinding instead: the thread
// goes no further into dead code. For generated proxies, after Leave
// reported a failed call.
func (x *Crossing) Fail(v any) error {
	x.mustGenuine()
	var f *FailedError
	if v != nil {
		x.faults.Add(1)
		f = x.callee.failWith(v, "call "+x.iface.Name())
	} else {
		x.caller.check() // a dead caller need not wait for the callee's death
		f = x.callee.dead()
	}
	x.caller.check()
	return f
}

// Deadline is the binding's per-call deadline (0: none).
func (x *Crossing) Deadline() time.Duration { return x.deadline }

// CallerHeap is the holder's account: where RRef arguments come from and
// results go. For generated proxies.
func (x *Crossing) CallerHeap() *rref.Account { return x.from }

// CalleeHeap is the callee's account: where RRef arguments go. For generated
// proxies.
func (x *Crossing) CalleeHeap() *rref.Account { return x.to }

// Revoke fails the capability: calls that start afterwards return
// ErrRevoked. Revocation is per capability: the holder's other capabilities
// to the same callee are untouched. The crossing leaves both sides' lists
// (its counts stay in their totals): kernel code that connects to a domain
// for a while should revoke the capability when it is done with it.
func (x *Crossing) Revoke() {
	x.mustGenuine()
	if x.revoked.Swap(true) {
		return
	}
	x.state.Or(slowPath)
	x.caller.retire(x)
	if x.callee != x.caller {
		x.callee.retire(x)
	}
}

// Calls is the number of calls made through the crossing.
func (x *Crossing) Calls() uint64 { return x.state.Load() &^ slowPath }

// Faults is the number of calls through the crossing that failed the callee.
func (x *Crossing) Faults() uint64 { return x.faults.Load() }

// counts are x's counters seen from side d.
func (x *Crossing) counts(d *Domain) counts {
	var c counts
	n := x.Calls()
	if x.callee == d {
		c.in = n
		c.faults = x.Faults()
	}
	if x.caller == d {
		c.out = n
	}
	return c
}

// Target is the provider a proxy's capability refers to: the callee and the
// object the proxy calls (its exported implementation, or an object it
// passed as a callback). For generated proxies.
func (x *Crossing) Target(impl any) Provider {
	x.mustGenuine()
	return export{x.callee, impl}
}

// A Capability is what every generated proxy and shadow is: an IDL interface
// value bound to one holder.
type Capability interface {
	// Target is what the capability refers to; passing the capability to
	// another domain binds a new one to the same target for the receiver.
	Target() Provider
	// Revoke fails the capability for good.
	Revoke()
}

// A Provider is something capabilities can be bound to: a *Domain (its
// exported implementation), a shadow guard, or an object a domain passed
// across a call. Only the kernel holds *Domain values, so only the kernel
// binds capabilities for a holder.
type Provider interface {
	// Provide binds a new capability of IDL interface iface for holder.
	Provide(holder *Domain, iface reflect.Type, opts ...BindOption) (any, error)
}

// A BindOption configures a capability.
type BindOption func(*Crossing)

// Deadline makes calls through the capability fail the callee if they do
// not return within d: each call then runs on a kernel worker while the
// caller waits (see docs/ARCHITECTURE.md). d <= 0 means no deadline.
func Deadline(d time.Duration) BindOption {
	return func(x *Crossing) {
		if d > 0 {
			x.deadline = d
		}
	}
}

// proxies maps an IDL interface type to the constructor of its generated
// proxy.
var proxies sync.Map // reflect.Type -> func(*Crossing, any) any

// RegisterProxy registers the proxy constructor of IDL interface I. For
// generated code (cmd/idlgen), from the init function of the IDL package.
//
// A proxy receives the callee's object and the *Crossing (both sides' heap
// accounts, Fail, Revoke), so RegisterProxy panics unless I is an interface
// of the IDL package, the caller is that package's initialization, the
// registries are not sealed (no domain has started), and I has no proxy
// yet: no other package can put a proxy of its own in front of an
// interface, or replace the generated one.
func RegisterProxy[I any](newProxy func(x *Crossing, impl I) I) {
	t := reflect.TypeFor[I]()
	if err := registry.CheckIDL("proxy", t); err != nil {
		panic("domain.RegisterProxy: " + err.Error())
	}
	f := func(x *Crossing, impl any) any {
		i, _ := impl.(I) // nil for a broken binding to a dead domain that never started
		return newProxy(x, i)
	}
	if _, dup := proxies.LoadOrStore(t, f); dup {
		panic(fmt.Sprintf("domain.RegisterProxy: %v has a proxy already", t))
	}
}

// HasProxy reports whether IDL interface t has a registered proxy.
func HasProxy(t reflect.Type) bool {
	_, ok := proxies.Load(t)
	return ok
}

// Provide binds a proxy to d's exported implementation for holder. iface
// must be the interface d's kind exports: its implementation may have the
// methods of other IDL interfaces too, which are not what it exports.
func (d *Domain) Provide(holder *Domain, iface reflect.Type, opts ...BindOption) (any, error) {
	if !d.genuine() {
		return nil, fmt.Errorf("domain: binding %v to a Domain the kernel did not make: refused", iface)
	}
	if d.kind != nil && iface != d.kind.iface {
		return nil, fmt.Errorf("domain: %s exports %v, not %v", d.name, d.kind.iface, iface)
	}
	d.mu.Lock()
	impl := d.impl
	d.mu.Unlock()
	if impl == nil && d.Alive() {
		return nil, fmt.Errorf("domain: %s has not finished starting", d.name)
	}
	return bind(holder, d, impl, iface, opts)
}

// export is an object of domain d that d's capabilities call: its exported
// implementation, or an object it passed across a call.
type export struct {
	d    *Domain
	impl any
}

func (e export) Provide(holder *Domain, iface reflect.Type, opts ...BindOption) (any, error) {
	return bind(holder, e.d, e.impl, iface, opts)
}

// bind makes a proxy of interface iface through which holder calls impl, an
// object of target. If either side is dead the proxy is born broken: its
// calls fail with the callee's failure, or unwind the caller.
//
// The holder and the target must be domains the kernel made, of one manager:
// a *Domain a domain declared (&domain.Domain{}) would be a holder that
// never dies and that no revocation reaches.
func bind(holder, target *Domain, impl any, iface reflect.Type, opts []BindOption) (any, error) {
	if holder == nil || target == nil {
		return nil, fmt.Errorf("domain: binding %v: no holder or target", iface)
	}
	if !holder.genuine() || !target.genuine() {
		return nil, fmt.Errorf("domain: binding %v: a Domain the kernel did not make: refused", iface)
	}
	if holder.mgr != target.mgr {
		return nil, fmt.Errorf("domain: binding %v: the holder and the target belong to different managers", iface)
	}
	f, ok := proxies.Load(iface)
	if !ok {
		return nil, fmt.Errorf("domain: no proxy for %v: declare it in the IDL package and run go generate", iface)
	}
	if impl == nil && target.Alive() || impl != nil && !reflect.TypeOf(impl).Implements(iface) {
		return nil, fmt.Errorf("domain: %s does not export %v", target.name, iface)
	}
	x := &Crossing{caller: holder, callee: target, from: holder.acct, to: target.acct, iface: iface}
	for _, o := range opts {
		o(x)
	}
	first, second := holder, target
	if second.id < first.id {
		first, second = second, first
	}
	first.mu.Lock()
	if second != first {
		second.mu.Lock()
	}
	if holder.Alive() && target.Alive() {
		holder.xs = append(holder.xs, x)
		if target != holder {
			target.xs = append(target.xs, x)
		}
	} else {
		x.state.Store(slowPath)
	}
	if second != first {
		second.mu.Unlock()
	}
	first.mu.Unlock()
	return f.(func(*Crossing, any) any)(x, impl), nil
}

// Connect binds a capability of IDL interface I to p for holder: the way
// kernel code (holder Manager.Kernel()) gets a proxy to a domain or a
// shadow, and the way Import does it for domains. It fails if p is a dead
// domain.
func Connect[I any](holder *Domain, p Provider, opts ...BindOption) (I, error) {
	var zero I
	if !holder.genuine() {
		return zero, fmt.Errorf("domain: connecting %v: a holder the kernel did not make: refused", reflect.TypeFor[I]())
	}
	if p == nil {
		return zero, fmt.Errorf("domain: connecting %v: no provider", reflect.TypeFor[I]())
	}
	if d, ok := p.(*Domain); ok && d.genuine() && !d.Alive() {
		return zero, d.dead()
	}
	v, err := p.Provide(holder, reflect.TypeFor[I](), opts...)
	if err != nil {
		return zero, err
	}
	return v.(I), nil
}

// PassIn rebinds capability v, an argument the caller passes, for the
// callee. A generated proxy or shadow is rebound to its target; any other
// value is an object of the caller, which the callee will call through a
// proxy. For generated proxies.
func PassIn[I any](x *Crossing, v I) I {
	x.mustGenuine()
	return pass(x.caller, x.callee, v)
}

// PassOut rebinds capability v, a result of the callee, for the caller. For
// generated proxies.
func PassOut[I any](x *Crossing, v I) I {
	x.mustGenuine()
	return pass(x.callee, x.caller, v)
}

func pass[I any](from, to *Domain, v I) I {
	a := any(v)
	if a == nil {
		return v
	}
	iface := reflect.TypeFor[I]()
	var p Provider = export{from, a}
	if c, ok := a.(Capability); ok && IsGenerated(reflect.TypeOf(a), iface) {
		p = c.Target()
	}
	r, err := p.Provide(to, iface)
	if err != nil {
		panic(err) // no proxy for an IDL interface: a build problem, not the domain's
	}
	return r.(I)
}

// IsGenerated reports whether t, the dynamic type of a value of IDL
// interface iface, is one of the generated capability types (proxy or
// shadow), which cmd/idlgen writes into iface's own package. Domains cannot
// declare types in the IDL package, so they cannot forge a capability.
func IsGenerated(t, iface reflect.Type) bool {
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == iface.PkgPath() &&
		t.Implements(reflect.TypeFor[Capability]())
}
