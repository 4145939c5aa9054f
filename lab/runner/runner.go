package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/console"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/power"
	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/httpboot"
	"github.com/rlgo/redleaf/netboot/profile"
	"github.com/rlgo/redleaf/rv6/fs/tools"
)

func loadPinned(dir string) (*manifest.Manifest, string, error) { return matrix.LoadPinned(dir) }

// Runner runs cells on the segment's machines; it is a cell.Runner.
type Runner struct {
	Segment *Segment
	// Tripwires end a cell early (default console.DefaultTripwires).
	Tripwires []string
}

var errTripwire = errors.New("a tripwire matched on the console")

// MaxConsoleLog bounds the console log kept per cell: a machine that
// floods its console cannot fill the agent's disk or the log store.
const MaxConsoleLog = 64 << 20

// counter counts bytes written through it and keeps the first
// MaxConsoleLog of them.
type counter struct {
	w io.Writer
	n atomic.Int64
}

func (c *counter) Write(p []byte) (int, error) {
	n := c.n.Add(int64(len(p)))
	before := n - int64(len(p))
	switch {
	case before > MaxConsoleLog:
		return len(p), nil
	case n > MaxConsoleLog:
		c.w.Write(p[:MaxConsoleLog-before])
		io.WriteString(c.w, "\n[rlbuild lab: console log cut at 64 MiB]\n")
		return len(p), nil
	}
	return c.w.Write(p)
}

// Run runs a job: see the package documentation.
func (r *Runner) Run(ctx context.Context, j cell.Job, ev *cell.Evidence, consoleLog io.Writer) error {
	s := r.Segment
	m := j.Machine
	mac := m.MACs[0]
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	ev.Start("prepare")
	args := j.Task.Suite.KernelArgs
	prof, err := s.addProfile(j.Task.Image.Artifacts, j.Task.Image.Digest, args)
	ev.End("prepare", "netboot profile "+prof, err)
	if err != nil {
		return err
	}
	ps := s.PowerSpec(m)
	cs := s.ConsoleSpec(m)

	// The console first, so that the firmware's output is kept too.
	cnt := &counter{w: consoleLog}
	var con *consoleState
	if cs.Type != "" {
		patterns := r.Tripwires
		if patterns == nil {
			patterns = console.DefaultTripwires()
		}
		res, err := console.CompileTripwires(patterns)
		if err != nil {
			return err
		}
		conn, err := console.Open(ctx, cs, ps, cnt)
		if err != nil {
			fmt.Fprintf(consoleLog, "[rlbuild lab: console not attached: %v]\n", err)
		} else {
			con = &consoleState{}
			m := console.NewMatcher(conn, res, func(line string) {
				ev.Update(func(d *cell.EvidenceData) {
					if d.Tripwire == "" {
						d.Tripwire = line
					}
				})
				cancel(errTripwire)
			})
			con.m = m
			defer conn.Close()
		}
	}
	count := func() {
		ev.Update(func(d *cell.EvidenceData) { d.ConsoleBytes = cnt.n.Load() })
	}
	defer count()

	// Power: one-time network boot where the backend has it, the next
	// boot set on the netboot server, then a confirmed power cycle.
	start := time.Now()
	ev.Start(cell.PhasePower)
	pctx, pcancel := context.WithTimeout(ctx, j.Timeout(cell.PhasePower))
	b, err := power.Open(pctx, ps)
	var offOnce sync.Once
	powerOff := func() {
		if b == nil {
			return
		}
		offOnce.Do(func() {
			// Whatever happened, the machine ends off (bounded).
			octx, ocancel := context.WithTimeout(context.WithoutCancel(ctx), j.Timeout(cell.PhasePower))
			ev.Start(cell.PhasePowerOff)
			err := b.Set(octx, power.ActionOff)
			ev.End(cell.PhasePowerOff, "", err)
			ocancel()
			b.Close()
		})
	}
	if err == nil {
		defer powerOff()
		if err = s.Server.Profiles().SetNext(hw(mac), nextBoot(prof)); err == nil {
			if perr := b.BootPXEOnce(pctx); perr != nil && !errors.Is(perr, errors.ErrUnsupported) {
				err = perr
			}
		}
		if err == nil {
			err = b.Set(pctx, power.ActionCycle)
		}
	}
	pcancel()
	ev.End(cell.PhasePower, string(ps.Type), err)
	if err != nil {
		return err
	}

	evs := s.Server.Events()
	after := func(kind string, also func(events.Event) bool) func(events.Event) bool {
		return func(e events.Event) bool {
			return e.Kind == kind && !e.Time.Before(start) && (also == nil || also(e))
		}
	}
	wait := func(phase string, d time.Duration, match func(events.Event) bool) (events.Event, error) {
		ev.Start(phase)
		wctx, wcancel := context.WithTimeout(ctx, d)
		defer wcancel()
		e, err := evs.Wait(wctx, mac, match)
		if err != nil {
			if c := context.Cause(ctx); errors.Is(c, errTripwire) {
				err = c
			} else if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("nothing within %v", d)
			}
		}
		detail := ""
		if err == nil {
			detail = e.Kind + " " + e.Detail
		}
		ev.End(phase, detail, err)
		return e, err
	}
	if _, err := wait(cell.PhaseDHCP, j.Timeout(cell.PhaseDHCP), after(events.DHCP, nil)); err != nil {
		return err
	}
	script, err := wait(cell.PhaseLoader, j.Timeout(cell.PhaseLoader), after(events.Handoff, nil))
	if err != nil {
		return err
	}
	bootID := script.Boot
	ev.Update(func(d *cell.EvidenceData) { d.Boot = bootID })
	sameBoot := func(e events.Event) bool { return bootID == "" || e.Boot == bootID }
	if _, err := wait(cell.PhaseBooted, j.Timeout(cell.PhaseBooted), after(events.Booted, sameBoot)); err != nil {
		count()
		if con != nil && cnt.n.Load() == 0 {
			ev.Update(func(d *cell.EvidenceData) { d.ConsoleSilent = true })
		}
		return err
	}
	_, serr := wait(cell.PhaseSuite, j.Timeout(cell.PhaseSuite), after(events.Results, sameBoot))

	// Results: the endpoint's post in full; else the console's markers.
	ev.Start(cell.PhaseResults)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), j.Timeout(cell.PhaseResults))
	defer rcancel()
	var rerr error
	if serr == nil {
		var steps []cell.StepResult
		var facts map[string]inventory.Fact
		steps, facts, rerr = r.results(rctx, mac, bootID)
		if rerr == nil {
			ev.Update(func(d *cell.EvidenceData) { d.Steps, d.Facts = steps, facts })
			ev.End(cell.PhaseResults, fmt.Sprintf("%d steps from the results endpoint", len(steps)), nil)
			if j.Task.Suite.Fsck {
				powerOff()
				r.fsck(m, ev)
			}
			return nil
		}
	}
	if con != nil {
		if steps := markers(con.m.Output(), j.Task.Suite.Name); len(steps) > 0 {
			ev.Update(func(d *cell.EvidenceData) { d.Steps, d.FromConsole = steps, true })
			ev.End(cell.PhaseResults, fmt.Sprintf("%d steps from console markers", len(steps)), nil)
			return nil
		}
	}
	if rerr == nil {
		rerr = fmt.Errorf("no results posted within %v and no result markers on the console", j.Timeout(cell.PhaseSuite))
	}
	ev.End(cell.PhaseResults, "", rerr)
	return rerr
}

