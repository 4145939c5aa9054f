package domain_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/internal/testdomains/stage"
	"github.com/rlgo/redleaf/kernel/domain"
)

func TestLifecycle(t *testing.T) {
	m := newManager(t)
	a := create(t, m, nullbench.Kind, domain.Name("a"))
	b := create(t, m, nullbench.Kind) // default name: the kind's
	c := create(t, m, nullbench.Kind) // taken: kind.ID
	if b.Name() != nullbench.Kind || c.Name() == b.Name() || !strings.HasPrefix(c.Name(), nullbench.Kind+".") {
		t.Errorf("names %q %q", b.Name(), c.Name())
	}
	if _, err := m.Create(nullbench.Kind, domain.Name("a")); err == nil {
		t.Error("a second live instance named a was created")
	}
	if _, err := m.Create("nosuch"); err == nil {
		t.Error("an unknown kind was created")
	}
	pa := connect[idl.Bench](t, m, a)
	for range 10 {
		if err := pa.Null(); err != nil {
			t.Fatal(err)
		}
	}
	info := func(name string) domain.Info {
		for _, i := range m.List() {
			if i.Name == name {
				return i
			}
		}
		t.Fatalf("%s is not listed", name)
		return domain.Info{}
	}
	if i := info("a"); i.State != domain.Running || i.CallsIn != 10 || i.Kind != nullbench.Kind || i.Owner != "kernel" {
		t.Errorf("listing of a: %+v", i)
	}
	if i := info("kernel"); i.CallsOut < 10 {
		t.Errorf("listing of the kernel: %+v", i)
	}

	m.Kill(a)
	err := pa.Null()
	f := failure(err)
	if f == nil || f.ID != a.ID() || !errors.Is(err, domain.ErrTerminated) {
		t.Fatalf("call into a killed domain: %v", err)
	}
	if err2 := pa.Null(); !a.Failed(err2) || !a.Failed(err) || failure(err2) == f {
		t.Error("two callers of one dead domain did not get their own copies of its failure")
	}
	if i := info("a"); i.State != domain.Terminated || i.CallsIn != 10 {
		t.Errorf("listing of a dead a: %+v", i)
	}
	if err := connect[idl.Bench](t, m, b).Null(); err != nil {
		t.Errorf("b suffered from a's death: %v", err)
	}

	a2, err := m.Restart(a, "test")
	if err != nil {
		t.Fatal(err)
	}
	if a2.ID() == a.ID() || a2.Name() != "a" || a2.Restarts() != 1 || m.Lookup("a") != a2 {
		t.Errorf("restart: id %d (was %d), name %q, restarts %d", a2.ID(), a.ID(), a2.Name(), a2.Restarts())
	}
	if err := connect[idl.Bench](t, m, a2).Null(); err != nil {
		t.Error(err)
	}
	var kinds []string
	for _, e := range m.Events() {
		if e.Domain == "a" {
			kinds = append(kinds, e.Kind)
		}
	}
	if got := strings.Join(kinds, " "); got != "created terminated created restarted" {
		t.Errorf("events of a: %s", got)
	}
}

// TestPanicsFailOnlyTheCallee injects every panic kind into the middle of a
// chain: the caller gets the callee's failure, the other domains and the
// kernel go on.
func TestPanicsFailOnlyTheCallee(t *testing.T) {
	for _, kind := range []string{stage.NilPtr, stage.Index, stage.DivZero, stage.Panic, stage.Thread} {
		t.Run(kind, func(t *testing.T) {
			m := newManager(t)
			inj := newInjector()
			ds := stageChain(t, m, inj, "A", "B", "C")
			top := connect[idl.Stage](t, m, ds[0])
			if _, err := top.Handle(idl.Request{Seq: 1}); err != nil {
				t.Fatal(err)
			}
			_, err := top.Handle(idl.Request{Seq: 2, Ticket: inj.Arm("B", stage.Before, kind)})
			f := failure(err)
			if f == nil || f.ID != ds[1].ID() {
				t.Fatalf("error %v, want B's failure", err)
			}
			if ds[0].State() != domain.Running || ds[2].State() != domain.Running || ds[1].State() != domain.Failed {
				t.Errorf("states %v %v %v", ds[0].State(), ds[1].State(), ds[2].State())
			}
			var re runtime.Error
			switch kind {
			case stage.NilPtr, stage.Index, stage.DivZero:
				if !errors.As(err, &re) {
					t.Errorf("value %T %v, want a runtime.Error", f.Value, f.Value)
				}
			case stage.Thread:
				if f.Where != "thread bomb" {
					t.Errorf("where %q", f.Where)
				}
			}
			if len(f.Stack) == 0 {
				t.Error("no stack")
			}
			// C is fine; A is fine and reports B's failure again.
			if _, err := connect[idl.Stage](t, m, ds[2]).Handle(idl.Request{Seq: 3}); err != nil {
				t.Errorf("C: %v", err)
			}
			if _, err := top.Handle(idl.Request{Seq: 4}); !ds[1].Failed(failure(err)) {
				t.Errorf("A after B died: %v", err)
			}
		})
	}
}

