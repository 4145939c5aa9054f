package domain_test

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/hostile/hijack"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// The tests of this file are the holes an outside review found in the
// kernel API, each played by a hostile domain (a "tester" whose code is the
// test's, see rref_test.go): each must now be refused by the kernel, or
// fail the hostile domain and nobody else.

// watchdog is how long a test waits for what must happen at once before it
// calls the kernel hung: generous, for loaded CI machines.
const watchdog = 30 * time.Second

// within runs f on a goroutine and fails the test if it has not returned
// within the watchdog: the holes of this file hung the kernel.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(watchdog):
		t.Fatalf("%s: still blocked after %v", what, watchdog)
	}
}

// hostile creates a tester running null as its Null, granted the
// capabilities of opts.
func hostile(t *testing.T, m *domain.Manager, name string, null func(ctx *domain.Context) error, opts ...domain.CreateOption) (*domain.Domain, idl.Bench) {
	t.Helper()
	opts = append(opts, domain.Name(name), domain.GrantDevice("behavior", &behavior{null: null}))
	d := create(t, m, "tester", opts...)
	return d, connect[idl.Bench](t, m, d)
}

// failedWith checks that err is the failure of d, that d is the only one
// dead, and that its value says want.
func failedWith(t *testing.T, err error, d *domain.Domain, want string) {
	t.Helper()
	f := failure(err)
	if f == nil || !d.Failed(err) || d.Alive() {
		t.Fatalf("the hostile domain's call: %v (alive %v), want its failure", err, d.Alive())
	}
	if !strings.Contains(f.Error(), want) {
		t.Errorf("failure %q, want it to say %q", f.Error(), want)
	}
}

// TestProxyHijackRefused: hole 1. RegisterProxy from a domain replaced the
// generated proxy of an IDL interface for every later binding. At init
// (package hijack, linked into this test) the kernel refuses it, and the
// shadow and a Manager of its own; at run time the domain that tries fails.
// Every binding still gets the generated proxy.
func TestProxyHijackRefused(t *testing.T) {
	for what, v := range map[string]any{"proxy": hijack.ProxyRefused, "shadow": hijack.ShadowRefused} {
		if s, _ := v.(string); !strings.Contains(s, "only the initialization of github.com/rlgo/redleaf/idl may") {
			t.Errorf("registering a %s at another package's init: %v", what, v)
		}
	}
	if s, _ := hijack.ManagerRefused.(string); !strings.Contains(s, "initialization of package github.com/rlgo/redleaf/internal/testdomains/hostile/hijack") {
		t.Errorf("NewManager at a domain's init: %v", hijack.ManagerRefused)
	}

	m := newManager(t)
	d, p := hostile(t, m, "hijacker", func(*domain.Context) error {
		domain.RegisterProxy(func(x *domain.Crossing, impl idl.Bench) idl.Bench { return impl })
		return nil
	})
	failedWith(t, p.Null(), d, "after the first domain started: the registry is sealed")

	nb := create(t, m, nullbench.Kind)
	q := connect[idl.Bench](t, m, nb)
	if !domain.IsGenerated(reflect.TypeOf(q), reflect.TypeFor[idl.Bench]()) {
		t.Errorf("a binding of idl.Bench is a %T", q)
	}
	if err := q.Null(); err != nil || hijack.Intercepted.Load() != 0 {
		t.Errorf("call: %v; the hijacking proxy saw %d calls", err, hijack.Intercepted.Load())
	}
}

// TestForgedHolderRefused: hole 2. domain.Connect with a forged
// &domain.Domain{} holder returned a capability bound to nobody the kernel
// knows: one that still worked after the kernel revoked the domain's
// imports and killed it. Every way a domain can name a holder is refused,
// and a shadow's Target does not hand out its guard (whose methods return
// the guarded *domain.Domain).
func TestForgedHolderRefused(t *testing.T) {
	m := newManager(t)
	target := create(t, m, nullbench.Kind)
	g, err := shadow.New(m, target, shadow.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	d, p := hostile(t, m, "forger", func(ctx *domain.Context) error {
		for _, grant := range []string{"plain", "shadowed"} {
			c, err := domain.Import[idl.Bench](ctx, grant)
			if err != nil {
				return err
			}
			tgt := c.(domain.Capability).Target()
			if _, ok := tgt.(*shadow.Guard); ok {
				got = append(got, grant+": the Target is the guard")
			}
			for _, holder := range []*domain.Domain{{}, nil} {
				if v, err := domain.Connect[idl.Bench](holder, tgt); err == nil {
					got = append(got, fmt.Sprintf("%s: Connect(%p) bound %T", grant, holder, v))
				}
				if v, err := tgt.Provide(holder, reflect.TypeFor[idl.Bench]()); err == nil {
					got = append(got, fmt.Sprintf("%s: Provide(%p) bound %T", grant, holder, v))
				}
			}
		}
		return nil
	}, domain.Grant("plain", target), domain.Grant("shadowed", g))
	if err := p.Null(); err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		t.Error(s)
	}
	m.Kill(d)
	if n := len(target.Imports()) + len(d.Imports()); n != 2 { // the forger's two imports, nothing more
		t.Errorf("%d imports", n)
	}
}

