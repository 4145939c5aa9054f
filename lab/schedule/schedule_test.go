package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rlgo/redleaf/lab/agent"
	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/engine/natsengine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/schedule"
	"github.com/rlgo/redleaf/lab/sim"
)

func quiet() *slog.Logger {
	if os.Getenv("LAB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// machinesYAML writes an inventory of simulated machines: name ->
// "lab/firmware".
func inventoryOf(t *testing.T, dir string, machines ...string) *inventory.Inventory {
	t.Helper()
	var b strings.Builder
	b.WriteString("lab: lab1\nmachines:\n")
	for i, m := range machines {
		name, rest, _ := strings.Cut(m, "@")
		lab, fw, _ := strings.Cut(rest, "/")
		fmt.Fprintf(&b, "  - name: %s\n    macs: [52:54:00:00:00:%02x]\n    firmware: %s\n    lab: %s\n    tags: [sim]\n    power: {type: qemu, address: /nonexistent/%s.qmp}\n", name, i+1, fw, lab, name)
	}
	path := filepath.Join(dir, "inventory.yaml")
	os.WriteFile(path, []byte(b.String()), 0o644)
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// matrixOf writes a matrix over images and suites with short timeouts;
// digests are stand-ins (the simulated machines boot no files).
func matrixOf(t *testing.T, dir string, images, suites []string, extra string) *matrix.Matrix {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "suites"), 0o755)
	for _, s := range suites {
		os.WriteFile(filepath.Join(dir, "suites", s+".yaml"), []byte("steps:\n  - {name: "+s+", run: "+s+"}\n"), 0o644)
	}
	var b strings.Builder
	b.WriteString("name: simtest\nimages:\n")
	for _, img := range images {
		fmt.Fprintf(&b, "  - {name: %s, artifacts: out/%s}\n", img, img)
	}
	fmt.Fprintf(&b, "machines:\n  - tags: [sim]\nsuites: [%s]\ntimeouts: {dhcp: 300ms, loader: 300ms, booted: 300ms, results: 300ms, lease: 20s}\n%s", strings.Join(suites, ", "), extra)
	path := filepath.Join(dir, "matrix.yaml")
	os.WriteFile(path, []byte(b.String()), 0o644)
	m, err := matrix.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range m.Images {
		img.Digest = fmt.Sprintf("sha256:%064x", i+1)
	}
	return m
}

type lab struct {
	t    *testing.T
	srv  *server.Server
	eng  *natsengine.Engine
	dir  string
	inv  *inventory.Inventory
	sim  *sim.Lab
	stop []context.CancelFunc
}

func newLab(t *testing.T, machines ...string) *lab {
	t.Helper()
	dir := t.TempDir()
	l := &lab{t: t, dir: dir, sim: sim.New()}
	l.startServer("")
	l.inv = inventoryOf(t, dir, machines...)
	t.Cleanup(func() {
		for _, s := range l.stop {
			s()
		}
		l.eng.Close()
		l.srv.Shutdown()
	})
	return l
}

func (l *lab) startServer(listen string) {
	s, err := natsengine.Embed(natsengine.EmbedOptions{StoreDir: filepath.Join(l.dir, "engine"), Listen: listen})
	if err != nil {
		l.t.Fatal(err)
	}
	l.srv = s
	if l.eng == nil {
		e, err := natsengine.Open(context.Background(), s, "test")
		if err != nil {
			l.t.Fatal(err)
		}
		e.AckWait = 2 * time.Second
		l.eng = e
	}
}

// connect opens a separate connection (an agent's or a scheduler's own).
func (l *lab) connect(name string) *natsengine.Engine {
	e, err := natsengine.Connect(context.Background(), l.srv.ClientURL(), name)
	if err != nil {
		l.t.Fatal(err)
	}
	e.AckWait = 2 * time.Second
	return e
}

func (l *lab) agent(name, labName string, e engine.Engine, workers ...int) (*agent.Agent, context.CancelFunc) {
	a := &agent.Agent{Name: name, Lab: labName, Engine: e, Inventory: l.inv, Runner: l.sim,
		LeaseTTL: 2 * time.Second, Heartbeat: 500 * time.Millisecond, Retry: 100 * time.Millisecond, Log: quiet()}
	if len(workers) > 0 {
		a.Workers = workers[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	go a.Run(ctx)
	l.stop = append(l.stop, cancel)
	return a, cancel
}

func (l *lab) plan(m *matrix.Matrix) schedule.Run {
	ctx := context.Background()
	r, cells, err := schedule.Plan(m, l.inv, func(string) map[string]inventory.Fact { return nil })
	if err != nil {
		l.t.Fatal(err)
	}
	suites := map[string]cell.Suite{}
	for _, s := range m.SortedSuites() {
		suites[s.Name] = cell.Suite{Name: s.Name, KernelArgs: s.KernelArgs()}
	}
	if err := schedule.Create(ctx, l.eng, r, cells, suites); err != nil {
		l.t.Fatal(err)
	}
	return r
}

func (l *lab) drive(e engine.Engine, run string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := &schedule.Scheduler{Engine: e, Holder: "test", LeaseTTL: 2 * time.Second, Log: quiet()}
	return s.Drive(ctx, run)
}

func (l *lab) cells(run string) map[string]schedule.CellState {
	cs, err := schedule.Cells(context.Background(), l.eng, run)
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]schedule.CellState{}
	for _, c := range cs {
		out[c.ID] = c
	}
	return out
}

func want(t *testing.T, cells map[string]schedule.CellState, id string, st outcome.Status, reason string) schedule.CellState {
	t.Helper()
	c, ok := cells[id]
	if !ok {
		t.Fatalf("no cell %s", id)
	}
	if c.Status != st || !strings.Contains(c.Reason, reason) {
		t.Errorf("cell %s: %s (%s), want %s with %q; attempts %+v", id, c.Status, c.Reason, st, reason, c.Attempts)
	}
	return c
}

func statuses(cells map[string]schedule.CellState) []outcome.Status {
	var out []outcome.Status
	for _, c := range cells {
		out = append(out, c.Status)
	}
	return out
}

// TestFaults runs a matrix over simulated machines with a fault each,
// and checks every cell's verdict and the machines' health.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab for a few seconds")
	}
	l := newLab(t, "a1@lab1/uefi", "a2@lab1/uefi", "a3@lab1/uefi", "a4@lab1/uefi", "a5@lab1/uefi", "b1@lab1/bios")
	l.sim.Set("a2", sim.Behavior{NoDHCP: true})
	l.sim.Set("a3", sim.Behavior{FailFirst: 1})
	l.sim.Set("a4", sim.Behavior{PowerFails: true})
	l.sim.Set("a5", sim.Behavior{Silent: true})
	l.sim.Set("b1", sim.Behavior{SuiteFails: true})
	m := matrixOf(t, l.dir, []string{"img"}, []string{"boot"}, "retries: 3\nreruns: 2\nquarantine: {after: 2, health_passes: 1}\nboot_gate: 0\n")
	r := l.plan(m)
	l.agent("agent1", "lab1", l.eng)
	if err := l.drive(l.eng, r.ID); err != nil {
		t.Fatal(err)
	}
	cells := l.cells(r.ID)
	want(t, cells, "img.boot.a1", outcome.Passed, "passed")
	// The machine that never asks for DHCP: retried elsewhere.
	c := want(t, cells, "img.boot.a2", outcome.Passed, "")
	if c.Attempts[0].Class != outcome.ClassDHCP || c.Attempts[len(c.Attempts)-1].Machine == "a2" {
		t.Errorf("a2's cell: attempts %+v, want no-dhcp first, then another machine", c.Attempts)
	}
	// A failure that passes on a rerun elsewhere is flaky, never passed.
	c = want(t, cells, "img.boot.a3", outcome.Flaky, "then passed")
	if c.Attempts[0].Status != outcome.Failed || c.Attempts[0].Machine != "a3" {
		t.Errorf("a3's cell: %+v", c.Attempts)
	}
	// A power failure: retried elsewhere; the machine quarantined.
	c = want(t, cells, "img.boot.a4", outcome.Passed, "")
	if c.Attempts[0].Class != outcome.ClassPower {
		t.Errorf("a4's cell: %+v", c.Attempts)
	}
	c = want(t, cells, "img.boot.a5", outcome.Passed, "")
	if c.Attempts[0].Class != outcome.ClassConsoleSilent {
		t.Errorf("a5's cell: %+v", c.Attempts)
	}
	// The only bios machine fails on every rerun: a regression.
	c = want(t, cells, "img.boot.b1", outcome.Failed, "regression")
	if len(c.Attempts) != 3 {
		t.Errorf("b1's cell: %d attempts, want 1 + 2 reruns: %+v", len(c.Attempts), c.Attempts)
	}
	if code := outcome.ExitCode(statuses(cells)); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	ctx := context.Background()
	if ms := schedule.GetMachine(ctx, l.eng, "a4"); ms.State != schedule.Quarantined || !strings.Contains(ms.Reason, "power") {
		t.Errorf("a4: %+v, want quarantined for power", ms)
	}
	if ms := schedule.GetMachine(ctx, l.eng, "a1"); ms.State != schedule.InService {
		t.Errorf("a1: %+v", ms)
	}
	// Every attempt's console log was kept, infrastructure errors too.
	at, err := schedule.GetAttempt(ctx, l.eng, r.ID, "img.boot.a5", 1)
	if err != nil || at.Log == "" || at.Outcome.Class != outcome.ClassConsoleSilent {
		t.Fatalf("a5 attempt 1: %+v %v", at, err)
	}
	if _, err := l.eng.GetLog(ctx, at.Log); err != nil {
		t.Errorf("log of a silent console: %v", err)
	}
	for _, p := range []string{cell.PhaseLease, cell.PhasePower, cell.PhaseDHCP, cell.PhaseLoader, cell.PhaseBooted} {
		if _, ok := at.Evidence.Phase(p); !ok {
			t.Errorf("a5 attempt 1 has no %s phase: %+v", p, at.Evidence.Phases)
		}
	}
}

