// Package outcome decides what a run of a cell means from the evidence
// of the phases it reached: the suite passed, failed or was skipped, or
// the infrastructure failed, and then at which step (no power ack, no
// DHCP, no loader fetched, no "booted" report, console silent, results
// missing). Infrastructure errors are never test failures: they are
// retried on another machine, and exit status 3 tells them apart.
package outcome

import (
	"fmt"
	"strings"

	"github.com/rlgo/redleaf/lab/cell"
)

// Status of a cell or attempt.
type Status string

const (
	Passed   Status = "passed"
	Failed   Status = "failed"
	Skipped  Status = "skipped"
	Flaky    Status = "flaky" // failed, then passed on a rerun
	Infra    Status = "infra" // infrastructure error (Class says which)
	Canceled Status = "canceled"
)

// Classes of infrastructure errors, by the phase that did not complete.
const (
	ClassLease          = "lease"           // no machine could be leased in time
	ClassPower          = "power"           // the power backend failed or did not confirm
	ClassDHCP           = "no-dhcp"         // the machine never asked for an address
	ClassLoader         = "no-loader"       // no boot loader, kernel or initrd fetched
	ClassBooted         = "no-booted"       // the image never reported "booted"
	ClassConsoleSilent  = "console-silent"  // and the console said nothing either
	ClassResultsMissing = "results-missing" // booted, but no results posted or printed
	ClassLeaseLost      = "lease-lost"      // the agent lost its lease mid-cell
	ClassAgent          = "agent"           // the agent failed (its own error)
)

// Outcome is the verdict on one attempt.
type Outcome struct {
	Status Status `json:"status"`
	// Class is the infrastructure error's class, or for a failure the
	// kind ("tripwire", "suite").
	Class  string `json:"class,omitempty"`
	Reason string `json:"reason"`
	// BootFailure marks an attempt where the image did not come up on
	// a machine that did power on and load it (the boot gate counts
	// these per image).
	BootFailure bool `json:"boot_failure,omitempty"`
}

// Classify decides an attempt's outcome from its evidence.
func Classify(d cell.EvidenceData) Outcome {
	if d.Canceled {
		return Outcome{Status: Canceled, Reason: "the run was cancelled"}
	}
	if d.Skipped != "" {
		return Outcome{Status: Skipped, Reason: d.Skipped}
	}
	failedAt := func(phase string) (cell.PhaseRecord, bool) {
		p, ok := d.Phase(phase)
		return p, ok && !p.OK
	}
	if p, bad := failedAt(cell.PhaseLease); bad {
		cls := ClassLease
		if strings.Contains(p.Err, "lapsed") {
			cls = ClassLeaseLost
		}
		return Outcome{Status: Infra, Class: cls, Reason: "lease: " + p.Err}
	}
	if p, bad := failedAt(cell.PhasePower); bad {
		return Outcome{Status: Infra, Class: ClassPower, Reason: "power: " + p.Err}
	}
	// A tripwire (kernel panic, Go fatal error, NVMe timeout) is the
	// image's failure once it was loaded: the machine did its part.
	if d.Tripwire != "" && d.Reached(cell.PhaseLoader) {
		return Outcome{Status: Failed, Class: "tripwire", Reason: "console: " + d.Tripwire, BootFailure: !d.Reached(cell.PhaseBooted)}
	}
	if !d.Reached(cell.PhaseBooted) {
		switch {
		case !d.Reached(cell.PhaseDHCP) && has(d, cell.PhaseDHCP):
			return Outcome{Status: Infra, Class: ClassDHCP, Reason: phaseReason(d, cell.PhaseDHCP, "the machine never asked the netboot server for an address")}
		case !d.Reached(cell.PhaseLoader) && has(d, cell.PhaseLoader):
			return Outcome{Status: Infra, Class: ClassLoader, Reason: phaseReason(d, cell.PhaseLoader, "the machine got an address but fetched no boot loader, kernel or initrd")}
		case d.ConsoleSilent:
			return Outcome{Status: Infra, Class: ClassConsoleSilent, Reason: "the image was loaded, then the console stayed silent and no \"booted\" report came"}
		case has(d, cell.PhaseBooted):
			return Outcome{Status: Infra, Class: ClassBooted, Reason: phaseReason(d, cell.PhaseBooted, "the image was loaded but never reported \"booted\""), BootFailure: true}
		}
		return Outcome{Status: Infra, Class: ClassAgent, Reason: "the cell ended before the machine booted: " + lastErr(d)}
	}
	if len(d.Steps) == 0 {
		return Outcome{Status: Infra, Class: ClassResultsMissing, Reason: phaseReason(d, cell.PhaseResults, "the image booted but posted no results and printed no result markers")}
	}
	var failed, skipped []string
	for _, s := range d.Steps {
		switch s.Status {
		case "pass":
		case "skip":
			skipped = append(skipped, s.Name)
		default:
			msg := s.Name
			if s.Message != "" {
				msg += " (" + s.Message + ")"
			} else if s.Exit != 0 {
				msg += fmt.Sprintf(" (exit %d)", s.Exit)
			}
			failed = append(failed, msg)
		}
	}
	src := "results endpoint"
	if d.FromConsole {
		src = "console markers"
	}
	if len(failed) > 0 {
		return Outcome{Status: Failed, Class: "suite", Reason: fmt.Sprintf("failed steps: %s (from the %s)", strings.Join(failed, ", "), src)}
	}
	if len(skipped) == len(d.Steps) {
		return Outcome{Status: Skipped, Reason: "every step skipped on the target"}
	}
	return Outcome{Status: Passed, Reason: fmt.Sprintf("%d steps passed (from the %s)", len(d.Steps)-len(skipped), src)}
}

func has(d cell.EvidenceData, phase string) bool {
	_, ok := d.Phase(phase)
	return ok
}

func phaseReason(d cell.EvidenceData, phase, def string) string {
	if p, ok := d.Phase(phase); ok && p.Err != "" {
		return def + ": " + p.Err
	}
	return def
}

func lastErr(d cell.EvidenceData) string {
	for i := len(d.Phases) - 1; i >= 0; i-- {
		if d.Phases[i].Err != "" {
			return d.Phases[i].Name + ": " + d.Phases[i].Err
		}
	}
	return "no phase failed"
}

// Final reports whether a cell's status is final (no retry or rerun
// changes it).
func (s Status) Final() bool { return s != "" }

// ExitCode is the run's exit status: 0 every cell passed (or was skipped
// or flaky), 1 a test failed, 3 only infrastructure errors.
func ExitCode(statuses []Status) int {
	infra := false
	for _, s := range statuses {
		switch s {
		case Failed:
			return 1
		case Infra, Canceled:
			infra = true
		}
	}
	if infra {
		return 3
	}
	return 0
}
