package domain

import (
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/kernel/rref"
)

// State is the life stage of a domain instance.
type State uint32

const (
	Starting   State = iota // its constructor is running
	Running                 // constructed, serving calls
	Failed                  // it panicked, missed a deadline or failed to construct
	Terminated              // the kernel killed it
)

func (s State) String() string {
	switch s {
	case Starting:
		return "starting"
	case Running:
		return "running"
	case Failed:
		return "failed"
	case Terminated:
		return "terminated"
	}
	return "state?"
}

// A Domain is the kernel's handle on one domain instance. Kernel code holds
// it; domain code never does (a domain sees its own Context and, of others,
// only proxies).
//
// An instance dies once: die flips its state, records the one FailedError
// every observer gets, closes Done, breaks every crossing it is a side of,
// reclaims its RRefs, resets its devices and records the event. Nobody gets
// the FailedError before all of that is done (see dead). Its threads stop at
// their next crossing or kernel call (see the package doc).
type Domain struct {
	self     *Domain // itself: a Domain the kernel did not make (&Domain{}) is refused
	id       ID
	name     string
	kind     *kind // nil for the kernel pseudo-domain
	mgr      *Manager
	acct     *rref.Account
	cfg      *createConfig
	owner    string // who created it: "kernel", "shadow", ...
	restarts int    // instances of this name before this one
	created  time.Time

	state   atomic.Uint32
	failure atomic.Pointer[FailedError] // the kernel's record of its death; observers get copies
	done    chan struct{}
	gone    chan struct{} // closed when die has done everything dying does
	unwind  *unwinding    // the panic value that unwinds its threads once it is dead
	threads atomic.Int32

	mu      sync.Mutex
	impl    any         // what its constructor returned; guarded by mu
	xs      []*Crossing // crossings it is a side of; guarded by mu
	retired counts      // counts of crossings removed from xs; guarded by mu
	imports []any       // capabilities handed to it (Import); guarded by mu
}

// mint makes the heap accounts of domains: the kernel claims it before any
// domain package is initialized, so no domain can make accounts.
var mint = rref.ClaimMint()

// counts are the call counters of a domain, summed over its crossings.
type counts struct {
	in, out, faults uint64
}

// unwinding is the private panic value that stops a thread of another
// domain running code of a dead one at its next crossing or kernel call;
// the crossing it came in through recovers it. (A dead domain's own threads
// stop with runtime.Goexit instead: see stopThread.)
type unwinding struct{ d *Domain }

// Error and String panic with the unwinding itself. fmt recovers a panic of
// the String or Error method it calls, and prints what it recovered; a
// panic while it prints that, it re-raises. So a thread unwinding out of a
// String method of the dead domain (which made a kernel call) goes on
// unwinding through fmt instead of being printed and swallowed. The kernel
// never formats an unwinding (see describe).
func (u *unwinding) Error() string  { panic(u) }
func (u *unwinding) String() string { panic(u) }

func newDomain(m *Manager, k *kind, name string, cfg *createConfig, owner string, restarts int) *Domain {
	acct := mint.NewAccount(name)
	d := &Domain{
		id: ID(acct.ID()), name: name, kind: k, mgr: m, acct: acct, cfg: cfg,
		owner: owner, restarts: restarts, created: time.Now(), done: make(chan struct{}), gone: make(chan struct{}),
	}
	d.self = d
	d.unwind = &unwinding{d}
	return d
}

// genuine reports whether d was made by the kernel (newDomain).
func (d *Domain) genuine() bool { return d != nil && d.self == d }

// ID is the instance's id.
func (d *Domain) ID() ID { return d.id }

// Name is the instance's name (kept across restarts).
func (d *Domain) Name() string { return d.name }

// Kind is the registered kind the instance was created from.
func (d *Domain) Kind() string {
	if d.kind == nil {
		return "kernel"
	}
	return d.kind.name
}

// Interface is the IDL interface the instance exports.
func (d *Domain) Interface() reflect.Type {
	if d.kind == nil {
		return nil
	}
	return d.kind.iface
}

// State is the instance's current state.
func (d *Domain) State() State { return State(d.state.Load()) }

// Alive reports whether the instance is starting or running.
func (d *Domain) Alive() bool { return d.state.Load() <= uint32(Running) }

// Done is closed when the instance dies.
func (d *Domain) Done() <-chan struct{} { return d.done }

// Err is why the instance died (a copy of the kernel's record, see
// FailedError), or nil while it is alive.
func (d *Domain) Err() *FailedError {
	if d.Alive() {
		return nil
	}
	return d.failure.Load().copyOf()
}

// Heap is the instance's account on the shared heap, for kernel code that
// hands it RRefs.
func (d *Domain) Heap() *rref.Account { return d.acct }

// Restarts is how many instances of this name came before this one.
func (d *Domain) Restarts() int { return d.restarts }

// Imports returns the capabilities handed to the instance so far (through
// Import): every one is a generated proxy or shadow.
func (d *Domain) Imports() []any {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]any(nil), d.imports...)
}

