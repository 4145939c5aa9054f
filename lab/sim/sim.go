// Package sim is a simulated lab: machines whose power, netboot, boot and
// suite happen in-process, each with a behaviour (works, power backend
// fails, never gets DHCP, loads nothing, console goes silent, suite
// fails, fails a number of times then passes). The scheduling benchmark
// runs 1,000 of them against the real engine, and the scheduling tests
// inject each fault with it; real machines run through lab/runner.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/inventory"
)

// Behavior is how a simulated machine behaves.
type Behavior struct {
	PowerFails bool
	NoDHCP     bool
	NoLoader   bool
	// Silent: loaded, then nothing on the console and no "booted".
	Silent bool
	// NoBooted: the console talks, but "booted" never comes.
	NoBooted bool
	// Panic prints a kernel panic on the console after loading.
	Panic bool
	// SuiteFails fails every suite step; FailFirst fails the first n
	// runs of a suite on this machine, then passes.
	SuiteFails bool
	FailFirst  int
	// NoResults: booted, but no results posted or printed.
	NoResults bool
	// Hang blocks in the suite until the cell is cancelled.
	Hang bool
	// Step is the time each phase takes (default 0).
	Step time.Duration
	// Facts the booted image reports.
	Facts map[string]inventory.Fact
}

// Lab is a set of simulated machines; it is a cell.Runner.
type Lab struct {
	mu        sync.Mutex
	behaviors map[string]Behavior
	runs      map[string]int // by machine
	badImages map[string]bool
	// Started is signalled (if set) when a cell starts on a machine.
	Started chan string
}

// New returns a lab where every machine works unless set otherwise.
func New() *Lab {
	return &Lab{behaviors: map[string]Behavior{}, runs: map[string]int{}, badImages: map[string]bool{}}
}

// BadImage makes an image fail to boot everywhere: it is loaded, talks
// on the console, and never reports "booted".
func (l *Lab) BadImage(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.badImages[name] = true
}

// Set sets a machine's behaviour.
func (l *Lab) Set(machine string, b Behavior) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.behaviors[machine] = b
}

// Runs returns how many cells ran on a machine.
func (l *Lab) Runs(machine string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs[machine]
}

func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run runs a cell on a simulated machine.
func (l *Lab) Run(ctx context.Context, j cell.Job, ev *cell.Evidence, console io.Writer) error {
	name := j.Machine.Name
	l.mu.Lock()
	b := l.behaviors[name]
	l.runs[name]++
	n := l.runs[name]
	started := l.Started
	if l.badImages[j.Task.Image.Name] {
		b.NoBooted = true
	}
	l.mu.Unlock()
	if started != nil {
		select {
		case started <- name:
		default:
		}
	}
	say := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...) + "\n"
		console.Write([]byte(s))
		ev.Update(func(d *cell.EvidenceData) { d.ConsoleBytes += int64(len(s)) })
	}
	phase := func(p string, fail bool, why string, timeout bool) error {
		ev.Start(p)
		var err error
		if fail {
			if timeout {
				err = wait(ctx, j.Timeout(p))
				if err == nil {
					err = fmt.Errorf("%s within %v", why, j.Timeout(p))
				}
			} else {
				err = errors.New(why)
			}
		} else {
			err = wait(ctx, b.Step)
		}
		ev.End(p, "", err)
		return err
	}
	if err := phase(cell.PhasePower, b.PowerFails, "the BMC did not confirm power on (state read back: off)", false); err != nil {
		return err
	}
	if err := phase(cell.PhaseDHCP, b.NoDHCP, "no DHCP request from "+strings.Join(j.Machine.MACs, ", "), true); err != nil {
		return err
	}
	if err := phase(cell.PhaseLoader, b.NoLoader, "no boot loader fetched", true); err != nil {
		return err
	}
	if !b.Silent {
		say("RedLeaf-Go domain kernel sim (linux/%s)", j.Machine.Arch)
	}
	if b.Panic {
		line := "Kernel panic - not syncing: simulated"
		say("%s", line)
		ev.Update(func(d *cell.EvidenceData) { d.Tripwire = line })
		return errors.New("tripwire")
	}
	if err := phase(cell.PhaseBooted, b.Silent || b.NoBooted, "no \"booted\" report", true); err != nil {
		if b.Silent {
			ev.Update(func(d *cell.EvidenceData) { d.ConsoleSilent = true })
		}
		return err
	}
	ev.Update(func(d *cell.EvidenceData) { d.Facts = b.Facts; d.Boot = fmt.Sprintf("sim%d", n) })
	ev.Start(cell.PhaseSuite)
	if b.Hang {
		<-ctx.Done()
		ev.End(cell.PhaseSuite, "", ctx.Err())
		return ctx.Err()
	}
	if err := wait(ctx, b.Step); err != nil {
		ev.End(cell.PhaseSuite, "", err)
		return err
	}
	ev.End(cell.PhaseSuite, "", nil)
	if err := phase(cell.PhaseResults, b.NoResults, "no results posted", true); err != nil {
		return err
	}
	status := "pass"
	if b.SuiteFails || n <= b.FailFirst {
		status = "fail"
	}
	ev.Update(func(d *cell.EvidenceData) {
		d.Steps = []cell.StepResult{{Name: j.Task.Suite.Name, Status: status, Exit: map[bool]int{true: 0, false: 1}[status == "pass"]}}
	})
	say("suite %s: %s", j.Task.Suite.Name, status)
	return nil
}
