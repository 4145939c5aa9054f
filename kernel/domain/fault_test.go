package domain_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/stage"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// faultTally is what TestFaultInjection counts, over every round.
type faultTally struct {
	fired      map[string]int // per fault kind
	failures   int            // domain instances that died of a fault
	recovered  int            // ... and were restarted transparently by a shadow
	surfaced   int            // ... and were reported to callers as errors
	masked     int            // ... whose callers heard of a failure nearer the kernel
	absorbed   int            // faults fired in an instance already dying of another
	calls      int
	ok         int
	errs       int
	collateral int // errors of calls that carried no fault of the failure they report
}

var chainNames = []string{"A", "B", "C"}

// chainDeadlines are the deadlines of the bindings into each stage: a
// caller's exceeds its callee's, so that a hang fails the stage that hangs.
// They pass on the round's hangClock, not on the machine's clock.
var chainDeadlines = map[string]time.Duration{"A": 2 * time.Second, "B": time.Second, "C": 500 * time.Millisecond}

var chainTags = map[string]uint64{"A": 1, "B": 10, "C": 100}

// TestFaultInjection runs a chain of domains, kernel -> A -> B -> C, under
// concurrent load, and injects every kind of fault (nil dereference, index
// out of range, division by zero, explicit panic, panic on a spawned thread,
// a call that hangs past its deadline) at random points of random stages.
// Each of 8 rounds guards a different subset of the stages with shadows.
//
// Every fault kills the instance it fires in (or, fired in an instance
// already dying of another fault, is absorbed by that failure), and that
// failure surfaces exactly once: either the stage's shadow restarts it once
// and the calls go through (a transparent recovery: no caller sees an error
// about it), or, unguarded, its callers get errors naming it and no restart
// happens (unless the only calls that saw it were unwound meanwhile by the
// death of an unguarded stage nearer the kernel: then they name that one).
// A guarded stage is no exception: its shadow runs on the calls that saw
// the failure, so if they were all unwound by the death of an unguarded
// stage nearer the kernel, which no call gets past again, it never hears of
// it and restarts nothing.
// No instance dies without an injected fault, no call fails without a
// failure to blame, every reply is complete, and the kernel never goes down.
// The RRef registry and the goroutine count come back to where they were.
//
// Which of those outcomes a failure has depends on how the threads of
// concurrent calls interleave; that each has exactly one does not. Whether
// a deadline passes must not depend on timing: on the machine's clock, a
// loaded machine that stalls the process for longer than a deadline (CI
// machines do, for seconds) fails calls that would have returned, and
// after such a stall the deadlines of a hung call's nested bindings, all
// past, fail their callees in whatever order their waiting threads run.
// So deadlines pass on the round's hangClock: only the deadline of the
// binding into the stage that hangs, and only once the hung call is all
// that is left running, as it would be on an idle machine.
//
// Seeded (RL_FAULT_SEED replays a run) and bounded: 8 rounds of 4 clients x
// 40 calls, at most one random hang per round.
func TestFaultInjection(t *testing.T) {
	seed := uint64(20260705)
	if s := os.Getenv("RL_FAULT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("RL_FAULT_SEED: %v", err)
		}
	}
	t.Logf("seed %d (set RL_FAULT_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	runtime.GC()
	baseG := runtime.NumGoroutine()
	baseLive := rref.Live()
	tally := &faultTally{fired: map[string]int{}}
	for round := range 8 {
		guarded := [3]bool{round&4 != 0, round&2 != 0, round&1 != 0}
		t.Run(fmt.Sprintf("round%d-shadows%s", round, shadowMask(guarded)), func(t *testing.T) {
			faultRound(t, round, rng.Uint64(), guarded, tally)
		})
	}
	if got := rref.Live(); got != baseLive {
		t.Errorf("Live = %d after the rounds, want %d", got, baseLive)
	}
	waitGoroutines(t, baseG)
	for _, k := range stage.Kinds {
		if tally.fired[k] == 0 {
			t.Errorf("no %s fault fired", k)
		}
	}
	t.Logf("faults fired: %v", tally.fired)
	t.Logf("failures %d: recovered by shadows %d, surfaced as errors %d, masked by a failure nearer the kernel %d; faults absorbed by a dying instance %d",
		tally.failures, tally.recovered, tally.surfaced, tally.masked, tally.absorbed)
	t.Logf("calls %d: ok %d, errors %d (collateral %d)", tally.calls, tally.ok, tally.errs, tally.collateral)
}

