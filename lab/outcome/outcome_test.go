package outcome

import (
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/lab/cell"
)

// ev builds evidence: phases reached ok up to the failed one.
func ev(ok []string, failed string, mod func(*cell.EvidenceData)) cell.EvidenceData {
	var d cell.EvidenceData
	t := time.Now()
	for _, p := range ok {
		d.Phases = append(d.Phases, cell.PhaseRecord{Name: p, Start: t, End: t, OK: true})
	}
	if failed != "" {
		d.Phases = append(d.Phases, cell.PhaseRecord{Name: failed, Start: t, End: t, Err: "timed out"})
	}
	if mod != nil {
		mod(&d)
	}
	return d
}

func TestClassify(t *testing.T) {
	upTo := func(n int) []string { return cell.Phases[:n] }
	pass := func(d *cell.EvidenceData) { d.Steps = []cell.StepResult{{Name: "a", Status: "pass"}} }
	cases := []struct {
		name   string
		d      cell.EvidenceData
		status Status
		class  string
		reason string
	}{
		{"no lease", ev(nil, cell.PhaseLease, nil), Infra, ClassLease, "lease"},
		{"lease lapsed", ev(nil, "", func(d *cell.EvidenceData) {
			d.Phases = []cell.PhaseRecord{{Name: cell.PhaseLease, Err: "the lease lapsed"}}
		}), Infra, ClassLeaseLost, ""},
		{"power", ev(upTo(1), cell.PhasePower, nil), Infra, ClassPower, "power"},
		{"no dhcp", ev(upTo(2), cell.PhaseDHCP, nil), Infra, ClassDHCP, "never asked"},
		{"no loader", ev(upTo(3), cell.PhaseLoader, nil), Infra, ClassLoader, "fetched no boot loader"},
		{"silent", ev(upTo(4), cell.PhaseBooted, func(d *cell.EvidenceData) { d.ConsoleSilent = true }), Infra, ClassConsoleSilent, "silent"},
		{"no booted", ev(upTo(4), cell.PhaseBooted, nil), Infra, ClassBooted, "never reported"},
		{"panic while booting", ev(upTo(4), cell.PhaseBooted, func(d *cell.EvidenceData) { d.Tripwire = "Kernel panic - not syncing" }), Failed, "tripwire", "Kernel panic"},
		{"panic before the loader is infrastructure", ev(upTo(3), cell.PhaseLoader, func(d *cell.EvidenceData) { d.Tripwire = "Kernel panic" }), Infra, ClassLoader, ""},
		{"no results", ev(upTo(6), cell.PhaseResults, nil), Infra, ClassResultsMissing, "posted no results"},
		{"pass", ev(upTo(7), "", pass), Passed, "", "1 steps passed (from the results endpoint)"},
		{"pass from console markers", ev(upTo(6), cell.PhaseResults, func(d *cell.EvidenceData) { pass(d); d.FromConsole = true }), Passed, "", "console markers"},
		{"fail", ev(upTo(7), "", func(d *cell.EvidenceData) {
			d.Steps = []cell.StepResult{{Name: "a", Status: "pass"}, {Name: "fsck", Status: "fail", Exit: 2}}
		}), Failed, "suite", "fsck (exit 2)"},
		{"all skipped", ev(upTo(7), "", func(d *cell.EvidenceData) { d.Steps = []cell.StepResult{{Name: "a", Status: "skip"}} }), Skipped, "", ""},
		{"skipped", ev(upTo(1), "", func(d *cell.EvidenceData) { d.Skipped = "lacks nvme" }), Skipped, "", "lacks nvme"},
		{"canceled", ev(upTo(4), "", func(d *cell.EvidenceData) { d.Canceled = true }), Canceled, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Classify(c.d)
			if o.Status != c.status || o.Class != c.class || !strings.Contains(o.Reason, c.reason) {
				t.Errorf("got %+v, want %s %s %q", o, c.status, c.class, c.reason)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for want, sts := range map[int][]Status{
		0: {Passed, Flaky, Skipped},
		1: {Passed, Infra, Failed},
		3: {Passed, Infra},
	} {
		if got := ExitCode(sts); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", sts, got, want)
		}
	}
}
