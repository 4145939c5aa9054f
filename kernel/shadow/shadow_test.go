package shadow_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/internal/testdomains/stage"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

func setup(t *testing.T) *domain.Manager {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	return m
}

// must is for setup steps that cannot fail unless the test is broken.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// faults arms one fault per stage name, fired by the next request.
type faults struct {
	mu    sync.Mutex
	armed map[string]string // stage -> kind
}

func (f *faults) arm(name, kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed == nil {
		f.armed = map[string]string{}
	}
	f.armed[name] = kind
}

func (f *faults) Take(ticket uint64, name string, id domain.ID, point string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if point != stage.Before {
		return ""
	}
	k := f.armed[name]
	delete(f.armed, name)
	return k
}

// TestTransparentRecovery: the guarded stage fails in every way; the caller
// sees no error, and the restarted instance got its init replayed.
func TestTransparentRecovery(t *testing.T) {
	m := setup(t)
	inj := &faults{}
	d := must(m.Create(stage.Kind, domain.Name("S"), domain.GrantDevice(stage.GrantFaults, stage.Injector(inj))))
	var logged []domain.Event
	g := must(shadow.New(m, d, shadow.Policy{}))
	s := must(domain.Connect[idl.Stage](m.Kernel(), g, domain.Deadline(200*time.Millisecond)))
	if err := s.Configure(idl.StageConfig{Tag: 7}); err != nil {
		t.Fatal(err)
	}
	for i, kind := range stage.Kinds {
		inj.arm("S", kind)
		rep, err := s.Handle(idl.Request{Seq: uint64(i), Ticket: 1})
		if err != nil || rep.Tags != 7 || rep.Seq != uint64(i) {
			t.Errorf("%s: reply %+v, error %v", kind, rep, err)
		}
	}
	n := len(stage.Kinds)
	if g.Restarts() != n || g.Recovered() != int64(n) || len(g.Log()) != n {
		t.Errorf("restarts %d, recovered %d, log %d; want %d", g.Restarts(), g.Recovered(), len(g.Log()), n)
	}
	for i, r := range g.Log() {
		if r.Err != nil || r.Cause == nil || r.Name != "S" || !strings.Contains(r.String(), "restarted") {
			t.Errorf("log %d: %v", i, r)
		}
	}
	cur := g.Current()
	if cur.Name() != "S" || cur.Restarts() != n || !cur.Alive() {
		t.Errorf("current: %s restarts %d alive %v", cur.Name(), cur.Restarts(), cur.Alive())
	}
	for _, e := range m.Events() {
		if e.Kind == "restarted" {
			logged = append(logged, e)
		}
	}
	if len(logged) != n || logged[0].By != "shadow" {
		t.Errorf("restart events: %v", logged)
	}
	// A kill is recovered too, and the last configuration is the one
	// replayed.
	if err := s.Configure(idl.StageConfig{Tag: 9}); err != nil {
		t.Fatal(err)
	}
	m.Kill(g.Current())
	if rep, err := s.Handle(idl.Request{}); err != nil || rep.Tags != 9 {
		t.Errorf("after a kill: %+v, %v", rep, err)
	}
}

// TestLimits: a domain that fails on every call is retried Retries times per
// call and restarted at most Restarts times per window; then its failure
// reaches the caller.
func TestLimits(t *testing.T) {
	m := setup(t)
	d := must(m.Create("always-fails"))
	g := must(shadow.New(m, d, shadow.Policy{Retries: 2, Restarts: 3, Window: time.Hour}))
	s := must(domain.Connect[idl.Bench](m.Kernel(), g))
	err := s.Null()
	var f *domain.FailedError
	if !errors.As(err, &f) || g.Restarts() != 2 {
		t.Fatalf("first call: %v, %d restarts", err, g.Restarts())
	}
	err = s.Null() // one restart left, then the limit
	if !errors.As(err, &f) || g.Restarts() != 3 {
		t.Fatalf("second call: %v, %d restarts", err, g.Restarts())
	}
	if err := s.Null(); err == nil || g.Restarts() != 3 {
		t.Errorf("beyond the limit: %v, %d restarts", err, g.Restarts())
	}
}

func init() {
	domain.Register("always-fails", func(*domain.Context) (idl.Bench, error) { return &alwaysFails{}, nil })
	domain.Register("fails-first", func(ctx *domain.Context) (idl.Bench, error) {
		budget, _ := domain.Device[*atomic.Int32](ctx, "budget")
		return &failsFirst{budget: budget}, nil
	})
}

type alwaysFails struct{ nullbench.Bench }

func (*alwaysFails) Null() error { panic("always") }

// failsFirst panics while the kernel's budget of failures lasts.
type failsFirst struct {
	nullbench.Bench
	budget *atomic.Int32
}