func shadowMask(g [3]bool) string {
	s := ""
	for i, n := range chainNames {
		if g[i] {
			s += n
		}
	}
	if s == "" {
		return "-none"
	}
	return "-" + s
}

type callOutcome struct {
	ticket uint64
	rep    idl.Reply
	err    error
}

func faultRound(t *testing.T, round int, seed uint64, guarded [3]bool, tally *faultTally) {
	var evmu sync.Mutex
	var events []domain.Event // all of them: Manager.Events keeps the last 256
	m := domain.NewManager(domain.WithEvents(func(e domain.Event) {
		evmu.Lock()
		events = append(events, e)
		evmu.Unlock()
	}))
	defer m.Close()
	clock := newHangClock()
	domain.SetTimers(m, clock)
	inj := newInjector()
	inj.onHang = func(st string) { clock.hang(chainDeadlines[st]) }

	// Build the chain bottom up; configure each stage through the kernel
	// (through its shadow when guarded, which records the init).
	guards := map[string]*shadow.Guard{}
	var next domain.Provider
	for i := len(chainNames) - 1; i >= 0; i-- {
		n := chainNames[i]
		opts := []domain.CreateOption{domain.Name(n), domain.GrantDevice(stage.GrantFaults, stage.Injector(inj))}
		if next != nil {
			opts = append(opts, domain.Grant(stage.GrantNext, next, domain.Deadline(chainDeadlines[chainNames[i+1]])))
		}
		d := create(t, m, stage.Kind, opts...)
		next = d
		if guarded[i] {
			g, err := shadow.New(m, d, shadow.Policy{Retries: 10, Restarts: 1000})
			if err != nil {
				t.Fatal(err)
			}
			guards[n], next = g, g
		}
		if err := connect[idl.Stage](t, m, next).Configure(idl.StageConfig{Tag: chainTags[n]}); err != nil {
			t.Fatal(err)
		}
	}
	top := connect[idl.Stage](t, m, next, domain.Deadline(chainDeadlines["A"]))

	var mu sync.Mutex
	var outcomes []callOutcome
	call := func(seq, ticket uint64) {
		rep, err := top.Handle(idl.Request{Seq: seq, Ticket: ticket})
		mu.Lock()
		outcomes = append(outcomes, callOutcome{ticket, rep, err})
		mu.Unlock()
	}

	// Round 7 guards every stage: first, every kind at every stage, one
	// after the other.
	if round == 7 {
		for i, n := range chainNames {
			for j, kind := range stage.Kinds {
				point := []string{stage.Before, stage.After}[(i+j)%2]
				call(uint64(1000+10*i+j), inj.Arm(n, point, kind))
			}
		}
	}

	// Then 4 clients, 40 calls each, 8% of them carrying a fault.
	var hang sync.Once
	var wg sync.WaitGroup
	for c := range 4 {
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		wg.Add(1)
		clock.start()
		go func() {
			defer wg.Done()
			defer clock.finish()
			for i := range 40 {
				var ticket uint64
				if rng.Float64() < 0.08 {
					n := chainNames[rng.IntN(3)]
					kind := stage.Kinds[rng.IntN(len(stage.Kinds))]
					if kind == stage.Hang {
						allowed := false
						if round%2 == 0 && n != "A" {
							hang.Do(func() { allowed = true })
						}
						if !allowed {
							kind = stage.Panic
						}
					}
					ticket = inj.Arm(n, []string{stage.Before, stage.After}[rng.IntN(2)], kind)
				}
				call(uint64(c*100+i), ticket)
			}
		}()
	}
	wg.Wait()
	clock.wait()
	if clock.misfired != "" {
		t.Error(clock.misfired)
	}

	// What died, of what, and how it surfaced.
	failures := map[domain.ID]*domain.FailedError{}
	evmu.Lock()
	defer evmu.Unlock()
	for _, e := range events {
		if e.Kind == "failed" {
			failures[e.ID] = e.Err
		}
	}
	restarts := map[domain.ID][]domain.Event{} // by the instance restarted
	for _, e := range events {
		if e.Kind == "restarted" && e.Err != nil {
			restarts[e.Err.ID] = append(restarts[e.Err.ID], e)
		}
	}
	inj.mu.Lock()
	fired := inj.fired
	byInst := inj.byInst
	inj.mu.Unlock()
	errorsAbout := map[domain.ID]int{}
	for _, o := range outcomes {
		tally.calls++
		if o.err == nil {
			tally.ok++
			if o.rep.Hops != 3 || o.rep.Tags != 111 {
				t.Errorf("call %d: incomplete reply %+v (a restarted stage missed its init?)", o.rep.Seq, o.rep)
			}
			continue
		}
		tally.errs++
		var f *domain.FailedError
		if !errors.As(o.err, &f) || failures[f.ID] == nil {
			t.Errorf("call with ticket %d: error %v blames no failed domain", o.ticket, o.err)
			continue
		}
		errorsAbout[f.ID]++
		if !slices.Contains(byInst[f.ID], o.ticket) {
			tally.collateral++
		}
	}
	for ticket, fi := range fired {
		tally.fired[fi.kind]++
		if failures[fi.id] == nil {
			t.Errorf("ticket %d (%s at %s %s) fired in #%d, which did not fail", ticket, fi.kind, fi.stage, fi.point, fi.id)
		}
	}
	for id, f := range failures {
		tickets := byInst[id]
		if len(tickets) == 0 {
			t.Errorf("#%d failed with no fault injected: %v\n%s", id, f, f.Stack)
			continue
		}
		tally.failures++
		tally.absorbed += len(tickets) - 1
		st := fired[tickets[0]].stage
		rs := restarts[id]
		switch {
		case guards[st] != nil && len(rs) == 0 && errorsAbout[id] == 0 && masked(outcomes, tickets, st, guards):
			// The calls that saw it, and its shadow on them, were unwound
			// by the death of an unguarded stage nearer the kernel: they
			// report that one, and no call reaches the stage again.
			tally.masked++
		case guards[st] != nil:
			if len(rs) != 1 || rs[0].Failure != nil || rs[0].By != "shadow" || errorsAbout[id] != 0 {
				t.Errorf("guarded %s (#%d) failed (%v): %d restarts %v, %d errors to callers; want 1 restart, no errors", st, id, f, len(rs), rs, errorsAbout[id])
			}
			tally.recovered++
		case len(rs) != 0:
			t.Errorf("unguarded %s (#%d) failed (%v) and was restarted: %v", st, id, f, rs)
		case errorsAbout[id] > 0:
			tally.surfaced++
		case masked(outcomes, tickets, st, guards):
			// The calls that saw it returned through an unguarded stage
			// nearer the kernel that died meanwhile: they report that one.
			tally.masked++
		default:
			t.Errorf("unguarded %s (#%d) failed (%v): no caller heard of it", st, id, f)
			for _, o := range outcomes {
				if slices.Contains(tickets, o.ticket) {
					t.Logf("the call with ticket %d returned %+v, %v", o.ticket, o.rep, o.err)
				}
			}
		}
	}
	if s := m.Stats(); s.StuckTotal > 1+boolInt(round == 7)*3 {
		t.Errorf("%d stuck workers: more deadlines passed than hangs were injected", s.StuckTotal)
	}
}

