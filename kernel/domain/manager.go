package domain

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/kernel/internal/registry"
	"github.com/rlgo/redleaf/kernel/rref"
)

// A Manager creates, lists, terminates and re-creates domain instances. It
// is kernel code: domains never get one.
type Manager struct {
	kernel *Domain // the kernel pseudo-domain: holder of kernel-side capabilities
	log    func(format string, args ...any)
	hook   func(Event)

	timers  timerSource   // the clock of calls with a deadline
	jobs    chan Job      // calls with a deadline, for idle workers
	closing chan struct{} // closed by Close
	workers atomic.Int32
	idle    atomic.Int32 // workers committed to one more job (deadline.go)
	threads atomic.Int32 // live domain threads, all domains
	stuck   atomic.Int64 // abandoned workers still running
	// stuckTotal counts every worker ever abandoned.
	stuckTotal atomic.Int64

	mu      sync.Mutex
	byName  map[string]*Domain   // latest instance of each name, alive or dead; guarded by mu
	zombies map[*Domain]struct{} // dead instances with threads still running; guarded by mu
	events  []Event              // the last maxEvents events, a ring; guarded by mu
	nevents int                  // events ever recorded; guarded by mu
	closed  bool                 // guarded by mu
}

// An Option configures a Manager.
type Option func(*Manager)

// WithLog sends the kernel log (domain lifecycle, restarts, Context.Logf)
// to logf.
func WithLog(logf func(format string, args ...any)) Option {
	return func(m *Manager) { m.log = logf }
}

// WithEvents calls hook with every lifecycle event, synchronously, after
// the manager has recorded it. hook must not block. A death is complete
// only when hook has returned from its event: nobody hears of it before
// (see Kill), so hook must not wait for the domain the event is about.
func WithEvents(hook func(Event)) Option {
	return func(m *Manager) { m.hook = hook }
}

// NewManager returns a manager with no domains but the kernel. It panics if
// domain code is running on the calling goroutine (a domain's thread,
// constructor or call, or a package's initialization): a Manager a domain
// made for itself would give it a kernel pseudo-domain (a holder that never
// dies) and a second heap account, with which it could bind capabilities
// that outlive it and lend or move its cells outside the kernel's
// accounting.
func NewManager(opts ...Option) *Manager {
	if where := domainCode(); where != "" {
		panic("domain.NewManager under " + where + ": a Manager is the kernel's, and domain code cannot make one")
	}
	m := &Manager{
		timers:  realTimers{},
		jobs:    make(chan Job),
		closing: make(chan struct{}),
		byName:  make(map[string]*Domain),
		zombies: make(map[*Domain]struct{}),
	}
	for _, o := range opts {
		o(m)
	}
	m.kernel = newDomain(m, nil, "kernel", &createConfig{}, "", 0)
	m.kernel.state.Store(uint32(Running))
	return m
}

// Kernel is the kernel pseudo-domain: the holder of capabilities kernel code
// calls domains through (Connect(m.Kernel(), ...)), and the owner of the
// RRefs kernel code allocates (m.Kernel().Heap()). It never dies.
func (m *Manager) Kernel() *Domain { return m.kernel }

