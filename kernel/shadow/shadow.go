package shadow

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/internal/registry"
)

// Policy limits what a Guard does. The zero Policy gets the defaults.
type Policy struct {
	Retries  int           // retries of one call (default 3)
	Restarts int           // restarts within Window (default 10)
	Window   time.Duration // default 1 minute
	// Logf, if set, gets a line when the restart budget runs out: the
	// first refusal after a restart was allowed (Guard.Exhausted counts
	// every refusal).
	Logf func(format string, args ...any)
	// Start bounds each step of a restart: the new instance's constructor,
	// and each replayed init call (default 30 seconds). A step that takes
	// longer fails the new instance, and the restart counts as failed.
	Start time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Retries <= 0 {
		p.Retries = 3
	}
	if p.Restarts <= 0 {
		p.Restarts = 10
	}
	if p.Window <= 0 {
		p.Window = time.Minute
	}
	if p.Start <= 0 {
		p.Start = 30 * time.Second
	}
	return p
}

// ErrGaveUp is wrapped by the errors of restarts the Policy refused.
const ErrGaveUp = domain.Error("shadow: restart limit reached")

// A Restart is one entry of a Guard's log.
type Restart struct {
	At    time.Time
	Name  string
	Old   domain.ID           // the instance that failed
	New   domain.ID           // the instance that replaced it (0 if none started)
	Cause *domain.FailedError // why Old died
	Err   error               // nil if New is running and its init was replayed
}

func (r Restart) String() string {
	s := fmt.Sprintf("shadow %s: restarted #%d as #%d", r.Name, r.Old, r.New)
	if r.Cause != nil {
		s += " after: " + r.Cause.Error()
	}
	if r.Err != nil {
		s += "; restart failed: " + r.Err.Error()
	}
	return s
}

// A Guard guards one domain name: it restarts the instance when it fails and
// gives holders shadows (it is a domain.Provider).
//
// A restart runs outside the guard's lock (constructor and replay are the
// domain's code, bounded by Policy.Start): while it runs, the listing
// methods answer, and other holders whose calls failed on the same instance
// wait for its outcome, without the lock.
type Guard struct {
	m      *domain.Manager
	iface  reflect.Type
	newFor func(g *Guard, holder *domain.Domain, opts []domain.BindOption) (any, error)
	policy Policy

	recovered atomic.Int64 // calls that succeeded after a retry
	exhausted atomic.Int64 // restarts the policy refused

	quiet bool // the refusal was logged already, since the last restart; guarded by mu

	mu         sync.Mutex
	cur        *domain.Domain // guarded by mu
	restarting *restartOp     // the restart under way, or nil; guarded by mu
	times      []time.Time    // restarts within the window; guarded by mu
	restarts   int            // guarded by mu
	log        []Restart      // the last maxLog restarts; guarded by mu
	inits      []initCall     // guarded by mu
}

// A restartOp is one restart under way, for the callers that wait for it.
type restartOp struct {
	done chan struct{} // closed when it is over
	err  error         // why it gave up (written before done is closed)
}

// An initCall is the last successful call of one //idl:init method.
type initCall struct {
	method string
	replay func(any) error
}

const maxLog = 64

// shadows maps an IDL interface to the constructor of its generated shadow.
var shadows sync.Map // reflect.Type -> func(*Guard, *domain.Domain, []domain.BindOption) (any, error)

// Register registers the shadow constructor of IDL interface I. For
// generated code (cmd/idlgen), from the init function of the IDL package,
// after the interface's proxy. It panics under the rules of
// domain.RegisterProxy (an IDL interface, from that package's
// initialization, before any domain started, once), and if I has no proxy.
func Register[I any](newShadow func(*Client[I]) I) {
	t := reflect.TypeFor[I]()
	if err := registry.CheckIDL("shadow", t); err != nil {
		panic("shadow.Register: " + err.Error())
	}
	if !domain.HasProxy(t) {
		panic(fmt.Sprintf("shadow.Register: %v has no proxy: register it first", t))
	}
	f := func(g *Guard, holder *domain.Domain, opts []domain.BindOption) (any, error) {
		c := &Client[I]{g: g, holder: holder, opts: opts}
		if _, err := c.rebind(); err != nil {
			return nil, err
		}
		return newShadow(c), nil
	}
	if _, dup := shadows.LoadOrStore(t, f); dup {
		panic(fmt.Sprintf("shadow.Register: %v has a shadow already", t))
	}
}

// New guards instance d, managed by m, with policy p. d's interface must have
// a generated shadow.
func New(m *domain.Manager, d *domain.Domain, p Policy) (*Guard, error) {
	t := d.Interface()
	if t == nil {
		return nil, fmt.Errorf("shadow: %s exports nothing", d.Name())
	}
	f, ok := shadows.Load(t)
	if !ok {
		return nil, fmt.Errorf("shadow: no shadow for %v: declare it in the IDL package and run go generate", t)
	}
	return &Guard{
		m: m, iface: t, policy: p.withDefaults(), cur: d,
		newFor: f.(func(*Guard, *domain.Domain, []domain.BindOption) (any, error)),
	}, nil
}

// Provide returns a shadow of the guarded interface for holder; its calls go
// through proxies bound with opts.
func (g *Guard) Provide(holder *domain.Domain, iface reflect.Type, opts ...domain.BindOption) (any, error) {
	if holder == nil {
		return nil, fmt.Errorf("shadow: no holder")
	}
	if iface != g.iface {
		return nil, fmt.Errorf("shadow: the guarded domain exports %v, not %v", g.iface, iface)
	}
	return g.newFor(g, holder, opts)
}