func (f *failsFirst) Echo(b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) {
	b.Get()[0]++
	if f.budget.Add(-1) >= 0 {
		panic("not yet")
	}
	return b, nil
}

// TestRetryWithRRef: a call whose callee dies holding the caller's RRef is
// retried with the same RRef, rescued by the proxy.
func TestRetryWithRRef(t *testing.T) {
	m := setup(t)
	var budget atomic.Int32
	budget.Store(2)
	d := must(m.Create("fails-first", domain.GrantDevice("budget", &budget)))
	g := must(shadow.New(m, d, shadow.Policy{}))
	s := must(domain.Connect[idl.Bench](m.Kernel(), g))
	base := rref.Live()
	r := rref.New(m.Kernel().Heap(), idl.Block{})
	r2, err := s.Echo(r)
	if err != nil || !r2.Valid() || r2.Get()[0] != 3 {
		t.Fatalf("Echo: %v, valid %v", err, r2.Valid())
	}
	r2.Drop()
	if rref.Live() != base || g.Restarts() != 2 {
		t.Errorf("live %d (want %d), restarts %d", rref.Live(), base, g.Restarts())
	}
}

// TestOnlyItsOwnFailure: a shadow of A does not restart A when A reports the
// failure of C further down.
func TestOnlyItsOwnFailure(t *testing.T) {
	m := setup(t)
	inj := &faults{}
	c := must(m.Create(stage.Kind, domain.Name("C"), domain.GrantDevice(stage.GrantFaults, stage.Injector(inj))))
	a := must(m.Create(stage.Kind, domain.Name("A"), domain.Grant(stage.GrantNext, c)))
	g := must(shadow.New(m, a, shadow.Policy{}))
	s := must(domain.Connect[idl.Stage](m.Kernel(), g))
	inj.arm("C", stage.Panic)
	_, err := s.Handle(idl.Request{Ticket: 1})
	var f *domain.FailedError
	if !errors.As(err, &f) || f.ID != c.ID() || g.Restarts() != 0 {
		t.Errorf("error %v, restarts %d: want C's failure and no restart", err, g.Restarts())
	}
}

// TestConcurrentCallersOneRestart: many threads see one failure; the
// instance is restarted once and every call succeeds.
func TestConcurrentCallersOneRestart(t *testing.T) {
	m := setup(t)
	d := must(m.Create(nullbench.Kind))
	g := must(shadow.New(m, d, shadow.Policy{}))
	var callers []idl.Bench
	for range 8 {
		callers = append(callers, must(domain.Connect[idl.Bench](m.Kernel(), g)))
	}
	for _, c := range callers {
		if err := c.Null(); err != nil {
			t.Fatal(err)
		}
	}
	m.Kill(g.Current())
	var wg sync.WaitGroup
	for _, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if err := c.Null(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if g.Restarts() != 1 {
		t.Errorf("%d restarts, want 1", g.Restarts())
	}
}

func TestRevokedShadow(t *testing.T) {
	m := setup(t)
	d := must(m.Create(nullbench.Kind))
	g := must(shadow.New(m, d, shadow.Policy{}))
	s := must(domain.Connect[idl.Bench](m.Kernel(), g))
	s.(domain.Capability).Revoke()
	if err := s.Null(); !errors.Is(err, domain.ErrRevoked) {
		t.Errorf("revoked shadow: %v", err)
	}
	m.Kill(d)
	if err := s.Null(); !errors.Is(err, domain.ErrRevoked) || g.Restarts() != 0 {
		t.Errorf("revoked shadow of a dead domain: %v, %d restarts", err, g.Restarts())
	}
}

// TestExhaustionVisible: restarts the policy refuses are counted, and the
// first refusal after an allowed restart is logged, naming the fix.
func TestExhaustionVisible(t *testing.T) {
	m := setup(t)
	var mu sync.Mutex
	var lines []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}
	d := must(m.Create("always-fails"))
	g := must(shadow.New(m, d, shadow.Policy{Retries: 1, Restarts: 1, Window: time.Hour, Logf: logf}))
	s := must(domain.Connect[idl.Bench](m.Kernel(), g))
	s.Null() // fails, restarts once, fails again: retries spent
	if g.Exhausted() != 0 || g.Restarts() != 1 {
		t.Fatalf("after the first call: %d refused, %d restarts", g.Exhausted(), g.Restarts())
	}
	s.Null() // the budget is spent: refused
	s.Null() // refused again, not logged again
	mu.Lock()
	defer mu.Unlock()
	if g.Exhausted() != 2 {
		t.Errorf("Exhausted = %d, want 2", g.Exhausted())
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "restart limit reached") || !strings.Contains(lines[0], "Policy.Restarts") {
		t.Errorf("log %q, want one line naming the limit and Policy.Restarts", lines)
	}
}
