// Package agent is a lab segment's worker: it pulls that lab's tasks from
// the engine, leases a machine that may run each (a TTL lease renewed by
// heartbeat while the cell runs, the task kept by in-progress acks), runs
// the cell through a cell.Runner, keeps every console byte in the log
// store, classifies the attempt from its evidence and writes the result
// fenced by the lease, then releases the machine and acks the task. A
// cancelled run stops its cells and releases their leases at once; an
// agent that dies leaves leases that lapse and tasks that are delivered
// again.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/schedule"
)

// Agent runs one lab segment's cells.
type Agent struct {
	// Name identifies the agent in leases and results.
	Name string
	// Lab is the lab segment whose queue it pulls.
	Lab       string
	Engine    engine.Engine
	Inventory *inventory.Inventory
	Runner    cell.Runner
	// Workers is how many cells run at once (default: the lab's
	// machines).
	Workers int
	// LeaseTTL is the machine leases' TTL (default 30 s); they are
	// renewed at a third of it.
	LeaseTTL time.Duration
	// Heartbeat is how often a running task is reported in progress
	// (default 10 s; below the engine's ack wait).
	Heartbeat time.Duration
	// Retry is the delay before a task whose machines are all busy is
	// offered again (default 2 s).
	Retry time.Duration
	Log   *slog.Logger

	mu      sync.Mutex
	ran     int                                         // attempts finished
	running map[string]map[*int]context.CancelCauseFunc // cells running, by run
}

var errCanceled = errors.New("the run was cancelled")

// watchRuns cancels the running cells of a run as soon as it is
// cancelled.
func (a *Agent) watchRuns(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := a.Engine.Watch(ctx, "run.")
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for en := range w {
			var r schedule.Run
			if en.Deleted || json.Unmarshal(en.Value, &r) != nil || r.State != schedule.Canceled {
				continue
			}
			a.mu.Lock()
			for _, cancel := range a.running[r.ID] {
				cancel(errCanceled)
			}
			a.mu.Unlock()
		}
	}
}

func (a *Agent) register(run string, cancel context.CancelCauseFunc) func() {
	key := new(int)
	a.mu.Lock()
	if a.running == nil {
		a.running = map[string]map[*int]context.CancelCauseFunc{}
	}
	if a.running[run] == nil {
		a.running[run] = map[*int]context.CancelCauseFunc{}
	}
	a.running[run][key] = cancel
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		delete(a.running[run], key)
		if len(a.running[run]) == 0 {
			delete(a.running, run)
		}
		a.mu.Unlock()
	}
}

func (a *Agent) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

func dur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Ran returns how many attempts the agent finished.
func (a *Agent) Ran() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ran
}

// Run pulls and runs tasks until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if a.Inventory == nil || a.Runner == nil || a.Engine == nil {
		return errors.New("agent: needs an engine, an inventory and a runner")
	}
	n := a.Workers
	if n <= 0 {
		n = len(a.Inventory.InLab(a.Lab))
	}
	if n == 0 {
		return fmt.Errorf("agent: the inventory has no machine in lab %q", a.Lab)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.watchRuns(ctx)
	}()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				d, err := a.Engine.Pull(ctx, a.Lab)
				if err != nil {
					continue
				}
				a.task(ctx, d)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// task handles one delivery.
