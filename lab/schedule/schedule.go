// Package schedule turns a matrix and an inventory into a run of cells
// and drives it to the end: it queues each cell's attempts on the lab
// segment of a machine that may run it, reads the attempts' results as
// agents write them, and decides what comes next: an infrastructure
// error is retried on another machine of the same class (with its full
// timeouts), a failed suite is rerun on other machines to tell a flaky
// test from a regression, a machine with a power failure or too many
// infrastructure errors in a row is quarantined until health checks pass
// again, and an image that fails to boot on too many machines has its
// remaining cells cancelled (the boot gate).
//
// All of its state is in the engine's key-value store, and one scheduler
// per run holds the run's lease: kill it, start another (`rlbuild lab
// serve` adopts runs whose scheduler went away) and the run goes on.
package schedule

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/outcome"
)

// Plan expands a pinned matrix over an inventory into a run and its
// cells: every image x selected machine x suite. facts returns the
// machines' reported facts. A cell whose suite requires facts its
// machine lacks is skipped at once, with the reason.
func Plan(m *matrix.Matrix, inv *inventory.Inventory, facts func(string) map[string]inventory.Fact) (Run, []CellState, error) {
	machines := m.Select(inv, facts)
	if len(machines) == 0 {
		return Run{}, nil, fmt.Errorf("%s: the matrix selects no machine of %s: check machines: against the inventory's names, tags and facts", m.Path, inv.Path)
	}
	id, err := NewID()
	if err != nil {
		return Run{}, nil, err
	}
	r := Run{
		ID: id, Matrix: m.Name, Created: time.Now().UTC(), State: Running,
		Retries: m.RetryLimit(), Reruns: m.RerunLimit(), BootGate: m.BootGateLimit(),
		QuarAfter: m.Quar.After, HealthPasses: m.Quar.HealthPasses,
		Timeouts: m.Timeout, Labs: map[string]string{}, Suites: m.Suites,
		Inventory: inv.Path, MatrixPath: m.Path,
	}
	for _, img := range m.Images {
		if img.Digest == "" {
			return Run{}, nil, fmt.Errorf("image %s is not pinned (Matrix.Pin)", img.Name)
		}
		r.Images = append(r.Images, cell.Image{Name: img.Name, Digest: img.Digest, Artifacts: img.Artifacts})
	}
	if hi := m.Image(m.Quar.HealthImage); hi != nil {
		r.HealthImage = cell.Image{Name: hi.Name, Digest: hi.Digest, Artifacts: hi.Artifacts}
	}
	if hs := m.SuiteDefs[m.Quar.HealthSuite]; hs != nil {
		r.HealthSuite = suiteOf(hs)
	}
	for _, mc := range inv.Machines {
		r.Labs[mc.Name] = mc.Lab
	}
	classes := map[string][]string{}
	for _, mc := range machines {
		classes[mc.Class()] = append(classes[mc.Class()], mc.Name)
	}
	var cells []CellState
	for _, img := range m.Images {
		for _, s := range m.SortedSuites() {
			for _, mc := range machines {
				c := CellState{ID: img.Name + "." + s.Name + "." + mc.Name, Image: img.Name, Suite: s.Name, Machine: mc.Name, Class: mc.Class()}
				c.Candidates = append([]string{mc.Name}, without(classes[mc.Class()], mc.Name)...)
				if !matrix.FactsMatch(s.Requires, mc.Facts(facts(mc.Name))) {
					c.Status = outcome.Skipped
					c.Reason = fmt.Sprintf("%s lacks what suite %s requires (%s)", mc.Name, s.Name, describe(s.Requires))
				}
				cells = append(cells, c)
			}
		}
	}
	r.Cells = len(cells)
	return r, cells, nil
}