// TestQuarantineAndHealth quarantines a machine after infrastructure
// errors in a row and brings it back with passing health checks.
func TestQuarantineAndHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab")
	}
	l := newLab(t, "a1@lab1/uefi", "a2@lab1/uefi")
	// a2 fails twice (no DHCP), then works: quarantined after 2, back
	// after 2 passing health checks.
	l.sim.Set("a2", sim.Behavior{NoDHCP: true})
	m := matrixOf(t, l.dir, []string{"img"}, []string{"s1", "s2"}, "retries: 2\nreruns: 0\nquarantine: {after: 2, health_passes: 2}\n")
	r := l.plan(m)
	l.sim.Started = make(chan string, 100)
	l.agent("agent1", "lab1", l.eng, 1) // one cell at a time: a2's cells run on a2
	done := make(chan error, 1)
	go func() { done <- l.drive(l.eng, r.ID) }()
	ctx := context.Background()
	// Wait for the quarantine, then heal the machine.
	deadline := time.After(time.Minute)
	for schedule.GetMachine(ctx, l.eng, "a2").State != schedule.Quarantined {
		select {
		case <-l.sim.Started:
		case <-deadline:
			t.Fatal("a2 never quarantined")
		case err := <-done:
			t.Fatalf("run ended before a2 was quarantined: %v", err)
		}
	}
	l.sim.Set("a2", sim.Behavior{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, c := range l.cells(r.ID) {
		if c.Status != outcome.Passed {
			t.Errorf("%s: %s %s", c.ID, c.Status, c.Reason)
		}
	}
	// The run ends after its health checks.
	if ms := schedule.GetMachine(ctx, l.eng, "a2"); ms.State != schedule.InService || !strings.Contains(ms.Reason, "2 passing health checks") {
		t.Errorf("a2 after the run: %+v", ms)
	}
}

// TestBootGate cancels an image's remaining cells once it failed to
// boot on two machines.
func TestBootGate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab")
	}
	l := newLab(t, "a1@lab1/uefi", "a2@lab1/uefi", "a3@lab1/uefi", "a4@lab1/uefi")
	l.sim.BadImage("bad")
	m := matrixOf(t, l.dir, []string{"good", "bad"}, []string{"s1", "s2"}, "retries: 1\nreruns: 0\nboot_gate: 2\n")
	r := l.plan(m)
	l.agent("agent1", "lab1", l.eng, 1) // one at a time: the gate closes before every bad cell ran
	if err := l.drive(l.eng, r.ID); err != nil {
		t.Fatal(err)
	}
	gated, canceled := 0, 0
	for id, c := range l.cells(r.ID) {
		switch {
		case strings.HasPrefix(id, "good."):
			if c.Status != outcome.Passed {
				t.Errorf("%s: %s %s", id, c.Status, c.Reason)
			}
		case c.Status == outcome.Failed && strings.Contains(c.Reason, "boot gate"):
			gated++
		case c.Status == outcome.Canceled && strings.Contains(c.Reason, "boot gate"):
			canceled++
		default:
			t.Errorf("%s: %s %s", id, c.Status, c.Reason)
		}
	}
	if gated == 0 || gated+canceled != 8 {
		t.Errorf("bad image: %d failed and %d cancelled by the boot gate, want 8 in all, some failed", gated, canceled)
	}
	if n := l.sim.Runs("a1") + l.sim.Runs("a2") + l.sim.Runs("a3") + l.sim.Runs("a4"); n >= 16 {
		t.Errorf("%d cells ran: the gate cancelled none", n)
	}
}