// fsck checks the Rv6 file system on the NVMe disk of a VM the segment
// started, once it is off, and adds the result as the suite's last step.
func (r *Runner) fsck(m *inventory.Machine, ev *cell.Evidence) {
	step := cell.StepResult{Name: "fsck", Status: "pass"}
	start := time.Now()
	vm := r.Segment.vmOf[m.Name]
	switch {
	case vm == nil || vm.NVMeMiB == 0:
		step.Status, step.Message = "skip", "fsck checks the NVMe disk of a VM the agent starts; "+m.Name+" is not one"
	default:
		rep, err := tools.Fsck(filepath.Join(filepath.Dir(vm.QMP), "nvme.img"))
		switch {
		case err != nil:
			step.Status, step.Exit, step.Message = "fail", 2, err.Error()
		case !rep.OK():
			step.Status, step.Exit = "fail", 1
			var probs []string
			for i, p := range rep.Problems {
				if i == 5 {
					probs = append(probs, fmt.Sprintf("and %d more", len(rep.Problems)-5))
					break
				}
				probs = append(probs, p.String())
			}
			step.Message = strings.Join(probs, "; ")
		default:
			step.Message = fmt.Sprintf("consistent: %d files, %d directories, %d blocks", rep.Files, rep.Dirs, rep.Blocks)
		}
	}
	step.Seconds = time.Since(start).Seconds()
	ev.Update(func(d *cell.EvidenceData) { d.Steps = append(d.Steps, step) })
}

type consoleState struct {
	m interface{ Output() string }
}

func hw(mac string) net.HardwareAddr {
	h, _ := net.ParseMAC(mac)
	return h
}

// results reads the boot's last results post: from the segment's netboot
// server in-process, else through its API (an operator call).
func (r *Runner) results(ctx context.Context, mac, bootID string) ([]cell.StepResult, map[string]inventory.Fact, error) {
	var rs []httpboot.Result
	var err error
	if r.Segment.Server != nil {
		rs, err = r.Segment.Server.HTTP().Results(bootID)
	} else {
		rs, err = r.Segment.client.Results(ctx, bootID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("results of boot %s of %s: %w", bootID, mac, err)
	}
	if len(rs) == 0 {
		return nil, nil, fmt.Errorf("no results for boot %s of %s", bootID, mac)
	}
	var body struct {
		Suite struct {
			Steps []cell.StepResult `json:"steps"`
		} `json:"suite"`
		Facts map[string]inventory.Fact `json:"facts"`
	}
	if err := json.Unmarshal(rs[len(rs)-1].Body, &body); err != nil {
		return nil, nil, fmt.Errorf("the results of boot %s are not the suite runner's: %v", bootID, err)
	}
	if len(body.Suite.Steps) == 0 {
		return nil, nil, fmt.Errorf("the results of boot %s hold no steps", bootID)
	}
	return body.Suite.Steps, body.Facts, nil
}

var markerRe = regexp.MustCompile(`(?m)^RL-SUITE (\S+) status=(\w+) exit=(-?\d+) seconds=([\d.]+)`)

// markers reads the suite runner's per-step console lines.
func markers(out, suite string) []cell.StepResult {
	var steps []cell.StepResult
	for _, m := range markerRe.FindAllStringSubmatch(out, -1) {
		exit, _ := strconv.Atoi(m[3])
		secs, _ := strconv.ParseFloat(m[4], 64)
		steps = append(steps, cell.StepResult{Name: m[1], Status: m[2], Exit: exit, Seconds: secs})
	}
	if !strings.Contains(out, "RL-SUITE-END "+suite+" ") {
		// The suite did not finish: what ran is evidence, the rest failed.
		if len(steps) > 0 {
			steps = append(steps, cell.StepResult{Name: "(unfinished)", Status: "fail", Message: "the suite did not finish"})
		}
	}
	return steps
}

func nextBoot(prof string) profile.NextBoot { return profile.NextBoot{Target: prof, Once: true} }
