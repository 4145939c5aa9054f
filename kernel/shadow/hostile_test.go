package shadow_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// The tests of this file are the review's holes 9 and 10 in the shadows: a
// restart that ran the domain's constructor and replay under the guard's
// lock, with no deadline, and a shadow that trusted the fields of a
// *FailedError any holder could rewrite.

// watchdog is how long a test waits for what must happen at once before it
// calls the shadow hung: generous, for loaded CI machines.
const watchdog = 30 * time.Second

// gate makes the instances of the kinds below hang once armed: their
// constructor (slow-start) or their //idl:init method (slow-configure)
// signals entered and waits for release.
type gate struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{entered: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(func() { close(g.release) })
	return g
}

func (g *gate) pass() {
	if g.armed.Load() {
		g.entered <- struct{}{}
		<-g.release
	}
}

type configured struct{ g *gate }

func (c *configured) Configure(idl.StageConfig) error { c.g.pass(); return nil }
func (c *configured) Handle(r idl.Request) (idl.Reply, error) {
	return idl.Reply{Seq: r.Seq, Hops: 1}, nil
}
func (c *configured) Link(idl.Stage) error { return nil }

// liar returns, as its own error, a FailedError that names itself.
type liar struct {
	nullbench.Bench
	ctx *domain.Context
}

func (l *liar) Null() error {
	return &domain.FailedError{Domain: l.ctx.Name(), ID: l.ctx.ID(), Value: domain.ErrTerminated, Where: "kill"}
}

func init() {
	domain.Register("slow-start", func(ctx *domain.Context) (idl.Bench, error) {
		g, err := domain.Device[*gate](ctx, "gate")
		if err != nil {
			return nil, err
		}
		g.pass()
		return &nullbench.Bench{}, nil
	})
	domain.Register("slow-configure", func(ctx *domain.Context) (idl.Stage, error) {
		g, err := domain.Device[*gate](ctx, "gate")
		if err != nil {
			return nil, err
		}
		return &configured{g}, nil
	})
	domain.Register("liar", func(ctx *domain.Context) (idl.Bench, error) {
		return &liar{ctx: ctx}, nil
	})
}

// within fails the test if f has not returned within the watchdog.
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

// TestRestartOutsideTheLock: hole 9. A restart ran the new instance's
// constructor holding the guard's lock: one that never returned hung every
// caller and the domain listing. Now, while a restart is under way, the
// guard's listing answers, and the caller that restarts gets its result
// when the constructor returns.
func TestRestartOutsideTheLock(t *testing.T) {
	m := setup(t)
	gt := newGate(t)
	d := must(m.Create("slow-start", domain.GrantDevice("gate", gt)))
	g := must(shadow.New(m, d, shadow.Policy{Start: time.Hour}))
	s := must(domain.Connect[idl.Bench](m.Kernel(), g))
	gt.armed.Store(true)
	m.Kill(d)
	errc := make(chan error, 1)
	go func() { errc <- s.Null() }()
	<-gt.entered // the restart is in the constructor, and stays there
	within(t, "the guard's listing during a restart", func() {
		if g.Name() != d.Name() || g.Current() != d || g.Restarts() != 1 || len(g.Log()) != 0 {
			t.Errorf("during the restart: name %q current %v restarts %d log %v", g.Name(), g.Current(), g.Restarts(), g.Log())
		}
		m.List()
	})
	gt.armed.Store(false)
	gt.release <- struct{}{} // not closed: the cleanup does that
	if err := <-errc; err != nil {
		t.Errorf("the call that restarted: %v", err)
	}
	if g.Current() == d || !g.Current().Alive() || g.Recovered() != 1 {
		t.Errorf("after the restart: current %v, recovered %d", g.Current(), g.Recovered())
	}
}