// TestDeadline hangs a callee: its caller gets a DeadlineError after the
// deadline, the callee fails, and the worker, which the callee's death
// unwinds, comes back within the grace: no worker is abandoned.
func TestDeadline(t *testing.T) {
	m := newManager(t)
	inj := newInjector()
	ds := stageChain(t, m, inj, "A")
	top := connect[idl.Stage](t, m, ds[0], domain.Deadline(100*time.Millisecond))
	if rep, err := top.Handle(idl.Request{Seq: 1}); err != nil || rep.Hops != 1 {
		t.Fatalf("%v %v", rep, err)
	}
	start := time.Now()
	_, err := top.Handle(idl.Request{Seq: 2, Ticket: inj.Arm("A", stage.Before, stage.Hang)})
	var de *domain.DeadlineError
	if f := failure(err); f == nil || f.ID != ds[0].ID() || !errors.As(err, &de) || de.Call != "Stage.Handle" {
		t.Fatalf("error %v, want A's DeadlineError", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("returned after %v, before the deadline", d)
	}
	if s := m.Stats(); s.StuckTotal != 0 {
		t.Errorf("stats %+v", s)
	}
	for deadline := time.Now().Add(5 * time.Second); m.Stats().Stuck != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the stuck worker never ended")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestThreadsStopAtNextCrossing kills a domain while one of its threads is
// inside another domain, and while another waits in a kernel call: both
// stop, and the caller of the dead domain gets its failure.
func TestThreadsStopAtNextCrossing(t *testing.T) {
	m := newManager(t)
	inj := newInjector()
	ds := stageChain(t, m, inj, "A", "B")
	top := connect[idl.Stage](t, m, ds[0])
	// B sleeps in a kernel call with A's caller thread inside it... but it
	// is A that dies: the thread must not run A's code again.
	ticket := inj.Arm("B", stage.Before, stage.Hang)
	errc := make(chan error, 1)
	go func() {
		_, err := top.Handle(idl.Request{Seq: 1, Ticket: ticket})
		errc <- err
	}()
	for {
		inj.mu.Lock()
		_, fired := inj.fired[ticket]
		inj.mu.Unlock()
		if fired {
			break
		}
		time.Sleep(time.Millisecond)
	}
	m.Kill(ds[0])
	// B never wakes up on its own: kill it too; the thread returns through
	// A's crossing, which sees A dead.
	m.Kill(ds[1])
	err := <-errc
	if f := failure(err); f == nil || f.ID != ds[0].ID() {
		t.Fatalf("error %v, want A's failure", err)
	}
}

func TestThreadsAreAttributed(t *testing.T) {
	m := newManager(t)
	base := runtime.NumGoroutine()
	d := create(t, m, "hoard-threads")
	if s := m.Stats(); s.Threads != 3 {
		t.Errorf("threads %d, want 3", s.Threads)
	}
	for _, i := range m.List() {
		if i.Name == d.Name() && i.Threads != 3 {
			t.Errorf("listing: %d threads", i.Threads)
		}
	}
	m.Kill(d)
	waitGoroutines(t, base)
	if s := m.Stats(); s.Threads != 0 || s.Lingering != 0 {
		t.Errorf("after the kill: %+v", s)
	}
}

func init() {
	// hoard-threads: three threads, one waiting on Done, one looping on
	// kernel calls, one blocked until the domain dies.
	domain.Register("hoard-threads", func(ctx *domain.Context) (idl.Bench, error) {
		ctx.Spawn("waiter", func() { <-ctx.Done() })
		ctx.Spawn("sleeper", func() {
			for {
				ctx.Sleep(time.Millisecond)
			}
		})
		ctx.Spawn("checker", func() {
			for {
				ctx.Check()
				time.Sleep(time.Millisecond)
			}
		})
		return &nullbench.Bench{}, nil
	})
}

func TestRevoke(t *testing.T) {
	m := newManager(t)
	d := create(t, m, nullbench.Kind)
	p1 := connect[idl.Bench](t, m, d)
	p2 := connect[idl.Bench](t, m, d)
	p1.(domain.Capability).Revoke()
	if err := p1.Null(); !errors.Is(err, domain.ErrRevoked) {
		t.Errorf("revoked: %v", err)
	}
	if err := p2.Null(); err != nil {
		t.Errorf("another capability to the same domain: %v", err)
	}
}

func TestConstructorFailure(t *testing.T) {
	m := newManager(t)
	_, err := m.Create("bad-constructor")
	if f := failure(err); f == nil || f.Where != "constructor" {
		t.Fatalf("error %v", err)
	}
	if d := m.Lookup("bad-constructor"); d == nil || d.State() != domain.Failed {
		t.Errorf("instance %v", d)
	}
}

func init() {
	domain.Register("bad-constructor", func(ctx *domain.Context) (idl.Bench, error) {
		var m map[string]int
		//lint:ignore SA5000 the panic is the point
		m["x"] = 1 // assignment to a nil map: a panic in the constructor
		return nil, nil
	})
}

// resettable is a device that counts its resets.
type resettable struct{ resets atomic.Int32 }

func (r *resettable) Reset() { r.resets.Add(1) }

// TestDevicesResetAndLog: a domain's devices are reset when it dies, and
// its log lines reach the kernel log with its name.
func TestDevicesResetAndLog(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	m := domain.NewManager(domain.WithLog(func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}))
	t.Cleanup(m.Close)
	dev := &resettable{}
	d := create(t, m, "logger", domain.Name("lg"), domain.GrantDevice("dev", dev))
	m.Kill(d)
	if dev.resets.Load() != 1 {
		t.Errorf("%d resets, want 1", dev.resets.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"lg: hello from #", "domain lg (#", "domain lg (#"}
	if len(lines) != 3 || !strings.HasPrefix(lines[0], want[0]) || !strings.Contains(lines[1], "created") || !strings.Contains(lines[2], "terminated") {
		t.Errorf("log:\n%s", strings.Join(lines, "\n"))
	}
}

func init() {
	domain.Register("logger", func(ctx *domain.Context) (idl.Bench, error) {
		ctx.Logf("hello from #%d", ctx.ID())
		return &nullbench.Bench{}, nil
	})
}

// slowReset is a device whose Reset takes a while and undoes what the
// instance set up (as a DMA allocator's takes its buffers back).
type slowReset struct {
	resets atomic.Int32
	ready  atomic.Bool
}

func (s *slowReset) Reset() {
	time.Sleep(20 * time.Millisecond)
	s.ready.Store(false)
	s.resets.Add(1)
}

// threadBomb's Null fails it on a thread of its own, and waits for that.
type threadBomb struct {
	nullbench.Bench
	ctx *domain.Context
}

func (b *threadBomb) Null() error {
	b.ctx.Spawn("bomb", func() { panic("bomb") })
	<-b.ctx.Done()
	b.ctx.Check()
	return nil
}

func init() {
	domain.Register("thread-bomb", func(ctx *domain.Context) (idl.Bench, error) {
		dev, err := domain.Device[*slowReset](ctx, "dev")
		if err != nil {
			return nil, err
		}
		dev.ready.Store(true)
		return &threadBomb{ctx: ctx}, nil
	})
}

// TestDeathCompleteBeforeObserved: an instance failed by one thread (a
// spawned one) while a call waits in it on another is torn down before the
// caller hears of it, and before Restart starts the next instance, so that
// the old instance's device reset does not hit the new one.
func TestDeathCompleteBeforeObserved(t *testing.T) {
	var mu sync.Mutex
	var kinds []string
	m := domain.NewManager(domain.WithEvents(func(e domain.Event) {
		mu.Lock()
		kinds = append(kinds, e.Kind)
		mu.Unlock()
	}))
	t.Cleanup(m.Close)
	dev := &slowReset{}
	d := create(t, m, "thread-bomb", domain.GrantDevice("dev", dev))
	err := connect[idl.Bench](t, m, d).Null()
	if f := failure(err); f == nil || f.ID != d.ID() || f.Where != "thread bomb" {
		t.Fatalf("error %v, want the instance's failure on its thread", err)
	}
	mu.Lock()
	got := strings.Join(kinds, " ")
	mu.Unlock()
	if n := dev.resets.Load(); n != 1 || got != "created failed" {
		t.Errorf("when the caller heard of the death: %d device resets, events %q; want 1, \"created failed\"", n, got)
	}
	nd, err := m.Restart(d, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !dev.ready.Load() || dev.resets.Load() != 1 {
		t.Errorf("the device of #%d was reset by the death of #%d (%d resets)", nd.ID(), d.ID(), dev.resets.Load())
	}
}
