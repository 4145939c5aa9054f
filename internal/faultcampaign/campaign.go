// Package faultcampaign runs fault campaigns against a driver domain: it
// fires many faults of every kind the kernel's injector has (panic, nil
// pointer, index out of range, division by zero, and a share of endless
// loops) into the driver, behind its shadow and a per-call deadline, and
// kills the driver between calls and at random moments, while a client
// moves verified data through it (blocks written and read back, or packets
// counted end to end). It accounts for everything: faults armed and fired
// by kind, kills, restarts, calls the shadow recovered, errors that reached
// the client, data mismatches, escaped panics, threads left behind,
// goroutines, heap and shared-heap cells before and after.
//
// It is a test library: the kernel's tests run a CI-sized campaign, and
// cmd/faultcampaign runs the full one and prints the table BENCHMARKS.md
// records. The drivers are the real ones: the RAM disk, the NVMe driver
// over QEMU's NVMe through qtest, ixgbe over its device model.
package faultcampaign

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// A Target is a driver domain to run a campaign against.
type Target interface {
	// Name is the driver domain's name: where faults are armed.
	Name() string
	// Unit is what the client counts: "blocks" or "packets".
	Unit() string
	// Start creates the driver domain in m, granted inj's device, guards
	// it with a shadow of policy p, and returns the guard and a client
	// calling through the shadow with the given per-call deadline.
	Start(m *domain.Manager, inj *faults.Injector, p shadow.Policy, deadline time.Duration) (*shadow.Guard, Client, error)
	// Close releases what Start took outside the manager (a QEMU, a
	// device model). The manager is closed before.
	Close()
}

// A Client moves verified data through the driver's shadow.
type Client interface {
	// Op makes one operation (one or a few calls) and checks what came
	// back. units is how many blocks or packets went through intact,
	// mismatches how many came back wrong, err the error that reached
	// the client (nil if the shadow hid every failure).
	Op(rng *rand.Rand) (units, mismatches int, err error)
	// Close drops what the client holds on the shared heap.
	Close()
}

// Config shapes a campaign. The zero Config gets the defaults.
type Config struct {
	Faults     int           // faults to fire (default 10,000)
	LoopEvery  int           // one fault in LoopEvery is an endless loop (default 100: 1%)
	KillEvery  int           // a kill between calls every KillEvery faults (default 10)
	RandomKill int           // a kill at a random moment every RandomKill faults (default 5)
	Deadline   time.Duration // the client capability's per-call deadline (default 20 ms)
	Policy     shadow.Policy // the shadow's (default: see CampaignPolicy)
	Seed       uint64        // of the fault kinds, kill times and data (default 1)
	Logf       func(format string, args ...any)
}