// TestRestartDeadlines: hole 9, the deadlines. A constructor that never
// returns, or a replayed init call that never returns, fails the new
// instance after Policy.Start; the restart fails (and is logged), and the
// caller gets an error instead of waiting forever.
func TestRestartDeadlines(t *testing.T) {
	t.Run("constructor", func(t *testing.T) {
		m := setup(t)
		gt := newGate(t)
		d := must(m.Create("slow-start", domain.GrantDevice("gate", gt)))
		g := must(shadow.New(m, d, shadow.Policy{Start: 50 * time.Millisecond, Restarts: 1}))
		s := must(domain.Connect[idl.Bench](m.Kernel(), g))
		gt.armed.Store(true)
		m.Kill(d)
		var err error
		within(t, "a call whose restart hangs in the constructor", func() { err = s.Null() })
		if err == nil {
			t.Fatal("the call succeeded")
		}
		checkDeadlineLog(t, g, "constructor")
		if st := m.Stats(); st.Stuck != 1 {
			t.Errorf("%d stuck workers, want the constructor's", st.Stuck)
		}
	})
	t.Run("replay", func(t *testing.T) {
		m := setup(t)
		gt := newGate(t)
		d := must(m.Create("slow-configure", domain.GrantDevice("gate", gt)))
		// Generous: the constructor, which returns at once, must not miss
		// it on a loaded machine; the replayed Configure hangs.
		g := must(shadow.New(m, d, shadow.Policy{Start: 2 * time.Second, Restarts: 1}))
		s := must(domain.Connect[idl.Stage](m.Kernel(), g))
		if err := s.Configure(idl.StageConfig{Tag: 1}); err != nil { // recorded, to replay
			t.Fatal(err)
		}
		gt.armed.Store(true)
		m.Kill(d)
		var err error
		within(t, "a call whose restart hangs in the replay", func() { _, err = s.Handle(idl.Request{Seq: 1}) })
		if err == nil {
			t.Fatal("the call succeeded")
		}
		checkDeadlineLog(t, g, "Stage.Configure")
	})
}

// checkDeadlineLog checks that g's one restart failed on a deadline of call.
func checkDeadlineLog(t *testing.T, g *shadow.Guard, call string) {
	t.Helper()
	log := g.Log()
	if len(log) != 1 {
		t.Fatalf("restart log %v, want one failed restart", log)
	}
	var de *domain.DeadlineError
	if !errors.As(log[0].Err, &de) || de.Call != call {
		t.Errorf("the restart failed with %v, want a deadline on %s", log[0].Err, call)
	}
}

// TestShadowTrustsOnlyTheKernel: hole 10. A shadow compared the ID of the
// *FailedError its call returned, shared by every observer: a holder that
// rewrote it stopped the shadow from recovering. And a callee could return
// a FailedError naming itself to have itself restarted. Shadows now ask the
// kernel (Domain.Failed).
func TestShadowTrustsOnlyTheKernel(t *testing.T) {
	m := setup(t)
	d := must(m.Create(nullbench.Kind))
	g := must(shadow.New(m, d, shadow.Policy{}))
	s := must(domain.Connect[idl.Bench](m.Kernel(), g))
	p := must(domain.Connect[idl.Bench](m.Kernel(), d))
	m.Kill(d)
	var f *domain.FailedError
	if !errors.As(p.Null(), &f) {
		t.Fatal("no failure from the dead domain")
	}
	f.ID, f.Domain = f.ID+1000, "rewritten"
	if err := s.Null(); err != nil || g.Restarts() != 1 {
		t.Errorf("through the shadow after a holder rewrote its failure: %v, %d restarts", err, g.Restarts())
	}

	l := must(m.Create("liar"))
	lg := must(shadow.New(m, l, shadow.Policy{}))
	ls := must(domain.Connect[idl.Bench](m.Kernel(), lg))
	if err := ls.Null(); err == nil || !strings.Contains(err.Error(), "terminated") || lg.Restarts() != 0 || !l.Alive() {
		t.Errorf("a callee returning a FailedError naming itself: %v, %d restarts, alive %v", err, lg.Restarts(), l.Alive())
	}
}
