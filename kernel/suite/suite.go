// Package suite runs, on the booted target, the lab suite its kernel
// command line names: `rlbuild lab` puts rl.suite=NAME and
// rl.suite.steps=STEP=COMMAND,... (each part percent-encoded) there, and
// the image runs each step's command (in Rv6's shell), prints a console
// marker per step (the fallback evidence when the network fails) and
// returns the results, which the boot path posts to the netboot
// server's results endpoint with the boot's token (kernel/netup).
package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/rlgo/redleaf/bootparam"
)

// Marker prefixes the console lines the lab runner reads back when the
// results post never arrives: "RL-SUITE STEP status=pass exit=0
// seconds=1.2" per step, and "RL-SUITE-END NAME status=pass".
const (
	Marker    = "RL-SUITE"
	EndMarker = "RL-SUITE-END"
)

// maxSteps bounds a suite (the command line bounds it anyway).
const maxSteps = 64

// Spec is the suite the command line names.
type Spec struct {
	Name  string
	Steps []Step
}

// Step is one command.
type Step struct {
	Name string
	Run  string
}

// FromCmdline reads rl.suite and rl.suite.steps through lookup (the
// kernel command line's). ok is false when no suite is named.
func FromCmdline(lookup func(string) (string, bool)) (s Spec, ok bool, err error) {
	name, ok := lookup(bootparam.Suite)
	if !ok || name == "" {
		return Spec{}, false, nil
	}
	s.Name = name
	raw, _ := lookup(bootparam.SuiteSteps)
	if raw == "" {
		return s, true, fmt.Errorf("%s=%s without %s", bootparam.Suite, name, bootparam.SuiteSteps)
	}
	for i, part := range strings.Split(raw, ",") {
		if i >= maxSteps {
			return s, true, fmt.Errorf("%s: more than %d steps", bootparam.SuiteSteps, maxSteps)
		}
		n, c, found := strings.Cut(part, "=")
		stepName, err1 := url.QueryUnescape(n)
		cmd, err2 := url.QueryUnescape(c)
		if !found || err1 != nil || err2 != nil || stepName == "" || strings.TrimSpace(cmd) == "" {
			return s, true, fmt.Errorf("%s: step %d (%q) is not NAME=COMMAND, percent-encoded", bootparam.SuiteSteps, i+1, part)
		}
		s.Steps = append(s.Steps, Step{Name: stepName, Run: cmd})
	}
	return s, true, nil
}

// Exit is how a step's command ended.
type Exit struct {
	Status int
	// Reason is a failure's description (a panic), "" for an exit.
	Reason string
}

// Exec runs one command line and waits for it.
type Exec func(ctx context.Context, command string) (Exit, error)

// StepResult is one step's result, as posted (the lab's cell.StepResult).
type StepResult struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // pass, fail
	Exit    int     `json:"exit"`
	Seconds float64 `json:"seconds"`
	Message string  `json:"message,omitempty"`
}

// Result is a suite's result.
type Result struct {
	Suite  string       `json:"suite"`
	Status string       `json:"status"` // pass, fail
	Steps  []StepResult `json:"steps"`
}

// Run runs the steps in order, writing a marker line per step to
// console, and returns the results. A step that cannot be started
// fails; the steps after it still run.
func Run(ctx context.Context, s Spec, exec Exec, console io.Writer) Result {
	res := Result{Suite: s.Name, Status: "pass"}
	fmt.Fprintf(console, "%s %s: %d steps\n", Marker+"-START", s.Name, len(s.Steps))
	for _, st := range s.Steps {
		start := time.Now()
		r := StepResult{Name: st.Name, Status: "pass"}
		ex, err := exec(ctx, st.Run)
		switch {
		case err != nil:
			r.Status, r.Exit, r.Message = "fail", -1, err.Error()
		case ex.Reason != "":
			r.Status, r.Exit, r.Message = "fail", ex.Status, ex.Reason
		case ex.Status != 0:
			r.Status, r.Exit = "fail", ex.Status
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Status == "fail" {
			r.Message = "timed out: " + r.Message
		}
		r.Seconds = time.Since(start).Seconds()
		if r.Status != "pass" {
			res.Status = "fail"
		}
		res.Steps = append(res.Steps, r)
		fmt.Fprintf(console, "%s %s status=%s exit=%d seconds=%.1f\n", Marker, r.Name, r.Status, r.Exit, r.Seconds)
	}
	fmt.Fprintf(console, "%s %s status=%s\n", EndMarker, s.Name, res.Status)
	return res
}