// TestNewManagerRefusedToDomains: a Manager a domain made would give it a
// kernel pseudo-domain (a holder that never dies) and a second heap account
// (to end its own loans with, or park cells on past its death). The kernel
// refuses to make one under domain code: in a call, on a domain's thread, in
// a constructor.
func TestNewManagerRefusedToDomains(t *testing.T) {
	m := newManager(t)
	d, p := hostile(t, m, "in-call", func(*domain.Context) error {
		domain.NewManager()
		return nil
	})
	failedWith(t, p.Null(), d, "domain.NewManager under a call through a capability")

	d, p = hostile(t, m, "in-thread", func(ctx *domain.Context) error {
		ctx.Spawn("maker", func() { domain.NewManager() })
		<-ctx.Done()
		return nil
	})
	failedWith(t, p.Null(), d, "domain.NewManager under a domain thread")

	_, err := m.Create("hostile-constructor", domain.GrantDevice("constructor", func(*domain.Context) {
		domain.NewManager()
	}))
	if f := failure(err); f == nil || f.Where != "constructor" || !strings.Contains(f.Error(), "domain.NewManager under a domain constructor") {
		t.Errorf("NewManager in a constructor: %v", err)
	}
}

func init() {
	domain.Register("hostile-constructor", func(ctx *domain.Context) (idl.Bench, error) {
		f, err := domain.Device[func(*domain.Context)](ctx, "constructor")
		if err != nil {
			return nil, err
		}
		f(ctx)
		return &nullbench.Bench{}, nil
	})
}

// TestForgedCrossingRefused: a Crossing is the kernel half of a capability
// (both accounts, Fail, Revoke). One a domain declares is refused.
func TestForgedCrossingRefused(t *testing.T) {
	m := newManager(t)
	for name, use := range map[string]func(x *domain.Crossing){
		"Revoke": func(x *domain.Crossing) { x.Revoke() },
		"Fail":   func(x *domain.Crossing) { x.Fail("boom") },
		"Target": func(x *domain.Crossing) { x.Target(nil).Provide(nil, nil) },
		"PassIn": func(x *domain.Crossing) { domain.PassIn[idl.Bench](x, nil) },
	} {
		d, p := hostile(t, m, "crossing-"+name, func(*domain.Context) error {
			use(&domain.Crossing{})
			return nil
		})
		failedWith(t, p.Null(), d, "a Crossing the kernel did not make: refused")
	}
}