// Create creates and starts an instance of the registered kind: it runs the
// kind's constructor, on the calling goroutine (on a kernel worker, with
// StartDeadline), with a Context holding the grants of opts. A panic or an
// error in the constructor fails the instance and is returned as its
// *FailedError.
//
// The first Create seals the registries of kinds and proxies: nothing
// registers after the first domain started. Create fails during package
// initialization, so that no package's init can seal them before the others
// registered.
func (m *Manager) Create(kind string, opts ...CreateOption) (*Domain, error) {
	k, err := lookupKind(kind)
	if err != nil {
		return nil, err
	}
	cfg := &createConfig{}
	for _, o := range opts {
		o(cfg)
	}
	d, err := m.start(k, cfg, "kernel", 0, cfg.startDeadline)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// start creates and constructs one instance, its constructor bounded by
// limit if limit > 0. On a construction failure it returns the dead
// instance with its failure.
func (m *Manager) start(k *kind, cfg *createConfig, owner string, restarts int, limit time.Duration) (*Domain, error) {
	name := cfg.name
	if name == "" {
		name = k.name
	}
	if !registry.Sealed() {
		if pkg := registry.Initializing(); pkg != "" {
			return nil, fmt.Errorf("domain: creating %s during the initialization of package %s: domains start once every package is initialized", name, pkg)
		}
		registry.Seal()
	}
	d := newDomain(m, k, name, cfg, owner, restarts)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		d.acct.Close()
		return nil, fmt.Errorf("domain: creating %s: manager closed", name)
	}
	if old := m.byName[name]; old != nil && old.Alive() {
		if cfg.name != "" {
			m.mu.Unlock()
			d.acct.Close()
			return nil, fmt.Errorf("domain: an instance named %q is running", name)
		}
		name = fmt.Sprintf("%s.%d", k.name, d.id)
		d.name = name
	}
	m.byName[name] = d
	m.mu.Unlock()

	// The instance gets a copy of its account: the same account (id and
	// closed flag), but overwriting it (*ctx.Heap() = rref.Account{}) only
	// breaks the instance's own copy, not the kernel's.
	heap := *d.acct
	ctx := &Context{d: d, cfg: cfg, heap: &heap, rrefs: make(map[string]any)}
	for n, take := range cfg.rrefs {
		ctx.rrefs[n] = take(m.kernel.acct, d.acct)
	}
	impl, err := m.constructWithin(d, ctx, k, limit)
	if err == nil && impl == nil {
		err = fmt.Errorf("constructor returned a nil %v", k.iface)
	}
	if err != nil {
		if f, ok := err.(*FailedError); ok {
			return d, f
		}
		return d, d.die(Failed, &FailedError{Value: err, Where: "constructor"})
	}
	d.mu.Lock()
	d.impl = impl
	d.mu.Unlock()
	if !d.state.CompareAndSwap(uint32(Starting), uint32(Running)) {
		return d, d.dead() // one of its threads failed it already
	}
	m.record(Event{Kind: "created", Domain: name, ID: d.id, By: owner}, cfg.transient)
	return d, nil
}

// construct runs k's constructor for d. It does not look at ctx after
// handing it over: the constructor can overwrite it (*ctx = Context{}).
func construct(d *Domain, ctx *Context, k *kind) (impl any, err error) {
	defer func() {
		if v := recover(); v != nil {
			impl, err = nil, d.failWith(v, "constructor")
		}
	}()
	return k.new(ctx)
}

// constructWithin runs the constructor, on a kernel worker if limit > 0: if
// it has not returned within limit, the instance fails with a
// *DeadlineError and the worker is abandoned (counted in Stats.Stuck until
// the constructor's next kernel call stops it).
func (m *Manager) constructWithin(d *Domain, ctx *Context, k *kind, limit time.Duration) (any, error) {
	if limit <= 0 {
		return construct(d, ctx, k)
	}
	c := &construction{done: make(chan struct{})}
	go m.runConstructor(c, d, ctx, k)
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		if c.state.CompareAndSwap(frameRunning, frameAbandoned) {
			m.stuck.Add(1)
			m.stuckTotal.Add(1)
			return nil, d.die(Failed, &FailedError{
				Value: &DeadlineError{Call: "constructor", After: limit},
				Where: "deadline",
			})
		}
		<-c.done
	}
	if !c.returned {
		// The worker stopped without returning: the instance died (its
		// thread stops with runtime.Goexit then).
		return nil, d.dead()
	}
	return c.impl, c.err
}

// A construction is a constructor running on a kernel worker.
type construction struct {
	impl     any
	err      error
	returned bool         // the constructor returned (or panicked)
	state    atomic.Int32 // frameRunning, frameFinished or frameAbandoned
	done     chan struct{}
}

// runConstructor is the bottom of the stack of a constructor with a deadline
// (ownThread looks for it there).
func (m *Manager) runConstructor(c *construction, d *Domain, ctx *Context, k *kind) {
	defer func() {
		if c.state.CompareAndSwap(frameRunning, frameFinished) {
			close(c.done)
			return
		}
		m.stuck.Add(-1)
	}()
	c.impl, c.err = construct(d, ctx, k)
	c.returned = true
}