func describe(req map[string]inventory.Fact) string {
	var parts []string
	for k, v := range req {
		parts = append(parts, k+": "+v.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func suiteOf(s *matrix.Suite) cell.Suite {
	req := map[string][]string{}
	for k, v := range s.Requires {
		req[k] = v
	}
	return cell.Suite{Name: s.Name, KernelArgs: s.KernelArgs(), Requires: req, Fsck: s.Fsck}
}

func without(list []string, x string) []string {
	var out []string
	for _, s := range list {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}

// NewID returns a run id: the time and a random suffix.
func NewID() (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b), nil
}

// Scheduler drives one run.
type Scheduler struct {
	Engine engine.Engine
	// Suites are the run's suites by name (their kernel arguments).
	Suites map[string]cell.Suite
	Log    *slog.Logger
	// Holder names this scheduler in its lease.
	Holder string
	// LeaseTTL is the scheduler's lease TTL (default 15 s).
	LeaseTTL time.Duration
	// OnChange is called after each cell changes (progress output).
	OnChange func(c CellState)

	run   Run
	cells map[string]*CellState
	mach  map[string]*MachineState
	gate  map[string]map[string]bool // image -> machines it failed to boot on
	// checking are the machines with a health check queued.
	checking map[string]bool
	lease    *engine.Lease
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Create stores a planned run and its cells, for Drive to run. The
// suites' kernel arguments go into the run's record.
func Create(ctx context.Context, e engine.Engine, r Run, cells []CellState, suites map[string]cell.Suite) error {
	for _, c := range cells {
		if err := putJSON(ctx, e, CellKey(r.ID, c.ID), c); err != nil {
			return err
		}
	}
	r.SuiteDefs = suites
	b, _ := json.Marshal(r)
	_, err := e.Create(ctx, RunKey(r.ID), b)
	return err
}

// SuitesOf reads the suites stored with a run.
func SuitesOf(ctx context.Context, e engine.Engine, run string) (map[string]cell.Suite, error) {
	r, err := GetRun(ctx, e, run)
	return r.SuiteDefs, err
}

// ErrCanceled is returned by Drive for a cancelled run.
var ErrCanceled = errors.New("the run was cancelled")

// Drive runs the run to its end: it takes the run's lease (waiting while
// another scheduler has it), queues what is not queued, and handles
// attempts as they finish. It returns nil when every cell is final,
// ErrCanceled when the run is cancelled, or ctx's error.
func (s *Scheduler) Drive(ctx context.Context, runID string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.acquire(ctx, runID); err != nil {
		return err
	}
	defer s.Engine.Release(context.Background(), s.lease)
	lost := make(chan error, 1)
	go s.renew(ctx, lost)

	r, err := GetRun(ctx, s.Engine, runID)
	if err != nil {
		return err
	}
	s.run = r
	if s.Suites == nil {
		if s.Suites, err = SuitesOf(ctx, s.Engine, runID); err != nil {
			return err
		}
	}
	cells, err := Cells(ctx, s.Engine, runID)
	if err != nil {
		return err
	}
	s.cells = map[string]*CellState{}
	s.mach = map[string]*MachineState{}
	s.gate = map[string]map[string]bool{}
	s.checking = map[string]bool{}
	for i := range cells {
		c := &cells[i]
		s.cells[c.ID] = c
		for _, a := range c.Attempts {
			if a.Machine != "" && (a.Class == outcome.ClassBooted || a.Class == "tripwire") {
				s.markGate(c.Image, a.Machine)
			}
		}
	}
	if r.State == Canceled {
		return ErrCanceled
	}
	// Queue what is not queued: first attempts, and after a restart the
	// pending ones again (the queue drops a republished id it still
	// holds; agents drop an attempt whose result exists).
	for _, c := range cells {
		c := s.cells[c.ID]
		if c.Status.Final() {
			continue
		}
		if c.Pending == 0 {
			s.queue(ctx, c, "first", nil)
		} else {
			s.publish(ctx, c, c.Pending)
		}
	}
	// Quarantined machines of the run get their health checks.
	for _, name := range s.runMachines() {
		if m := GetMachine(ctx, s.Engine, name); m.State == Quarantined {
			m.ChecksBase = m.HealthChecks
			s.healthCheck(ctx, &m)
		}
	}
	if s.done() {
		return s.finish(ctx)
	}
	updates := s.rewatch(ctx, runID)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	heard, idle := false, 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return err
		case en, ok := <-updates:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				updates = s.rewatch(ctx, runID)
				continue
			}
			heard = true
			if en.Deleted {
				continue
			}
			id, n, ok := parseAttemptKey(runID, en.Key)
			if !ok {
				continue
			}
			var a Attempt
			if json.Unmarshal(en.Value, &a) != nil {
				continue
			}
			s.handle(ctx, id, n, a)
			if s.done() {
				return s.finish(ctx)
			}
		case <-tick.C:
			cur, err := GetRun(ctx, s.Engine, runID)
			if err == nil && cur.State == Canceled {
				return ErrCanceled
			}
			if !heard {
				// Nothing came for a while: a watch may not survive the
				// server's restart, so look the pending attempts up.
				s.reconcile(ctx)
				if idle++; idle%5 == 0 {
					updates = s.rewatch(ctx, runID)
				}
				if s.done() {
					return s.finish(ctx)
				}
			} else {
				idle = 0
			}
			heard = false
		}
	}
}

// rewatch starts the attempts' watch again.
func (s *Scheduler) rewatch(ctx context.Context, runID string) <-chan engine.Entry {
	for ctx.Err() == nil {
		w, err := s.Engine.Watch(ctx, AttemptPrefix(runID))
		if err == nil {
			return w
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// reconcile handles the results of pending attempts that the watch did
// not deliver.
func (s *Scheduler) reconcile(ctx context.Context) {
	look := func(id string, n int) {
		if a, err := GetAttempt(ctx, s.Engine, s.run.ID, id, n); err == nil {
			s.handle(ctx, id, n, a)
		}
	}
	for _, c := range s.sorted() {
		if !c.Status.Final() && c.Pending > 0 {
			look(c.ID, c.Pending)
		}
	}
	for m := range s.checking {
		look("health-"+m, GetMachine(ctx, s.Engine, m).HealthChecks)
	}
}

func (s *Scheduler) acquire(ctx context.Context, runID string) error {
	ttl := s.LeaseTTL
	if ttl == 0 {
		ttl = 15 * time.Second
	}
	for {
		l, err := s.Engine.Acquire(ctx, "sched-"+runID, engine.LeaseInfo{Holder: s.Holder, Run: runID}, ttl)
		if err == nil {
			s.lease = l
			return nil
		}
		if !errors.Is(err, engine.ErrLeaseHeld) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (s *Scheduler) renew(ctx context.Context, lost chan<- error) {
	t := time.NewTicker(s.lease.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Engine.Renew(ctx, s.lease); err != nil {
				if errors.Is(err, engine.ErrLeaseLost) {
					lost <- fmt.Errorf("scheduler of run %s: %w", s.run.ID, err)
					return
				}
				s.log().Warn("lab: renewing the scheduler's lease", "err", err)
			}
		}
	}
}

// runMachines are the machines the run's cells may use.
func (s *Scheduler) runMachines() []string {
	set := map[string]bool{}
	for _, c := range s.cells {
		for _, m := range c.Candidates {
			set[m] = true
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// done: every cell is final and no health check is out.
func (s *Scheduler) done() bool {
	if len(s.checking) > 0 {
		return false
	}
	for _, c := range s.cells {
		if !c.Status.Final() {
			return false
		}
	}
	return true
}

func (s *Scheduler) finish(ctx context.Context) error {
	r, rev, err := getJSON[Run](ctx, s.Engine, RunKey(s.run.ID))
	if err != nil {
		return err
	}
	if r.State == Canceled {
		return ErrCanceled
	}
	r.State, r.Finished = Done, time.Now().UTC()
	b, _ := json.Marshal(r)
	if _, err := s.Engine.Update(ctx, RunKey(s.run.ID), b, rev); err != nil {
		return fmt.Errorf("marking run %s done: %w", s.run.ID, err)
	}
	return nil
}

// next picks the machines for a cell's next attempt: those not tried
// yet first; if every candidate was tried, all of them again. They are
// narrowed to one lab segment, the first's.
func (s *Scheduler) next(c *CellState, exclude []string) (lab string, machines []string) {
	var fresh []string
	for _, m := range c.Candidates {
		if !contains(exclude, m) {
			fresh = append(fresh, m)
		}
	}
	if len(fresh) == 0 {
		fresh = c.Candidates
	}
	lab = s.run.Labs[fresh[0]]
	for _, m := range fresh {
		if s.run.Labs[m] == lab {
			machines = append(machines, m)
		}
	}
	return lab, machines
}

func contains(list []string, x string) bool {
	for _, s := range list {
		if s == x {
			return true
		}
	}
	return false
}

// queue records a new attempt of c as pending and publishes it.
func (s *Scheduler) queue(ctx context.Context, c *CellState, why string, exclude []string) {
	n := len(c.Attempts) + 1
	c.Pending = n
	c.Attempts = append(c.Attempts, AttemptRef{N: n, Why: why})
	s.save(ctx, c)
	s.publishExcl(ctx, c, n, exclude)
}

func (s *Scheduler) publish(ctx context.Context, c *CellState, n int) {
	var tried []string
	for _, a := range c.Attempts {
		if a.Machine != "" {
			tried = append(tried, a.Machine)
		}
	}
	s.publishExcl(ctx, c, n, tried)
}

func (s *Scheduler) publishExcl(ctx context.Context, c *CellState, n int, exclude []string) {
	lab, machines := s.next(c, exclude)
	var img cell.Image
	for _, i := range s.run.Images {
		if i.Name == c.Image {
			img = i
		}
	}
	t := cell.Task{Run: s.run.ID, Cell: c.ID, Attempt: n, Kind: cell.KindCell, Lab: lab, Machines: machines,
		Exclude: exclude, Image: img, Suite: s.Suites[c.Suite], Timeouts: s.run.Timeouts, Queued: time.Now().UTC()}
	s.send(ctx, t)
}

func (s *Scheduler) send(ctx context.Context, t cell.Task) {
	b, _ := json.Marshal(t)
	for {
		err := s.Engine.Publish(ctx, t.Lab, t.ID(), b)
		if err == nil || ctx.Err() != nil {
			return
		}
		s.log().Warn("lab: queueing a task; trying again", "task", t.ID(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Scheduler) save(ctx context.Context, c *CellState) {
	for {
		err := putJSON(ctx, s.Engine, CellKey(s.run.ID, c.ID), c)
		if err == nil || ctx.Err() != nil {
			break
		}
		s.log().Warn("lab: saving a cell; trying again", "cell", c.ID, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if s.OnChange != nil {
		s.OnChange(*c)
	}
}

// handle takes one attempt's result.
func (s *Scheduler) handle(ctx context.Context, id string, n int, a Attempt) {
	if a.Kind == cell.KindHealth {
		s.health(ctx, a)
		return
	}
	c := s.cells[id]
	if c == nil || n > len(c.Attempts) || c.Attempts[n-1].Status != "" {
		return // not ours, or seen already (a restart replays the bucket)
	}
	o := a.Outcome
	ref := &c.Attempts[n-1]
	ref.Machine, ref.Status, ref.Class, ref.Reason = a.Machine, o.Status, o.Class, o.Reason
	if c.Pending == n {
		c.Pending = 0
	}
	s.machineResult(ctx, a)
	if c.Status.Final() {
		s.save(ctx, c) // cancelled by the boot gate meanwhile
		return
	}
	if o.BootFailure && a.Machine != "" {
		s.markGate(c.Image, a.Machine)
		defer s.checkGate(ctx, c.Image)
	}
	tried := triedMachines(c)
	switch o.Status {
	case outcome.Passed:
		if c.Reruns > 0 {
			c.Status, c.Reason = outcome.Flaky, fmt.Sprintf("failed on %s, then passed on %s: %s", firstFailure(c), a.Machine, o.Reason)
		} else {
			c.Status, c.Reason = outcome.Passed, o.Reason
		}
	case outcome.Skipped:
		c.Status, c.Reason = outcome.Skipped, o.Reason
	case outcome.Failed:
		if c.Reruns < s.run.Reruns {
			c.Reruns++
			s.queue(ctx, c, "rerun", tried)
			return
		}
		c.Status, c.Reason = outcome.Failed, o.Reason
		if c.Reruns > 0 {
			c.Reason = fmt.Sprintf("%s (and on %d reruns: a regression, not a flake)", o.Reason, c.Reruns)
		}
	case outcome.Infra:
		if c.Retries < s.run.Retries {
			c.Retries++
			s.queue(ctx, c, "retry", tried)
			return
		}
		if c.Reruns > 0 {
			// A rerun of a failure met the infrastructure: the failure
			// stands.
			c.Status, c.Reason = outcome.Failed, fmt.Sprintf("%s; the rerun hit an infrastructure error: %s", firstFailure(c), o.Reason)
			break
		}
		c.Status, c.Class2, c.Reason = outcome.Infra, o.Class, fmt.Sprintf("%s (after %d retries)", o.Reason, c.Retries)
	case outcome.Canceled:
		c.Status, c.Reason = outcome.Canceled, o.Reason
	}
	s.save(ctx, c)
	s.checkGate(ctx, c.Image)
}

func triedMachines(c *CellState) []string {
	var out []string
	for _, a := range c.Attempts {
		if a.Machine != "" && !contains(out, a.Machine) {
			out = append(out, a.Machine)
		}
	}
	return out
}

func firstFailure(c *CellState) string {
	for _, a := range c.Attempts {
		if a.Status == outcome.Failed {
			return a.Machine + " (" + a.Reason + ")"
		}
	}
	return "?"
}

func (s *Scheduler) markGate(image, machine string) {
	if s.gate[image] == nil {
		s.gate[image] = map[string]bool{}
	}
	s.gate[image][machine] = true
}

// checkGate cancels an image's remaining cells once it failed to boot
// on BootGate machines; its boot failures become test failures.
func (s *Scheduler) checkGate(ctx context.Context, image string) {
	if s.run.BootGate <= 0 || len(s.gate[image]) < s.run.BootGate {
		return
	}
	var ms []string
	for m := range s.gate[image] {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	why := fmt.Sprintf("boot gate: image %s failed to boot on %s", image, strings.Join(ms, ", "))
	for _, c := range s.sorted() {
		if c.Image != image {
			continue
		}
		bootFailed := false
		for _, a := range c.Attempts {
			if a.Machine != "" && s.gate[image][a.Machine] && (a.Class == outcome.ClassBooted || a.Class == "tripwire") {
				bootFailed = true
			}
		}
		switch {
		case c.Status == outcome.Infra && bootFailed:
			c.Status, c.Reason = outcome.Failed, why+": "+c.Reason
		case !c.Status.Final() && bootFailed:
			c.Status, c.Reason, c.Pending = outcome.Failed, why, 0
		case !c.Status.Final():
			c.Status, c.Reason, c.Pending = outcome.Canceled, why, 0
		default:
			continue
		}
		s.save(ctx, c)
	}
}

func (s *Scheduler) sorted() []*CellState {
	out := make([]*CellState, 0, len(s.cells))
	for _, c := range s.cells {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// machineResult updates the health of the machine an attempt ran on.
func (s *Scheduler) machineResult(ctx context.Context, a Attempt) {
	if a.Machine == "" {
		return
	}
	m := GetMachine(ctx, s.Engine, a.Machine)
	m.Updated = time.Now().UTC()
	o := a.Outcome
	switch o.Status {
	case outcome.Infra:
		if o.Class == outcome.ClassLeaseLost || o.Class == outcome.ClassAgent {
			return // the agent's trouble, not the machine's
		}
		m.InfraStreak++
		if m.State != Quarantined && (o.Class == outcome.ClassPower || m.InfraStreak >= s.run.QuarAfter) {
			m.State, m.HealthPasses, m.ChecksBase = Quarantined, 0, m.HealthChecks
			m.Reason = fmt.Sprintf("%s (%d infrastructure errors in a row)", o.Reason, m.InfraStreak)
			putJSON(ctx, s.Engine, MachineKey(m.Name), m)
			s.log().Warn("lab: machine quarantined", "machine", m.Name, "reason", m.Reason)
			s.healthCheck(ctx, &m)
			return
		}
	case outcome.Passed, outcome.Failed, outcome.Flaky:
		if m.State == InService {
			m.InfraStreak = 0
		}
	default:
		return
	}
	putJSON(ctx, s.Engine, MachineKey(m.Name), m)
}

// extraHealthChecks bounds the health checks of one machine per
// quarantine (and per run) to the passes needed and this many more, so a
// dead machine neither loops for ever nor holds a run's end for long.
const extraHealthChecks = 2

// healthCheck queues a health check of a quarantined machine.
func (s *Scheduler) healthCheck(ctx context.Context, m *MachineState) {
	if s.run.HealthImage.Digest == "" || s.run.HealthSuite.Name == "" || m.HealthChecks-m.ChecksBase >= s.run.HealthPasses+extraHealthChecks {
		return
	}
	m.HealthChecks++
	s.checking[m.Name] = true
	putJSON(ctx, s.Engine, MachineKey(m.Name), m)
	t := cell.Task{Run: s.run.ID, Cell: "health-" + m.Name, Attempt: m.HealthChecks, Kind: cell.KindHealth,
		Lab: s.run.Labs[m.Name], Machines: []string{m.Name}, Image: s.run.HealthImage, Suite: s.run.HealthSuite,
		Timeouts: s.run.Timeouts, Queued: time.Now().UTC()}
	s.send(ctx, t)
}

// health takes a health check's result.
func (s *Scheduler) health(ctx context.Context, a Attempt) {
	if !s.checking[a.Machine] {
		return // seen already
	}
	delete(s.checking, a.Machine)
	m := GetMachine(ctx, s.Engine, a.Machine)
	if m.State != Quarantined {
		return
	}
	m.Updated = time.Now().UTC()
	if a.Outcome.Status == outcome.Passed {
		m.HealthPasses++
		if m.HealthPasses >= s.run.HealthPasses {
			m.State, m.InfraStreak, m.Reason = InService, 0, fmt.Sprintf("back in service after %d passing health checks", m.HealthPasses)
			putJSON(ctx, s.Engine, MachineKey(m.Name), m)
			s.log().Info("lab: machine back in service", "machine", m.Name)
			return
		}
	} else {
		m.HealthPasses = 0
	}
	putJSON(ctx, s.Engine, MachineKey(m.Name), m)
	s.healthCheck(ctx, &m)
}

// SetMachine sets a machine's health by hand (`rlbuild lab status`
// tooling and tests).
func SetMachine(ctx context.Context, e engine.Engine, m MachineState) error {
	m.Updated = time.Now().UTC()
	return putJSON(ctx, e, MachineKey(m.Name), m)
}