// TestForgedAccountsInDomains: hole 2 on the shared heap, played by domains.
// A domain ended its own loan mid-call with a throwaway &rref.Account{} and
// the innocent borrower was blamed; cells allocated on a fake account
// outlived the domain. Now the domain that tries fails, the borrower keeps
// its loan, and no cell outlives the domain; a domain that overwrites its
// own account (the kernel's, before) breaks only itself.
func TestForgedAccountsInDomains(t *testing.T) {
	m := newManager(t)
	base := rref.Live()

	// The borrower: an innocent tester whose Peek waits, mid-call, for
	// the owner to try to end the loan, then reads the borrowed block.
	inside, proceed := make(chan struct{}), make(chan struct{})
	refusals := make(chan string, 1)
	innocent := create(t, m, "tester", domain.Name("borrower"), domain.GrantDevice("behavior", &behavior{
		peek: func(_ *domain.Context, b rref.Borrow[idl.Block], i uint32) (byte, error) {
			close(inside)
			<-proceed
			return b.Get()[i], nil
		},
	}))
	owner, p := hostile(t, m, "owner", func(ctx *domain.Context) error {
		next, err := domain.Import[idl.Bench](ctx, "next")
		if err != nil {
			return err
		}
		r := rref.New(ctx.Heap(), idl.Block{7})
		ctx.Spawn("ender", func() {
			<-inside
			defer close(proceed)
			func() {
				defer func() {
					if v := recover(); v != nil { // the test's, not the attacker's
						refusals <- fmt.Sprint(v)
					}
				}()
				own := *ctx.Heap()
				rref.Unlend(r.Borrow(), ctx.Heap(), &own) // refused: the same account
			}()
			rref.Unlend(r.Borrow(), ctx.Heap(), &rref.Account{}) // refused: forged
		})
		_, err = next.Peek(r.Borrow(), 0)
		return err
	}, domain.Grant("next", innocent))
	failedWith(t, p.Null(), owner, "forged account")
	if s := <-refusals; !strings.Contains(s, "lender and borrower are the same account") {
		t.Errorf("Unlend with a copy of the owner's account: %s", s)
	}
	if !innocent.Alive() || innocent.Err() != nil {
		t.Errorf("the borrower was blamed: %v", innocent.Err())
	}

	// Cells on a forged account.
	d, p := hostile(t, m, "parker", func(ctx *domain.Context) error {
		rref.New(ctx.Heap(), idl.Block{1})
		rref.New(&rref.Account{}, idl.Block{2})
		return nil
	})
	failedWith(t, p.Null(), d, "forged account (not made by the kernel): refused")

	// A domain that zeroes its own account.
	d, p = hostile(t, m, "zeroer", func(ctx *domain.Context) error {
		rref.New(ctx.Heap(), idl.Block{3})
		*ctx.Heap() = rref.Account{}
		return nil
	})
	if err := p.Null(); err != nil {
		t.Fatal(err)
	}
	within(t, "killing a domain that zeroed its account", func() { m.Kill(d) })
	if n := rref.Live(); n != base {
		t.Errorf("%d cells outlived their domains", n-base)
	}
}

// checker is a fmt.Stringer whose String makes a kernel call: in a dead
// domain, the call that stops the thread happens inside fmt, which
// recovers the panics of the String methods it calls.
type checker struct{ ctx *domain.Context }

func (c checker) String() string {
	c.ctx.Check()
	return "alive"
}

// TestDeadThreadsStop: hole 7. fmt recovered the kernel's unwinding of a
// dead domain's thread (raised in a String method), and the thread kept
// running. A dead domain's own threads now stop with runtime.Goexit, which
// no recover catches, not fmt's and not the domain's own; a thread of
// another domain in the dead one unwinds through fmt back to its crossing.
func TestDeadThreadsStop(t *testing.T) {
	m := newManager(t)
	var survived atomic.Int64
	started := make(chan struct{}, 4)
	d, p := hostile(t, m, "zombie", func(ctx *domain.Context) error {
		next, err := domain.Import[idl.Bench](ctx, "next")
		if err != nil {
			return err
		}
		ctx.Spawn("crossing", func() { // stops as it calls out
			started <- struct{}{}
			<-ctx.Done()
			func() {
				defer func() { _ = recover() }()
				next.Null()
			}()
			survived.Add(1)
		})
		ctx.Spawn("fmt", func() {
			started <- struct{}{}
			<-ctx.Done()
			_ = fmt.Sprint(checker{ctx})
			survived.Add(1)
		})
		ctx.Spawn("recover", func() {
			started <- struct{}{}
			<-ctx.Done()
			func() {
				defer func() { _ = recover() }()
				ctx.Check()
			}()
			survived.Add(1)
		})
		ctx.Spawn("errorf", func() {
			started <- struct{}{}
			<-ctx.Done()
			_ = fmt.Errorf("%v", checker{ctx})
			survived.Add(1)
		})
		return nil
	}, domain.Grant("next", create(t, m, nullbench.Kind)))
	if err := p.Null(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		<-started
	}
	m.Kill(d)
	waitThreads(t, m, 0)
	if n := survived.Load(); n != 0 {
		t.Errorf("%d threads of a dead domain went on after a kernel call", n)
	}

	// A thread of the kernel inside the dead domain: unwinds to the
	// proxy, through fmt.
	entered := make(chan struct{})
	var after atomic.Int64
	d, p = hostile(t, m, "host", func(ctx *domain.Context) error {
		close(entered)
		<-ctx.Done()
		_ = fmt.Sprint(checker{ctx})
		after.Add(1)
		return nil
	})
	errc := make(chan error, 1)
	go func() { errc <- p.Null() }()
	<-entered
	m.Kill(d)
	if err := <-errc; !d.Failed(err) || after.Load() != 0 {
		t.Errorf("the call into the killed domain: %v; its code ran on %d times after fmt", err, after.Load())
	}
}