// Kill terminates d: its callers get a *FailedError whose Value is
// ErrTerminated; its RRefs are reclaimed; its threads stop at their next
// crossing or kernel call. Killing a dead instance does nothing, but not
// before its death is complete: when Kill returns, d's RRefs are reclaimed,
// its devices reset and its death recorded, whoever failed it.
func (m *Manager) Kill(d *Domain) {
	if d == m.kernel || !d.genuine() || d.mgr != m {
		return
	}
	d.die(Terminated, &FailedError{Value: ErrTerminated, Where: "kill"})
}

// Restart kills d if it is alive and creates the next instance of its name
// from the same kind and grants (the RRefs of GrantRRef excepted: they went
// to the first instance). by says who restarts it, for the listing and the
// log. On a construction failure it returns the dead new instance with its
// failure.
func (m *Manager) Restart(d *Domain, by string) (*Domain, error) {
	return m.RestartWithin(d, by, d.cfg.startDeadline)
}

// RestartWithin is Restart with a deadline on the new instance's
// constructor (none if limit <= 0): a constructor that has not returned
// within limit fails the new instance, which is returned dead with a
// *FailedError whose Value is a *DeadlineError. Shadows restart this way.
func (m *Manager) RestartWithin(d *Domain, by string, limit time.Duration) (*Domain, error) {
	if !d.genuine() || d.mgr != m {
		return nil, fmt.Errorf("domain: restarting a domain this manager did not make")
	}
	if d == m.kernel || d.kind == nil {
		return nil, fmt.Errorf("domain: the kernel cannot be restarted")
	}
	m.Kill(d)
	cfg := d.cfg.forRestart()
	cfg.name = d.name
	nd, err := m.start(d.kind, cfg, by, d.restarts+1, limit)
	m.record(Event{Kind: "restarted", Domain: d.name, ID: idOf(nd), By: by, Err: d.Err(), Restarts: d.restarts + 1, Failure: err}, false)
	return nd, err
}

func idOf(d *Domain) ID {
	if d == nil {
		return 0
	}
	return d.id
}

// Lookup returns the latest instance named name, alive or dead, or nil.
func (m *Manager) Lookup(name string) *Domain {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byName[name]
}

// Close kills every instance and stops the idle workers. The manager creates
// nothing afterwards.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	var live []*Domain
	for _, d := range m.byName {
		live = append(live, d)
	}
	m.mu.Unlock()
	for _, d := range live {
		m.Kill(d)
	}
	close(m.closing)
}

// died does the manager's share of d's death: its crossings leave the lists
// of their other sides, its threads are watched until they are gone, and the
// death is logged.
func (m *Manager) died(d *Domain, xs []*Crossing) {
	for _, x := range xs {
		if x.caller != d {
			x.caller.retire(x)
		}
		if x.callee != d {
			x.callee.retire(x)
		}
	}
	m.mu.Lock()
	if d.threads.Load() > 0 {
		m.zombies[d] = struct{}{}
	}
	m.mu.Unlock()
	f := d.failure.Load() // record copies it
	kind := "failed"
	if d.State() == Terminated {
		kind = "terminated"
	}
	m.record(Event{Kind: kind, Domain: d.name, ID: d.id, Err: f}, d.cfg.transient)
	if d.cfg.transient {
		m.mu.Lock()
		if m.byName[d.name] == d {
			delete(m.byName, d.name)
		}
		m.mu.Unlock()
	}
}

// Export makes obj, an implementation of IDL interfaces held by kernel
// code, something capabilities can be bound to (Grant): a kernel service
// that domains call, such as the console or the program loader. Calls
// through those capabilities have the kernel as their callee, which cannot
// die: obj must not panic (it is trusted kernel code, and a panic in it is
// the kernel's).
func (m *Manager) Export(obj any) Provider {
	return export{m.kernel, obj}
}

func (m *Manager) forgetZombie(d *Domain) {
	m.mu.Lock()
	delete(m.zombies, d)
	m.mu.Unlock()
}

func (m *Manager) logf(format string, args ...any) {
	if m.log != nil {
		m.log(format, args...)
	}
}

// An Event is a change in a domain's life.
type Event struct {
	At       time.Time
	Kind     string // created, failed, terminated, restarted
	Domain   string // instance name
	ID       ID     // the instance (for restarted: the new one)
	By       string // who created or restarted it
	Err      *FailedError
	Restarts int   // for restarted: the new instance's restart count
	Failure  error // for restarted: why the new instance did not start
	// Transient: the instance is short-lived (see Transient); whoever
	// created it reports its end, so hooks need not log it.
	Transient bool
}