func (a *Agent) task(ctx context.Context, d engine.Delivery) {
	var t cell.Task
	if err := json.Unmarshal(d.Data(), &t); err != nil {
		a.log().Error("agent: dropping a task that is not JSON", "err", err)
		d.Ack()
		return
	}
	// Keep the task while we decide and run.
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go func() {
		tk := time.NewTicker(dur(a.Heartbeat, 10*time.Second))
		defer tk.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-tk.C:
				d.InProgress()
			}
		}
	}()
	run, err := schedule.GetRun(ctx, a.Engine, t.Run)
	if err != nil {
		if errors.Is(err, engine.ErrNotFound) {
			d.Ack() // a run that is gone
		} else {
			d.Nak(dur(a.Retry, 2*time.Second))
		}
		return
	}
	if run.State != schedule.Running {
		d.Ack()
		return
	}
	if t.Kind == cell.KindCell {
		c, _, err := getCell(ctx, a.Engine, t.Run, t.Cell)
		if err == nil && (c.Status.Final() || c.Pending != t.Attempt) {
			d.Ack() // decided meanwhile (boot gate), or a stale copy
			return
		}
	}
	if _, err := a.Engine.Get(ctx, schedule.AttemptKey(t.Run, t.Cell, t.Attempt)); err == nil {
		d.Ack() // done already: a redelivery after a lost ack
		return
	}
	lease, m, quarantined := a.lease(ctx, t)
	if lease == nil {
		if quarantined || time.Since(t.Queued) > timeout(t, cell.PhaseLease) {
			why := fmt.Errorf("no machine of %v free and in service within %v", t.Machines, timeout(t, cell.PhaseLease))
			if quarantined {
				why = fmt.Errorf("every machine that may run it is quarantined (%s)", strings.Join(t.Machines, ", "))
			}
			ev := &cell.Evidence{}
			ev.Start(cell.PhaseLease)
			ev.End(cell.PhaseLease, "", why)
			machine := ""
			if t.Kind == cell.KindHealth && len(t.Machines) > 0 {
				machine = t.Machines[0] // the check is of that machine, leased or not
			}
			a.record(ctx, t, machine, "", ev, time.Now())
			d.Ack()
			return
		}
		d.Nak(dur(a.Retry, 2*time.Second))
		return
	}
	a.runCell(ctx, t, lease, m, d)
}

func getCell(ctx context.Context, e engine.Engine, run, id string) (schedule.CellState, uint64, error) {
	en, err := e.Get(ctx, schedule.CellKey(run, id))
	if err != nil {
		return schedule.CellState{}, 0, err
	}
	var c schedule.CellState
	err = json.Unmarshal(en.Value, &c)
	return c, en.Rev, err
}

func timeout(t cell.Task, phase string) time.Duration {
	if d := t.Timeouts[phase]; d > 0 {
		return d
	}
	return matrix.DefaultTimeouts[phase]
}

// lease leases the first machine of the task that is in this lab, in
// service (unless this is its health check) and free. quarantined
// reports that every candidate is quarantined: waiting cannot help.
func (a *Agent) lease(ctx context.Context, t cell.Task) (l *engine.Lease, m *inventory.Machine, quarantined bool) {
	quarantined = true
	for _, name := range t.Machines {
		m := a.Inventory.Machine(name)
		if m == nil || m.Lab != a.Lab {
			continue
		}
		if t.Kind != cell.KindHealth && schedule.GetMachine(ctx, a.Engine, name).State == schedule.Quarantined {
			continue
		}
		quarantined = false
		l, err := a.Engine.Acquire(ctx, name, engine.LeaseInfo{Holder: a.Name, Run: t.Run, Cell: t.Cell}, dur(a.LeaseTTL, 30*time.Second))
		if err == nil {
			return l, m, false
		}
	}
	return nil, nil, quarantined
}

