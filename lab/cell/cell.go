// Package cell is one cell of the matrix as it travels and runs: the
// task on a lab's queue (an image, by manifest digest, with a suite, for
// one of some machines), the phases a run of it goes through (lease,
// power, DHCP, loader, booted, suite, results), each timed, and the
// evidence each phase leaves, from which package outcome decides what
// happened. Runner is what runs a cell on a machine; the agent owns the
// lease, the queue and the storing of results.
package cell

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/rlgo/redleaf/lab/inventory"
)

// Phase names, in the order a cell reaches them.
const (
	PhaseLease    = "lease"
	PhasePower    = "power"
	PhaseDHCP     = "dhcp"
	PhaseLoader   = "loader" // TFTP or HTTP: the boot loader, kernel and initrd fetched
	PhaseBooted   = "booted" // the image's token-authenticated "booted" report
	PhaseSuite    = "suite"
	PhaseResults  = "results"
	PhasePowerOff = "poweroff"
)

// Phases lists the phases in order.
var Phases = []string{PhaseLease, PhasePower, PhaseDHCP, PhaseLoader, PhaseBooted, PhaseSuite, PhaseResults}

// Task kinds.
const (
	KindCell   = "cell"
	KindHealth = "health" // a health check of a quarantined machine
)

// Task is the message on a lab's work queue: one attempt of one cell.
type Task struct {
	Run     string `json:"run"`
	Cell    string `json:"cell"`
	Attempt int    `json:"attempt"`
	Kind    string `json:"kind"`
	Lab     string `json:"lab"`
	// Machines are the candidates, preferred first; Exclude are the
	// machines tried already (each retry goes elsewhere if it can).
	Machines []string `json:"machines"`
	Exclude  []string `json:"exclude,omitempty"`
	Image    Image    `json:"image"`
	Suite    Suite    `json:"suite"`
	// Timeouts per phase; each attempt has them in full.
	Timeouts map[string]time.Duration `json:"timeouts"`
	Queued   time.Time                `json:"queued"`
}

// ID is the task's idempotency key.
func (t *Task) ID() string {
	return t.Run + "." + t.Cell + "." + itoa(t.Attempt)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Image is an image pinned by its manifest's digest.
type Image struct {
	Name      string `json:"name"`
	Digest    string `json:"digest"`
	Artifacts string `json:"artifacts"`
}

// Suite is what the target runs: its name, the kernel arguments that
// carry it (matrix.Suite.KernelArgs) and the facts it requires.
type Suite struct {
	Name       string              `json:"name"`
	KernelArgs string              `json:"kernel_args"`
	Requires   map[string][]string `json:"requires,omitempty"`
	// Fsck checks the Rv6 file system on the machine's NVMe disk after
	// the suite, from the host, with the machine off.
	Fsck bool `json:"fsck,omitempty"`
}

// Job is a task bound to the machine the agent leased for it.
type Job struct {
	Task    Task
	Machine *inventory.Machine
	// Facts are the machine's facts as the engine knows them.
	Facts map[string]inventory.Fact
}

// Timeout returns the job's timeout for a phase, the machine's own
// first.
func (j Job) Timeout(phase string) time.Duration {
	if d, ok := j.Machine.Timeouts[phase]; ok {
		return d
	}
	if d, ok := j.Task.Timeouts[phase]; ok && d > 0 {
		return d
	}
	return time.Minute
}

// Runner runs a job on its machine: power, boot through the netboot
// server, console capture, suite, results. It records each phase in ev
// and every console byte in console, and returns when the cell is over
// (the machine powered off) or ctx ends. Its error is for the log only:
// the outcome is decided from ev.
type Runner interface {
	Run(ctx context.Context, j Job, ev *Evidence, console io.Writer) error
}

// PhaseRecord is one phase's timing and result.
type PhaseRecord struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	OK    bool      `json:"ok"`
	// Err says why the phase failed (or was cut short).
	Err string `json:"error,omitempty"`
	// Detail is what was seen (an event, the address, the loader).
	Detail string `json:"detail,omitempty"`
}

// Duration is the phase's length.
func (p PhaseRecord) Duration() time.Duration {
	if p.End.IsZero() {
		return 0
	}
	return p.End.Sub(p.Start)
}

// StepResult is one suite step's result as the target reported it.
type StepResult struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // pass, fail, skip
	Exit    int     `json:"exit"`
	Seconds float64 `json:"seconds"`
	Message string  `json:"message,omitempty"`
}

// Evidence is what a run of a cell left behind. It is safe for
// concurrent use (the console watcher and the runner both add to it).
type Evidence struct {
	mu sync.Mutex
	E  EvidenceData
}

// EvidenceData is Evidence's content, as stored.
type EvidenceData struct {
	Phases []PhaseRecord `json:"phases"`
	// Tripwire is the console line that ended the cell early.
	Tripwire string `json:"tripwire,omitempty"`
	// ConsoleBytes counts console bytes; ConsoleSilent is set when the
	// console stayed silent for the whole boot.
	ConsoleBytes  int64 `json:"console_bytes"`
	ConsoleSilent bool  `json:"console_silent,omitempty"`
	// Steps are the suite's results from the results endpoint, or from
	// console markers (FromConsole) when the post never came.
	Steps       []StepResult `json:"steps,omitempty"`
	FromConsole bool         `json:"from_console,omitempty"`
	// Skipped says why the cell did not run (the machine lacks a fact
	// the suite requires).
	Skipped string `json:"skipped,omitempty"`
	// Boot is the netboot server's boot id.
	Boot string `json:"boot,omitempty"`
	// Facts the image reported about the machine.
	Facts map[string]inventory.Fact `json:"facts,omitempty"`
	// Canceled: the run was cancelled while the cell ran.
	Canceled bool `json:"canceled,omitempty"`
}

// Start opens a phase.
func (e *Evidence) Start(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.E.Phases = append(e.E.Phases, PhaseRecord{Name: name, Start: time.Now().UTC()})
}

// End closes the open phase of that name: ok when err is nil.
func (e *Evidence) End(name string, detail string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.E.Phases) - 1; i >= 0; i-- {
		p := &e.E.Phases[i]
		if p.Name == name && p.End.IsZero() {
			p.End, p.OK, p.Detail = time.Now().UTC(), err == nil, detail
			if err != nil {
				p.Err = err.Error()
			}
			return
		}
	}
}

// Update runs f on the data under the lock.
func (e *Evidence) Update(f func(d *EvidenceData)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.E)
}

// Snapshot returns a copy of the data.
func (e *Evidence) Snapshot() EvidenceData {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, _ := json.Marshal(e.E)
	var d EvidenceData
	json.Unmarshal(b, &d)
	return d
}

// Phase returns the last record of a phase.
func (d EvidenceData) Phase(name string) (PhaseRecord, bool) {
	for i := len(d.Phases) - 1; i >= 0; i-- {
		if d.Phases[i].Name == name {
			return d.Phases[i], true
		}
	}
	return PhaseRecord{}, false
}

// Reached reports whether a phase ended well.
func (d EvidenceData) Reached(name string) bool {
	p, ok := d.Phase(name)
	return ok && p.OK
}