func (e Event) String() string {
	s := fmt.Sprintf("domain %s (#%d) %s", e.Domain, e.ID, e.Kind)
	if e.By != "" {
		s += " by " + e.By
	}
	if e.Kind == "restarted" {
		s += fmt.Sprintf(" (restart %d)", e.Restarts)
	}
	if e.Err != nil && e.Kind != "terminated" {
		s += ": " + e.Err.Error()
	}
	if e.Failure != nil {
		s += "; the new instance failed: " + e.Failure.Error()
	}
	return s
}

const maxEvents = 256

// record keeps e in the event log and tells the hook. The log keeps copies
// of the failures, and hands out copies (Events, the hook): rewriting a
// failure one got changes nobody's log.
func (m *Manager) record(e Event, quiet bool) {
	e.At = time.Now()
	e.Transient = quiet
	e = e.withCopies()
	m.mu.Lock()
	if len(m.events) < maxEvents {
		m.events = append(m.events, e)
	} else {
		m.events[m.nevents%maxEvents] = e
	}
	m.nevents++
	m.mu.Unlock()
	if !quiet {
		m.logf("%v", e)
	}
	if m.hook != nil {
		m.hook(e.withCopies())
	}
}

// withCopies is e with copies of its failures.
func (e Event) withCopies() Event {
	e.Err = e.Err.copyOf()
	if f, ok := e.Failure.(*FailedError); ok {
		e.Failure = f.copyOf()
	}
	return e
}

// Events returns the last events (at most 256), oldest first.
func (m *Manager) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var es []Event
	if len(m.events) < maxEvents {
		es = slices.Clone(m.events)
	} else {
		i := m.nevents % maxEvents
		es = append(slices.Clone(m.events[i:]), m.events[:i]...)
	}
	for i := range es {
		es[i] = es[i].withCopies()
	}
	return es
}

// Info is one line of the domain listing.
type Info struct {
	ID       ID
	Name     string
	Kind     string
	State    State
	Owner    string // who created it: kernel, shadow, ...
	RRefs    int    // live RRefs it owns (deque elements included)
	Threads  int    // its live threads (still running after its death: lingering)
	CallsIn  uint64 // calls into it, through every capability to it
	CallsOut uint64 // calls it made
	Faults   uint64 // calls into it that failed it
	Restarts int    // instances of its name before it
	Err      *FailedError
}

// List returns the kernel and the latest instance of every name, sorted by
// name, the kernel first.
func (m *Manager) List() []Info {
	m.mu.Lock()
	ds := []*Domain{m.kernel}
	var names []string
	for n := range m.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ds = append(ds, m.byName[n])
	}
	m.mu.Unlock()
	held := rref.CountByOwner()
	infos := make([]Info, 0, len(ds))
	for _, d := range ds {
		c := d.counts()
		owner := d.owner
		infos = append(infos, Info{
			ID: d.id, Name: d.name, Kind: d.Kind(), State: d.State(), Owner: owner,
			RRefs: held[uint32(d.id)], Threads: int(d.threads.Load()),
			CallsIn: c.in, CallsOut: c.out, Faults: c.faults, Restarts: d.restarts, Err: d.Err(),
		})
	}
	return infos
}

// Stats are manager-wide counters.
type Stats struct {
	Live       int   // live instances
	Threads    int   // live domain threads
	Lingering  int   // threads of dead instances that have not stopped yet
	Workers    int   // deadline workers, idle or busy
	Stuck      int64 // abandoned deadline workers still running
	StuckTotal int64 // deadline workers ever abandoned
}

// Stats returns the manager-wide counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	s := Stats{}
	for _, d := range m.byName {
		if d.Alive() {
			s.Live++
		}
	}
	for d := range m.zombies {
		s.Lingering += int(d.threads.Load())
	}
	m.mu.Unlock()
	s.Threads = int(m.threads.Load())
	s.Workers = int(m.workers.Load())
	s.Stuck = m.stuck.Load()
	s.StuckTotal = m.stuckTotal.Load()
	return s
}
