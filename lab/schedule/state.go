package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/outcome"
)

// Keys of the state bucket. Runs, cells and attempts are per run;
// machines and facts are the lab's.
func RunKey(run string) string                { return "run." + run }
func CellKey(run, id string) string           { return "cell." + run + "." + id }
func CellPrefix(run string) string            { return "cell." + run + "." }
func AttemptKey(run, id string, n int) string { return fmt.Sprintf("attempt.%s.%s.%d", run, id, n) }
func AttemptPrefix(run string) string         { return "attempt." + run + "." }
func MachineKey(name string) string           { return "machine." + name }
func FactsKey(name string) string             { return "facts." + name }
func LogName(run, id string, n int) string    { return fmt.Sprintf("log.%s.%s.%d", run, id, n) }

// Run states.
const (
	Running  = "running"
	Done     = "done"
	Canceled = "canceled"
)

// Run is a run's record.
type Run struct {
	ID       string    `json:"id"`
	Matrix   string    `json:"matrix"`
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished,omitzero"`
	State    string    `json:"state"`
	Reason   string    `json:"reason,omitempty"`

	Retries      int                      `json:"retries"`
	Reruns       int                      `json:"reruns"`
	BootGate     int                      `json:"boot_gate"`
	QuarAfter    int                      `json:"quarantine_after"`
	HealthPasses int                      `json:"health_passes"`
	HealthImage  cell.Image               `json:"health_image"`
	HealthSuite  cell.Suite               `json:"health_suite"`
	Timeouts     map[string]time.Duration `json:"timeouts"`
	Images       []cell.Image             `json:"images"`
	Suites       []string                 `json:"suites"`
	// SuiteDefs are the suites' kernel arguments and requirements.
	SuiteDefs map[string]cell.Suite `json:"suite_defs"`
	// Labs of the machines, by machine name.
	Labs map[string]string `json:"labs"`
	// Inventory and MatrixPath are the files the run came from (for
	// reports and reruns).
	Inventory  string `json:"inventory,omitempty"`
	MatrixPath string `json:"matrix_path,omitempty"`
	Cells      int    `json:"cells"`
	// GatedImages are images whose remaining cells the boot gate
	// cancelled.
	GatedImages map[string]string `json:"gated_images,omitempty"`
}

// CellState is a cell's record: what it is, its attempts, its verdict.
type CellState struct {
	ID      string `json:"id"`
	Image   string `json:"image"`
	Suite   string `json:"suite"`
	Machine string `json:"machine"` // the machine the matrix named
	Class   string `json:"class"`
	// Candidates are the machines of its class, Machine first.
	Candidates []string     `json:"candidates"`
	Attempts   []AttemptRef `json:"attempts,omitempty"`
	// Pending is the attempt queued or running (0: none).
	Pending int `json:"pending,omitempty"`
	// Status is final once set.
	Status outcome.Status `json:"status,omitempty"`
	Reason string         `json:"reason,omitempty"`
	Class2 string         `json:"infra_class,omitempty"`
	// Reruns counts the reruns after a failure.
	Reruns  int `json:"reruns,omitempty"`
	Retries int `json:"retries,omitempty"`
}

// AttemptRef summarizes an attempt in its cell's record.
type AttemptRef struct {
	N       int            `json:"n"`
	Why     string         `json:"why"` // first, retry, rerun
	Machine string         `json:"machine,omitempty"`
	Status  outcome.Status `json:"status,omitempty"`
	Class   string         `json:"class,omitempty"`
	Reason  string         `json:"reason,omitempty"`
}

// Attempt is an attempt's full record, written by the agent that ran it
// (fenced by its machine lease).
type Attempt struct {
	Run      string            `json:"run"`
	Cell     string            `json:"cell"`
	N        int               `json:"n"`
	Kind     string            `json:"kind"`
	Machine  string            `json:"machine,omitempty"`
	Agent    string            `json:"agent"`
	Lab      string            `json:"lab"`
	Image    cell.Image        `json:"image"`
	Suite    string            `json:"suite"`
	Started  time.Time         `json:"started"`
	Ended    time.Time         `json:"ended"`
	Evidence cell.EvidenceData `json:"evidence"`
	Outcome  outcome.Outcome   `json:"outcome"`
	// Log is the console log's name in the log store.
	Log      string `json:"log,omitempty"`
	LeaseRev uint64 `json:"lease_rev,omitempty"`
}