// masked reports whether every call that carried one of tickets (faults
// of stage st) failed with the failure of an unguarded stage before st in
// the chain.
func masked(outcomes []callOutcome, tickets []uint64, st string, guards map[string]*shadow.Guard) bool {
	for _, o := range outcomes {
		if !slices.Contains(tickets, o.ticket) {
			continue
		}
		f := failure(o.err)
		if f == nil || guards[f.Domain] != nil || slices.Index(chainNames, f.Domain) >= slices.Index(chainNames, st) {
			return false
		}
	}
	return true
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// A hangClock is the clock of a round's calls with a deadline (see
// TestFaultInjection): a deadline passes only when a stage hangs, for the
// binding into that stage, on the call that hangs, once every client but
// the one that made the call has finished. It uses no timer of its own.
type hangClock struct {
	wg sync.WaitGroup

	mu       sync.Mutex
	clients  sync.Cond // signalled when a client finishes
	running  int       // clients still making calls
	seq      uint64
	armed    map[*fakeTimer]uint64 // running timers, by when they were started
	misfired string                // set if a hang had more than one timer to pass
}

type fakeTimer struct {
	k *hangClock
	c chan time.Time
	d time.Duration // guarded by k.mu
}

func newHangClock() *hangClock {
	k := &hangClock{armed: map[*fakeTimer]uint64{}}
	k.clients.L = &k.mu
	return k
}

// start and finish bracket the calls of a client.
func (k *hangClock) start() {
	k.mu.Lock()
	k.running++
	k.mu.Unlock()
}

func (k *hangClock) finish() {
	k.mu.Lock()
	k.running--
	k.clients.Broadcast()
	k.mu.Unlock()
}

func (k *hangClock) NewTimer(d time.Duration) domain.DeadlineTimer {
	t := &fakeTimer{k: k, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

func (t *fakeTimer) Chan() <-chan time.Time { return t.c }

// Reset and Stop leave no stale tick, as a time.Timer's since Go 1.23.
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	_, was := t.k.armed[t]
	t.drain()
	t.k.seq++
	t.k.armed[t], t.d = t.k.seq, d
	return was
}

func (t *fakeTimer) Stop() bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	_, was := t.k.armed[t]
	delete(t.k.armed, t)
	t.drain()
	return was
}

func (t *fakeTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}

// hang is called as a stage takes a hang: the thread of the call that
// carries it sleeps until the stage dies, and the timer of the call's
// binding into the stage (deadline d) is running. Among the timers running
// with deadline d, which include those of other calls into the stage that
// will return, it is the one still running, unrestarted, once every other
// client has finished; hang passes its deadline then. If the stage died
// meanwhile of another fault, the hung call returned and it passes none.
func (k *hangClock) hang(d time.Duration) {
	type started struct {
		t   *fakeTimer
		seq uint64
	}
	var running []started
	k.mu.Lock()
	for t, seq := range k.armed {
		if t.d == d {
			running = append(running, started{t, seq})
		}
	}
	k.mu.Unlock()
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		k.mu.Lock()
		defer k.mu.Unlock()
		// The hung call's client is the one left running (none, for the
		// calls round 7 makes before it starts the clients).
		for k.running > 1 {
			k.clients.Wait()
		}
		passed := 0
		for _, r := range running {
			if seq, ok := k.armed[r.t]; ok && seq == r.seq {
				delete(k.armed, r.t)
				r.t.c <- time.Now()
				passed++
			}
		}
		if passed > 1 {
			k.misfired = fmt.Sprintf("a hang passed the deadlines (%v) of %d calls", d, passed)
		}
	}()
}

// wait waits for the hangs to be dealt with.
func (k *hangClock) wait() { k.wg.Wait() }