// waitThreads waits until m has n domain threads.
func waitThreads(t *testing.T, m *domain.Manager, n int) {
	t.Helper()
	deadline := time.Now().Add(watchdog)
	for m.Stats().Threads != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d domain threads, want %d", m.Stats().Threads, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// blocker is a panic value (and a log argument) whose String and Error
// block until release is closed.
type blocker struct {
	entered chan<- struct{}
	release <-chan struct{}
}

func (b blocker) String() string {
	if b.entered != nil {
		b.entered <- struct{}{}
	}
	<-b.release
	return "released"
}

func (b blocker) Error() string { return b.String() }

// TestBlockingPanicValue: hole 8. A panic value whose String blocks stalled
// the kernel's death path (the log line of the death formatted it), so
// deadlines and Kill hung. The kernel now names such a value by its type
// and never calls its methods; and a domain's log arguments are formatted
// on its own thread, outside the kernel's log.
func TestBlockingPanicValue(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var logMu sync.Mutex // a console writer's lock, as the booted system's log has
	var lines []string
	m := domain.NewManager(domain.WithLog(func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}))
	defer m.Close()

	d, p := hostile(t, m, "blocker", func(*domain.Context) error {
		panic(blocker{release: release})
	})
	var err error
	within(t, "a call whose callee panics with a blocking value", func() { err = p.Null() })
	failedWith(t, err, d, "an error of type domain_test.blocker")
	within(t, "Kill, List and Events after it", func() {
		m.Kill(d)
		m.List()
		m.Events()
	})

	// Logf with a blocking argument holds only its own thread.
	entered := make(chan struct{})
	l, lp := hostile(t, m, "logger-blocks", func(ctx *domain.Context) error {
		ctx.Spawn("log", func() { ctx.Logf("%v", blocker{entered: entered, release: release}) })
		return nil
	})
	if err := lp.Null(); err != nil {
		t.Fatal(err)
	}
	<-entered
	other := create(t, m, nullbench.Kind, domain.Name("other"))
	within(t, "the death of another domain while a domain's log argument blocks", func() { m.Kill(other) })
	logMu.Lock()
	logged := strings.Join(lines, "\n")
	logMu.Unlock()
	if !strings.Contains(logged, "domain other") || !strings.Contains(logged, "terminated") {
		t.Errorf("the death of other is not in the log:\n%s", logged)
	}
	_ = l
}

// TestFailedErrorCopies: hole 10. Every observer shared one *FailedError:
// a caller that rewrote its ID stopped a shadow from recovering and
// rewrote the kernel's event log. Every observer now gets a copy; the
// kernel's record, its log and the other observers keep the truth; Failed
// recognizes a copy whatever its fields say, and no FailedError a domain
// made.
func TestFailedErrorCopies(t *testing.T) {
	m := newManager(t)
	d := create(t, m, nullbench.Kind)
	p1, p2 := connect[idl.Bench](t, m, d), connect[idl.Bench](t, m, d)
	m.Kill(d)
	f1, f2 := failure(p1.Null()), failure(p2.Null())
	if f1 == nil || f2 == nil || f1 == f2 {
		t.Fatalf("failures %p %p: want two copies", f1, f2)
	}
	f1.ID, f1.Domain, f1.Value, f1.Where = 999, "someone-else", "rewritten", "nowhere"
	for what, f := range map[string]*domain.FailedError{"the other caller's": f2, "Err": d.Err(), "the event log's": lastFailure(m.Events(), d.Name())} {
		if f == nil || f.ID != d.ID() || f.Domain != d.Name() || f.Value != domain.ErrTerminated {
			t.Errorf("%s failure after a caller rewrote its copy: %+v", what, f)
		}
	}
	if !d.Failed(f1) || !d.Failed(f2) {
		t.Error("Failed does not recognize the kernel's copies")
	}
	if d.Failed(&domain.FailedError{Domain: d.Name(), ID: d.ID(), Value: domain.ErrTerminated}) {
		t.Error("Failed recognizes a FailedError the kernel did not make")
	}
	if !errors.Is(f2, domain.ErrTerminated) {
		t.Errorf("%v is not ErrTerminated", f2)
	}
}

func lastFailure(es []domain.Event, name string) *domain.FailedError {
	var f *domain.FailedError
	for _, e := range es {
		if e.Domain == name && e.Err != nil {
			f = e.Err
		}
	}
	return f
}

// code is a plain-data error, as an errno is.
type code uint16

func (c code) Error() string { return fmt.Sprintf("code %d", uint16(c)) }