// Machine health states.
const (
	InService   = "ok"
	Quarantined = "quarantined"
)

// MachineState is a machine's health, kept across runs.
type MachineState struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	Reason       string `json:"reason,omitempty"`
	InfraStreak  int    `json:"infra_streak"`
	HealthPasses int    `json:"health_passes"`
	HealthChecks int    `json:"health_checks"`
	// ChecksBase is HealthChecks when this quarantine (or run) began:
	// the checks per quarantine are bounded.
	ChecksBase int       `json:"checks_base"`
	Updated    time.Time `json:"updated"`
}

// Facts are a machine's reported facts.
type Facts struct {
	Facts   map[string]inventory.Fact `json:"facts"`
	Updated time.Time                 `json:"updated"`
}

func getJSON[T any](ctx context.Context, e engine.Engine, key string) (T, uint64, error) {
	var v T
	en, err := e.Get(ctx, key)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(en.Value, &v); err != nil {
		return v, 0, fmt.Errorf("%s: %w", key, err)
	}
	return v, en.Rev, nil
}

func putJSON(ctx context.Context, e engine.Engine, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = e.Put(ctx, key, b)
	return err
}

// GetRun reads a run.
func GetRun(ctx context.Context, e engine.Engine, id string) (Run, error) {
	r, _, err := getJSON[Run](ctx, e, RunKey(id))
	return r, err
}

// GetMachine reads a machine's health (in service if never seen).
func GetMachine(ctx context.Context, e engine.Engine, name string) MachineState {
	m, _, err := getJSON[MachineState](ctx, e, MachineKey(name))
	if err != nil {
		return MachineState{Name: name, State: InService}
	}
	return m
}

// GetFacts reads a machine's reported facts.
func GetFacts(ctx context.Context, e engine.Engine, name string) map[string]inventory.Fact {
	f, _, err := getJSON[Facts](ctx, e, FactsKey(name))
	if err != nil {
		return nil
	}
	return f.Facts
}

// PutFacts stores a machine's reported facts.
func PutFacts(ctx context.Context, e engine.Engine, name string, f map[string]inventory.Fact) error {
	return putJSON(ctx, e, FactsKey(name), Facts{Facts: f, Updated: time.Now().UTC()})
}

// Cells reads a run's cells, sorted by id.
func Cells(ctx context.Context, e engine.Engine, run string) ([]CellState, error) {
	keys, err := e.Keys(ctx, CellPrefix(run))
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	out := make([]CellState, 0, len(keys))
	for _, k := range keys {
		c, _, err := getJSON[CellState](ctx, e, k)
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// GetAttempt reads an attempt's full record.
func GetAttempt(ctx context.Context, e engine.Engine, run, id string, n int) (Attempt, error) {
	a, _, err := getJSON[Attempt](ctx, e, AttemptKey(run, id, n))
	return a, err
}

// Runs lists the runs, newest first.
func Runs(ctx context.Context, e engine.Engine) ([]Run, error) {
	keys, err := e.Keys(ctx, "run.")
	if err != nil {
		return nil, err
	}
	var out []Run
	for _, k := range keys {
		r, _, err := getJSON[Run](ctx, e, k)
		if err == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Cancel marks a run cancelled: its scheduler stops, its queued tasks
// are dropped and its agents stop their cells and release their leases.
func Cancel(ctx context.Context, e engine.Engine, id, reason string) error {
	r, rev, err := getJSON[Run](ctx, e, RunKey(id))
	if err != nil {
		return err
	}
	if r.State != Running {
		return nil
	}
	r.State, r.Reason, r.Finished = Canceled, reason, time.Now().UTC()
	b, _ := json.Marshal(r)
	if _, err := e.Update(ctx, RunKey(id), b, rev); err != nil {
		return err
	}
	labs := map[string]bool{}
	for _, l := range r.Labs {
		labs[l] = true
	}
	for l := range labs {
		e.PurgeRun(ctx, l, id)
	}
	return nil
}

// parseAttemptKey splits attempt.RUN.CELL.N (CELL may hold dots).
func parseAttemptKey(run, key string) (id string, n int, ok bool) {
	rest, found := strings.CutPrefix(key, AttemptPrefix(run))
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", 0, false
	}
	if _, err := fmt.Sscanf(rest[i+1:], "%d", &n); err != nil {
		return "", 0, false
	}
	return rest[:i], n, true
}