// TestAgentKilled kills an agent mid-cell (its connection dropped, no
// goodbye): its lease lapses, the task comes again and a new agent runs
// the cell.
func TestAgentKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab")
	}
	l := newLab(t, "a1@lab1/uefi")
	l.sim.Set("a1", sim.Behavior{Hang: true})
	m := matrixOf(t, l.dir, []string{"img"}, []string{"s1"}, "")
	r := l.plan(m)
	l.sim.Started = make(chan string, 10)
	e1 := l.connect("agent1")
	_, kill := l.agent("agent1", "lab1", e1)
	done := make(chan error, 1)
	go func() { done <- l.drive(l.eng, r.ID) }()
	<-l.sim.Started
	ctx := context.Background()
	ls, _ := l.eng.Leases(ctx)
	held := false
	for _, li := range ls {
		held = held || li.Machine == "a1" && li.Holder == "agent1"
	}
	if !held {
		t.Fatalf("leases while the cell runs: %+v", ls)
	}
	// Kill: the connection goes first, so nothing is released.
	e1.Conn().Close()
	kill()
	l.sim.Set("a1", sim.Behavior{})
	l.agent("agent2", "lab1", l.eng)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := want(t, l.cells(r.ID), "img.s1.a1", outcome.Passed, "")
	at, err := schedule.GetAttempt(ctx, l.eng, r.ID, c.ID, len(c.Attempts))
	if err != nil || at.Agent != "agent2" {
		t.Errorf("the cell's result came from %q (%v), want agent2", at.Agent, err)
	}
}