// CampaignPolicy is the shadow policy a campaign runs with unless told
// otherwise: a fault every few hundred microseconds is far beyond what the
// system's default budget (120 restarts a minute) allows, so a load like
// this must raise Restarts to about the number of faults it expects per
// Window (docs/ARCHITECTURE.md, "Shadow budgets").
var CampaignPolicy = shadow.Policy{Retries: 8, Restarts: 1 << 30, Window: time.Minute}

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Faults, 10000)
	def(&c.LoopEvery, 100)
	def(&c.KillEvery, 10)
	def(&c.RandomKill, 5)
	if c.Deadline <= 0 {
		c.Deadline = 20 * time.Millisecond
	}
	if c.Policy.Retries == 0 && c.Policy.Restarts == 0 && c.Policy.Window == 0 {
		logf := c.Policy.Logf
		c.Policy = CampaignPolicy
		c.Policy.Logf = logf
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// Report is a campaign's accounting.
type Report struct {
	Target                            string
	Unit                              string
	Config                            Config
	Elapsed                           time.Duration
	Armed                             map[string]int // faults armed, by kind
	Fired                             map[string]int // faults fired, by kind
	Unfired                           int            // armed faults a kill or retry budget left unfired
	KillsBetween, KillsRandom         int
	Restarts                          int   // the shadow's
	Recovered                         int64 // calls that succeeded on a retry
	Exhausted                         int64 // restarts the shadow's budget refused
	Ops                               int   // client operations
	Units                             int   // blocks or packets through intact
	Errors                            int   // errors that reached the client
	Overdue                           int   // of which calls past their deadline and its grace (a stalled host)
	Mismatches                        int   // blocks or packets that came back wrong
	Escaped                           int   // panics that reached the client
	Lingering                         int   // threads of dead instances still running, at the end
	Stuck                             int64 // abandoned deadline workers still running, at the end
	StuckTotal                        int64 // deadline workers ever abandoned
	GoroutinesBefore, GoroutinesAfter int
	HeapBefore, HeapAfter             uint64   // bytes in use after a GC
	LiveBefore, LiveAfter             int      // rref cells
	FirstErrors                       []string // the first few errors that reached the client
}

// Leaked is the shared-heap cells left after the campaign: 0 or a bug.
func (r *Report) Leaked() int { return r.LiveAfter - r.LiveBefore }

// FiredTotal is the faults fired, all kinds.
func (r *Report) FiredTotal() int {
	n := 0
	for _, v := range r.Fired {
		n += v
	}
	return n
}

// Run runs a campaign against t.
func Run(t Target, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	r := &Report{Target: t.Name(), Unit: t.Unit(), Config: cfg, Armed: map[string]int{}, Fired: map[string]int{}}
	runtime.GC()
	r.GoroutinesBefore, r.HeapBefore, r.LiveBefore = runtime.NumGoroutine(), heapInUse(), rref.Live()

	m := domain.NewManager()
	inj := faults.New()
	pol := cfg.Policy
	if pol.Logf == nil {
		pol.Logf = logf
	}
	g, c, err := t.Start(m, inj, pol, cfg.Deadline)
	if err != nil {
		m.Close()
		t.Close()
		return nil, err
	}
	name := t.Name()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xfa017))
	start := time.Now()

	// The killer kills the current instance at a random moment after
	// each request: while the client's calls are in the driver, between
	// them, or while the shadow restarts it.
	killReq := make(chan time.Duration)
	var killerDone sync.WaitGroup
	var randomKills atomic.Int64
	killerDone.Add(1)
	go func() {
		defer killerDone.Done()
		for d := range killReq {
			time.Sleep(d)
			if cur := g.Current(); cur.Alive() {
				m.Kill(cur)
				randomKills.Add(1)
			}
		}
	}()

	op := func() {
		defer func() {
			if v := recover(); v != nil {
				r.Escaped++
				if len(r.FirstErrors) < 5 {
					r.FirstErrors = append(r.FirstErrors, fmt.Sprintf("panic: %v", v))
				}
			}
		}()
		units, bad, err := c.Op(rng)
		r.Ops++
		r.Units += units
		r.Mismatches += bad
		if err != nil {
			r.Errors++
			var de *domain.DeadlineError
			if errors.As(err, &de) {
				r.Overdue++
			}
			if len(r.FirstErrors) < 5 {
				r.FirstErrors = append(r.FirstErrors, err.Error())
			}
		}
	}
	kinds := []string{faults.Panic, faults.NilPtr, faults.Index, faults.DivZero}
	for i := range cfg.Faults {
		kind := kinds[rng.IntN(len(kinds))]
		if rng.IntN(cfg.LoopEvery) == 0 {
			kind = faults.Loop
		}
		before := inj.Fired(name)
		if err := inj.Arm(name, kind); err != nil {
			return nil, err
		}
		r.Armed[kind]++
		if i%cfg.RandomKill == 0 {
			killReq <- time.Duration(rng.IntN(2000)) * time.Microsecond
		}
		// The next call into the driver fires it; a kill meanwhile can
		// let a retry through first, so a few operations may pass.
		for n := 0; inj.Fired(name) == before && n < 64; n++ {
			op()
		}
		if inj.Fired(name) != before {
			r.Fired[kind]++
		} else {
			inj.Disarm(name)
			r.Unfired++
		}
		if i%cfg.KillEvery == 0 {
			if cur := g.Current(); cur.Alive() {
				m.Kill(cur)
				r.KillsBetween++
			}
			op()
		}
		if (i+1)%10000 == 0 {
			logf("%s: %d faults, %d ops, %d restarts, %v", name, i+1, r.Ops, g.Restarts(), time.Since(start).Round(time.Millisecond))
		}
	}
	close(killReq)
	killerDone.Wait()
	op() // the driver serves after the last kill
	r.Elapsed = time.Since(start)
	r.KillsRandom = int(randomKills.Load())
	r.Restarts, r.Recovered, r.Exhausted = g.Restarts(), g.Recovered(), g.Exhausted()
	c.Close()
	c, op = nil, nil // what they reach (the target's device) may go before the heap is measured

	// The driver's own cells go with it; what is left is nobody's.
	m.Kill(g.Current())
	settled := waitFor(10*time.Second, func() bool {
		s := m.Stats()
		return s.Stuck == 0 && s.Lingering == 0
	})
	s := m.Stats()
	r.Lingering, r.Stuck, r.StuckTotal = s.Lingering, s.Stuck, s.StuckTotal
	if !settled {
		logf("%s: threads still out after 10 s: %+v", name, s)
	}
	r.LiveAfter = rref.Live()
	m.Close()
	t.Close()
	waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() <= r.GoroutinesBefore })
	runtime.GC()
	r.GoroutinesAfter, r.HeapAfter = runtime.NumGoroutine(), heapInUse()
	return r, nil
}