// live is an error pointing into its domain's state, with methods that do
// what the domain wants on whichever thread calls them.
type live struct {
	msg   *string
	block chan struct{}
	panic bool
}

func (l *live) Error() string {
	if l.panic {
		panic("Error of a returned error")
	}
	return *l.msg
}

func (l *live) Is(error) bool {
	<-l.block
	return true
}

// TestErrorsCrossAsValues: errors crossed by reference: a callee's error
// type ran the callee's code on the caller's thread whenever the caller
// looked at it (a panic there was the caller's, a block held it), and could
// change after the call. Errors now cross as values: the message is taken
// inside the crossing, plain-data values and kernel errors stay visible to
// errors.Is and errors.As, io.EOF and sentinels pass as they are.
func TestErrorsCrossAsValues(t *testing.T) {
	m := newManager(t)
	block := make(chan struct{})
	defer close(block)
	msg := "before"
	var ret error
	d, p := hostile(t, m, "errors", func(*domain.Context) error { return ret })

	ret = &live{msg: &msg, block: block}
	err := p.Null()
	msg = "rewritten after the call"
	within(t, "looking at a hostile callee's error", func() {
		if err.Error() != "before" || errors.Is(err, io.EOF) {
			t.Errorf("the caller's error: %q", err.Error())
		}
	})

	ret = fmt.Errorf("open x: %w", code(2))
	err = p.Null()
	var c code
	if !errors.Is(err, code(2)) || !errors.As(err, &c) || c != 2 || err.Error() != "open x: code 2" {
		t.Errorf("a wrapped plain-data error: %v (as %d)", err, c)
	}

	sentinel := fmt.Errorf("a sentinel of the callee's package")
	ret = fmt.Errorf("context: %w", sentinel)
	if err := p.Null(); !errors.Is(err, sentinel) || errors.As(err, new(interface{ Unwrap() error })) {
		t.Errorf("a wrapped sentinel: %v", err)
	}

	ret = io.EOF
	if err := p.Null(); err != io.EOF {
		t.Errorf("io.EOF crossed as %T", err)
	}

	ret = &live{panic: true}
	failedWith(t, p.Null(), d, "Error of a returned error")
}

// twoFaced exports idl.Stage, and has the methods of idl.Bench too.
type twoFaced struct{ nullbench.Bench }

func (twoFaced) Configure(idl.StageConfig) error         { return nil }
func (twoFaced) Handle(r idl.Request) (idl.Reply, error) { return idl.Reply{Seq: r.Seq}, nil }
func (twoFaced) Link(idl.Stage) error                    { return nil }

func init() {
	domain.Register("two-faced", func(*domain.Context) (idl.Stage, error) { return &twoFaced{}, nil })
}

// TestOnlyTheExportedInterface: a capability to a domain is of the one
// interface its kind exports. An implementation that also has the methods
// of another IDL interface does not export that one: neither the kernel
// nor a domain it was granted to can bind it as such.
func TestOnlyTheExportedInterface(t *testing.T) {
	m := newManager(t)
	d := create(t, m, "two-faced")
	if _, err := domain.Connect[idl.Bench](m.Kernel(), d); err == nil || !strings.Contains(err.Error(), "exports idl.Stage, not idl.Bench") {
		t.Errorf("Connect as idl.Bench: %v", err)
	}
	var got error
	_, p := hostile(t, m, "importer", func(ctx *domain.Context) error {
		_, got = domain.Import[idl.Bench](ctx, "next")
		return nil
	}, domain.Grant("next", d))
	if err := p.Null(); err != nil || got == nil {
		t.Errorf("Import as idl.Bench: %v, %v", err, got)
	}
	if _, err := connect[idl.Stage](t, m, d).Handle(idl.Request{Seq: 1}); err != nil {
		t.Errorf("as the idl.Stage it exports: %v", err)
	}
}

// TestContextOverwritten: a constructor that overwrites its Context
// (*ctx = domain.Context{}) and then panics fails its own instance; the
// kernel, which used to read the instance from the Context to fail it, is
// not the one that dies.
func TestContextOverwritten(t *testing.T) {
	m := newManager(t)
	_, err := m.Create("hostile-constructor", domain.Name("wiper"), domain.GrantDevice("constructor", func(ctx *domain.Context) {
		*ctx = domain.Context{}
		panic("after wiping its context")
	}))
	if f := failure(err); f == nil || f.Domain != "wiper" || !strings.Contains(f.Error(), "after wiping its context") {
		t.Errorf("Create: %v", err)
	}
}