// provider is what a shadow's Target is: the guard, as a domain.Provider
// and nothing else. A domain holding a shadow passes it on this way; it
// never gets the *Guard (whose methods hand out the guarded *domain.Domain).
type provider struct{ g *Guard }

func (p provider) Provide(holder *domain.Domain, iface reflect.Type, opts ...domain.BindOption) (any, error) {
	return p.g.Provide(holder, iface, opts...)
}

// Name is the guarded domain's name.
func (g *Guard) Name() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur.Name()
}

// Current is the guarded instance now.
func (g *Guard) Current() *domain.Domain {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}

// Restarts is how many restarts the guard made.
func (g *Guard) Restarts() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.restarts
}

// Recovered is how many calls succeeded on a retry after a failure.
func (g *Guard) Recovered() int64 { return g.recovered.Load() }

// Log returns the last restarts (at most 64), oldest first.
func (g *Guard) Log() []Restart {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Restart(nil), g.log...)
}

// recoverFrom returns the instance to retry on after failed died: a new
// one, restarted here, if failed is still the current instance; the current
// one if somebody restarted it already; the outcome of the restart under
// way, if there is one.
func (g *Guard) recoverFrom(failed *domain.Domain) (*domain.Domain, error) {
	g.mu.Lock()
	for g.cur == failed && g.restarting != nil {
		op := g.restarting
		g.mu.Unlock()
		<-op.done // bounded by the restart's deadlines
		if op.err != nil {
			return nil, op.err
		}
		g.mu.Lock()
	}
	if g.cur != failed {
		cur := g.cur
		g.mu.Unlock()
		return cur, nil
	}
	op := &restartOp{done: make(chan struct{})}
	g.restarting = op
	g.mu.Unlock()
	nd, err := g.restart(failed)
	g.mu.Lock()
	g.restarting = nil
	g.mu.Unlock()
	op.err = err
	close(op.done)
	return nd, err
}

// restart restarts failed, the current instance, within the policy, without
// the lock: g.restarting marks it under way.
func (g *Guard) restart(failed *domain.Domain) (*domain.Domain, error) {
	for {
		now := time.Now()
		g.mu.Lock()
		for len(g.times) > 0 && now.Sub(g.times[0]) > g.policy.Window {
			g.times = g.times[1:]
		}
		if len(g.times) >= g.policy.Restarts {
			err := g.refuse(failed) // under mu: it reads the window and the quiet flag
			g.mu.Unlock()
			return nil, err
		}
		g.quiet = false
		g.times = append(g.times, now)
		g.restarts++
		g.mu.Unlock()

		nd, err := g.m.RestartWithin(failed, "shadow", g.policy.Start)
		if err == nil {
			err = g.replay(nd)
		}
		if err != nil && nd != nil {
			g.m.Kill(nd)
		}
		g.mu.Lock()
		g.note(Restart{At: now, Name: failed.Name(), Old: failed.ID(), New: idOf(nd), Cause: failed.Err(), Err: err})
		if err == nil || nd != nil {
			g.cur = nd
		}
		g.mu.Unlock()
		if err == nil {
			return nd, nil
		}
		if nd == nil {
			return nil, err
		}
		failed = nd // try again from the instance that did not start
	}
}

// refuse counts and logs a restart the policy refused. Callers hold g.mu.
func (g *Guard) refuse(failed *domain.Domain) error {
	err := fmt.Errorf("%w: %d restarts of %s within %v (raise the shadow's Policy.Restarts for this load)",
		ErrGaveUp, len(g.times), failed.Name(), g.policy.Window)
	g.exhausted.Add(1)
	if !g.quiet && g.policy.Logf != nil {
		g.policy.Logf("%v; its failures reach the callers", err)
	}
	g.quiet = true
	return err
}

// Exhausted is how many restarts the policy refused: failures that reached
// a caller because the restart budget was spent.
func (g *Guard) Exhausted() int64 { return g.exhausted.Load() }

func idOf(d *domain.Domain) domain.ID {
	if d == nil {
		return 0
	}
	return d.ID()
}

func (g *Guard) note(r Restart) {
	if len(g.log) == maxLog {
		g.log = g.log[1:]
	}
	g.log = append(g.log, r)
}

// replay replays the recorded init calls on nd through a kernel capability
// whose calls have the policy's Start deadline.
func (g *Guard) replay(nd *domain.Domain) error {
	g.mu.Lock()
	inits := append([]initCall(nil), g.inits...)
	g.mu.Unlock()
	if len(inits) == 0 {
		return nil
	}
	v, err := nd.Provide(g.m.Kernel(), g.iface, domain.Deadline(g.policy.Start))
	if err != nil {
		return err
	}
	defer v.(domain.Capability).Revoke()
	for _, c := range inits {
		if err := c.replay(v); err != nil {
			return fmt.Errorf("shadow: replaying %s: %w", c.method, err)
		}
	}
	return nil
}

// record keeps a successful init call to replay on restarts: the last call
// of each init method, in the order the methods were first called.
func (g *Guard) record(method string, f func(any) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.inits {
		if g.inits[i].method == method {
			g.inits[i].replay = f
			return
		}
	}
	g.inits = append(g.inits, initCall{method, f})
}