// TestHubRestart shuts the engine's server down mid-run and starts it
// again on the same store: agents and the scheduler reconnect and the
// run finishes.
func TestHubRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab")
	}
	dir := t.TempDir()
	l := &lab{t: t, dir: dir, sim: sim.New()}
	addr := freeAddr(t)
	l.startServer(addr)
	l.inv = inventoryOf(t, dir, "a1@lab1/uefi", "a2@lab1/uefi")
	defer func() {
		for _, s := range l.stop {
			s()
		}
		l.srv.Shutdown()
	}()
	l.sim.Set("a1", sim.Behavior{Step: 300 * time.Millisecond})
	l.sim.Set("a2", sim.Behavior{Step: 300 * time.Millisecond})
	m := matrixOf(t, dir, []string{"img"}, []string{"s1", "s2", "s3"}, "")
	admin := l.connect("admin")
	l.eng = admin
	r := l.plan(m)
	l.sim.Started = make(chan string, 100)
	l.agent("agent1", "lab1", l.connect("agent1"))
	schedEng := l.connect("scheduler")
	done := make(chan error, 1)
	go func() { done <- l.drive(schedEng, r.ID) }()
	<-l.sim.Started
	l.srv.Shutdown()
	l.srv.WaitForShutdown()
	l.startServer(addr)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(40 * time.Second):
		for id, c := range l.cells(r.ID) {
			t.Logf("%s: %s pending %d %+v", id, c.Status, c.Pending, c.Attempts)
		}
		keys, err := l.eng.Keys(context.Background(), "attempt.")
		t.Logf("attempts: %v %v", keys, err)
		ls, err := l.eng.Leases(context.Background())
		t.Logf("leases: %v %v", ls, err)
		t.Fatal("the run did not finish after the hub came back")
	}
	for id, c := range l.cells(r.ID) {
		if c.Status != outcome.Passed {
			t.Errorf("%s: %s %s", id, c.Status, c.Reason)
		}
	}
}

func freeAddr(t *testing.T) string {
	s, err := natsengine.Embed(natsengine.EmbedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	s.Shutdown()
	s.WaitForShutdown()
	return addr
}

// TestCancelReleasesLeases cancels a run while a cell runs: the cell
// stops and its lease is released at once, not when it lapses.
func TestCancelReleasesLeases(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab")
	}
	l := newLab(t, "a1@lab1/uefi")
	l.sim.Set("a1", sim.Behavior{Hang: true})
	m := matrixOf(t, l.dir, []string{"img"}, []string{"s1"}, "")
	r := l.plan(m)
	l.sim.Started = make(chan string, 10)
	a := &agent.Agent{Name: "agent1", Lab: "lab1", Engine: l.eng, Inventory: l.inv, Runner: l.sim,
		LeaseTTL: time.Hour, Heartbeat: 500 * time.Millisecond, Log: quiet()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	done := make(chan error, 1)
	go func() { done <- l.drive(l.eng, r.ID) }()
	<-l.sim.Started
	if err := schedule.Cancel(ctx, l.eng, r.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, schedule.ErrCanceled) {
		t.Fatalf("Drive: %v, want ErrCanceled", err)
	}
	// The lease's TTL is an hour: only a release frees it soon.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ls, err := l.eng.Leases(ctx)
		if err == nil && len(ls) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leases still held after cancel: %+v", ls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	at, err := schedule.GetAttempt(ctx, l.eng, r.ID, "img.s1.a1", 1)
	if err != nil || at.Outcome.Status != outcome.Canceled {
		t.Errorf("attempt after cancel: %+v %v", at.Outcome, err)
	}
}