// waitFor polls cond until it holds or timeout passes; it reports whether
// it held. The conditions are counters of threads that end on their own
// (a dead domain's, an abandoned worker), which nothing signals.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for end := time.Now().Add(timeout); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Table is the report as the Markdown table BENCHMARKS.md records.
func (r *Report) Table() string {
	var b strings.Builder
	kinds := append(faultKinds(), "total")
	fmt.Fprintf(&b, "| %s | %s |\n|---|---|\n", "campaign", r.Target)
	row := func(k, v string, a ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(v, a...)) }
	var armed, fired []string
	ta, tf := 0, 0
	for _, k := range kinds[:len(kinds)-1] {
		armed = append(armed, fmt.Sprintf("%s %d", k, r.Armed[k]))
		fired = append(fired, fmt.Sprintf("%s %d", k, r.Fired[k]))
		ta += r.Armed[k]
		tf += r.Fired[k]
	}
	row("faults armed", "%d (%s)", ta, strings.Join(armed, ", "))
	row("faults fired", "%d (%s)", tf, strings.Join(fired, ", "))
	row("armed, not fired", "%d", r.Unfired)
	row("kills between calls / at random moments", "%d / %d", r.KillsBetween, r.KillsRandom)
	row("restarts (shadow)", "%d", r.Restarts)
	row("calls recovered by retry", "%d", r.Recovered)
	row("restarts refused (budget)", "%d", r.Exhausted)
	row("client operations", "%d", r.Ops)
	row(r.Unit+" through, verified", "%d", r.Units)
	row("errors that reached the client", "%d (past deadline and grace: %d)", r.Errors, r.Overdue)
	row("data mismatches", "%d", r.Mismatches)
	row("escaped panics", "%d", r.Escaped)
	row("lingering / stuck threads after", "%d / %d (stuck ever: %d)", r.Lingering, r.Stuck, r.StuckTotal)
	row("goroutines before / after", "%d / %d", r.GoroutinesBefore, r.GoroutinesAfter)
	row("heap before / after", "%.1f MB / %.1f MB", float64(r.HeapBefore)/1e6, float64(r.HeapAfter)/1e6)
	row("rref live cells after (leaked)", "%d", r.Leaked())
	row("time", "%v (%.0f faults/s)", r.Elapsed.Round(time.Millisecond), float64(tf)/r.Elapsed.Seconds())
	return b.String()
}

func faultKinds() []string { return faults.Kinds() }

// Check returns an error describing what the report shows went wrong, or
// nil: every fault fired, nothing reached the client, no data went bad, no
// panic escaped, no thread or cell was left behind.
func (r *Report) Check() error {
	var bad []string
	if r.Unfired*100 > r.FiredTotal() {
		bad = append(bad, fmt.Sprintf("%d of %d armed faults did not fire", r.Unfired, r.Unfired+r.FiredTotal()))
	}
	// A call whose worker is still out after its deadline and the grace
	// fails to the client (with the deadline's error, or a kill's that
	// came meanwhile): on a host that stalls the process that long (CI
	// machines do), whatever the kernel does. Each such call abandons a
	// worker (StuckTotal): any other error is a failure of the campaign.
	if int64(r.Errors) > r.StuckTotal {
		bad = append(bad, fmt.Sprintf("%d errors reached the client, with %d workers abandoned past deadline and grace (first: %q)",
			r.Errors, r.StuckTotal, r.FirstErrors))
	}
	if r.Mismatches > 0 {
		bad = append(bad, fmt.Sprintf("%d %s came back wrong", r.Mismatches, r.Unit))
	}
	if r.Escaped > 0 {
		bad = append(bad, fmt.Sprintf("%d panics escaped (first: %q)", r.Escaped, r.FirstErrors))
	}
	if r.Lingering > 0 || r.Stuck > 0 {
		bad = append(bad, fmt.Sprintf("%d lingering and %d stuck threads", r.Lingering, r.Stuck))
	}
	if r.Leaked() != 0 {
		bad = append(bad, fmt.Sprintf("%d shared-heap cells left behind", r.Leaked()))
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("campaign against %s: %s", r.Target, strings.Join(bad, "; "))
}