// runCell runs a leased cell and records it.
func (a *Agent) runCell(ctx context.Context, t cell.Task, l *engine.Lease, m *inventory.Machine, d engine.Delivery) {
	start := time.Now()
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errLost := errors.New("the machine's lease lapsed")
	defer a.register(t.Run, cancel)()
	ev := &cell.Evidence{}
	ev.Start(cell.PhaseLease)
	ev.End(cell.PhaseLease, m.Name, nil)
	// Renew the lease; watch for the run's cancellation.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(l.TTL / 3)
		defer tk.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-tk.C:
				if err := a.Engine.Renew(cctx, l); errors.Is(err, engine.ErrLeaseLost) {
					cancel(errLost)
					return
				}
			}
		}
	}()
	logf, err := os.CreateTemp("", "rlbuild-lab-console-")
	if err != nil {
		a.log().Error("agent: console log file", "err", err)
		logf = nil
	}
	if logf != nil {
		defer os.Remove(logf.Name())
		defer logf.Close()
	}
	job := cell.Job{Task: t, Machine: m, Facts: m.Facts(schedule.GetFacts(ctx, a.Engine, m.Name))}
	var w = discard{}
	var rerr error
	if !matrix.FactsMatch(toFacts(t.Suite.Requires), job.Facts) {
		ev.Update(func(e *cell.EvidenceData) {
			e.Skipped = fmt.Sprintf("%s lacks what suite %s requires", m.Name, t.Suite.Name)
		})
	} else if logf != nil {
		rerr = a.Runner.Run(cctx, job, ev, logf)
	} else {
		rerr = a.Runner.Run(cctx, job, ev, w)
	}
	cause := context.Cause(cctx)
	cancel(nil)
	wg.Wait()
	if rerr != nil {
		a.log().Info("agent: cell ended with an error", "cell", t.Cell, "attempt", t.Attempt, "machine", m.Name, "err", rerr)
	}
	switch {
	case errors.Is(cause, errLost):
		// Someone else may hold the machine now: write nothing, let the
		// task go to another delivery.
		a.log().Warn("agent: lease lapsed mid-cell; the task is redelivered", "cell", t.Cell, "machine", m.Name)
		d.Nak(0)
		return
	case errors.Is(cause, errCanceled):
		// Release first: a cancelled run frees its machines at once;
		// the record of the cancelled attempt needs no fence.
		a.Engine.Release(context.Background(), l)
		ev.Update(func(e *cell.EvidenceData) { e.Canceled = true })
		a.record(ctx, t, m.Name, a.storeLog(ctx, t, logf), ev, start)
		d.Ack()
		return
	case ctx.Err() != nil:
		// The agent is stopping: the task goes back to the queue.
		a.Engine.Release(context.Background(), l)
		d.Nak(0)
		return
	}
	logName := a.storeLog(ctx, t, logf)
	if f := ev.Snapshot().Facts; len(f) > 0 {
		schedule.PutFacts(ctx, a.Engine, m.Name, f)
	}
	if err := a.recordFenced(ctx, t, l, m.Name, logName, ev, start); err != nil {
		a.log().Warn("agent: result not written", "cell", t.Cell, "err", err)
		d.Nak(0)
		return
	}
	a.Engine.Release(context.Background(), l)
	d.Ack()
}

// storeLog keeps the console log in the engine's log store.
func (a *Agent) storeLog(ctx context.Context, t cell.Task, logf *os.File) string {
	if logf == nil {
		return ""
	}
	if _, err := logf.Seek(0, 0); err != nil {
		return ""
	}
	name := schedule.LogName(t.Run, t.Cell, t.Attempt)
	if err := a.Engine.PutLog(ctx, name, logf); err != nil {
		a.log().Error("agent: storing the console log", "cell", t.Cell, "err", err)
		return ""
	}
	return name
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func toFacts(m map[string][]string) map[string]inventory.Fact {
	out := map[string]inventory.Fact{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (a *Agent) attempt(t cell.Task, machine, logName string, ev *cell.Evidence, start time.Time) schedule.Attempt {
	d := ev.Snapshot()
	return schedule.Attempt{Run: t.Run, Cell: t.Cell, N: t.Attempt, Kind: t.Kind, Machine: machine, Agent: a.Name, Lab: a.Lab,
		Image: t.Image, Suite: t.Suite.Name, Started: start.UTC(), Ended: time.Now().UTC(),
		Evidence: d, Outcome: outcome.Classify(d), Log: logName}
}

// record writes an attempt that holds no lease (none could be had, or
// the run was cancelled).
func (a *Agent) record(ctx context.Context, t cell.Task, machine, logName string, ev *cell.Evidence, start time.Time) {
	at := a.attempt(t, machine, logName, ev, start)
	b, _ := json.Marshal(at)
	if _, err := a.Engine.Create(ctx, schedule.AttemptKey(t.Run, t.Cell, t.Attempt), b); err != nil {
		a.log().Warn("agent: result not written", "cell", t.Cell, "err", err)
	}
	a.count()
}

// recordFenced writes an attempt while the machine's lease still holds.
func (a *Agent) recordFenced(ctx context.Context, t cell.Task, l *engine.Lease, machine, logName string, ev *cell.Evidence, start time.Time) error {
	at := a.attempt(t, machine, logName, ev, start)
	at.LeaseRev = l.Rev
	b, _ := json.Marshal(at)
	if err := a.Engine.PutFenced(ctx, l, schedule.AttemptKey(t.Run, t.Cell, t.Attempt), b); err != nil {
		return err
	}
	a.count()
	return nil
}

func (a *Agent) count() {
	a.mu.Lock()
	a.ran++
	a.mu.Unlock()
}