// check is every kernel call's first step: a dead domain's thread stops.
func (d *Domain) check() {
	if !d.Alive() {
		d.stopThread()
	}
}

// stopThread stops the calling thread, which runs code of d, dead. A thread
// of d's own (Context.Spawn, or its constructor on a kernel worker) that has
// no other domain's code below it ends with runtime.Goexit: no recover, of
// a domain or of the standard library (fmt recovers panics of String
// methods), can catch that; deferred calls run. Any other thread (one that
// came into d through a crossing, or one of d's whose call into another
// domain called d back) unwinds with d's private panic, which the crossing
// it came through recovers: the domain below gets an error, and its code is
// not cut short.
func (d *Domain) stopThread() {
	if ownThread() {
		runtime.Goexit()
	}
	panic(d.unwind)
}

// failWith makes panic value v, caught at where, the failure of d, unless it
// is d's own unwinding or d is dead already; it returns (a copy of) d's
// failure.
func (d *Domain) failWith(v any, where string) *FailedError {
	if u, ok := v.(*unwinding); ok {
		if u.d == d || !d.Alive() {
			return d.dead()
		}
		// Another domain's unwinding, recovered and raised again by d's
		// code: d's failure, not the dead domain's.
		v = Error("domain " + d.name + " caught the unwinding of dead domain " + u.d.name)
	}
	if !d.Alive() {
		return d.dead()
	}
	return d.die(Failed, &FailedError{Value: v, Where: where, Stack: debug.Stack()})
}

// dead returns the failure of a dead domain, once its death is complete:
// whoever hears of a death through it (a caller, Kill, Restart, a thread
// that stops) hears of it after the instance's RRefs were reclaimed, its
// devices reset and its death recorded, even while the thread that failed
// it is still at it. Otherwise a caller could act on a death the event log
// does not show yet, and Restart could start the next instance before the
// old one's device reset, which would then hit the new instance.
func (d *Domain) dead() *FailedError {
	if d.Alive() {
		// Not dead: the kernel does not ask then, but waiting would be
		// wrong if it did.
		return &FailedError{Domain: d.name, ID: d.id, Value: "not running", Where: "kernel"}
	}
	<-d.gone
	return d.failure.Load().copyOf()
}

// waitDead waits until the death of d, dead, is complete.
func (d *Domain) waitDead() { <-d.gone }

// die ends d with failure f (filling in its name and id) unless it is dead
// already, and returns (a copy of) the failure that won, once the death is
// complete (see dead). f becomes the kernel's record: nobody else may hold
// it.
func (d *Domain) die(st State, f *FailedError) *FailedError {
	if d.kind == nil {
		panic("domain: the kernel cannot die: " + f.Error())
	}
	f.Domain, f.ID = d.name, d.id
	d.mu.Lock()
	if !d.Alive() {
		d.mu.Unlock()
		return d.dead()
	}
	d.failure.Store(f)
	d.state.Store(uint32(st))
	close(d.done)
	xs := append([]*Crossing(nil), d.xs...)
	d.mu.Unlock()

	for _, x := range xs {
		x.state.Or(slowPath)
	}
	// Devices first: a reset device no longer reads or writes the memory
	// it was given, so the cells of the shared heap that a driver had put
	// in its device's rings (DMA packet cells, kernel/dma.CellPool) may go
	// back to their pool when the account closes, and nobody who gets one
	// next sees the device write into it.
	d.cfg.resetDevices(d.mgr.logf)
	d.acct.Close()
	d.mgr.died(d, xs)
	close(d.gone)
	return f.copyOf()
}

// retire removes crossing x from d's list once its other side died, keeping
// its counts.
func (d *Domain) retire(x *Crossing) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i := indexOf(d.xs, x); i >= 0 {
		d.retired.add(x.counts(d))
		d.xs[i] = d.xs[len(d.xs)-1]
		d.xs[len(d.xs)-1] = nil
		d.xs = d.xs[:len(d.xs)-1]
	}
}

func indexOf(xs []*Crossing, x *Crossing) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

func (c *counts) add(o counts) {
	c.in += o.in
	c.out += o.out
	c.faults += o.faults
}

// counts sums the call counters of d's crossings.
func (d *Domain) counts() counts {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.retired
	for _, x := range d.xs {
		c.add(x.counts(d))
	}
	return c
}

// spawn starts fn on a new goroutine attributed to d: a panic on it fails
// d; d's unwinding ends it quietly.
func (d *Domain) spawn(name string, fn func()) {
	d.threads.Add(1)
	d.mgr.threads.Add(1)
	go d.runThread(name, fn)
}

// runThread is the bottom of every domain thread's stack (ownThread looks
// for it there).
func (d *Domain) runThread(name string, fn func()) {
	defer d.threadExit(name)
	fn()
}

func (d *Domain) threadExit(name string) {
	v := recover()
	d.mgr.threads.Add(-1)
	if v != nil {
		d.failWith(v, "thread "+name)
	}
	if d.threads.Add(-1) == 0 && !d.Alive() {
		d.mgr.forgetZombie(d)
	}
}
