// Package hub puts the lab together: Serve is `rlbuild lab serve` (the
// engine for several labs, the schedulers of the runs in flight, the
// live report page), Agent is `rlbuild lab agent` (one lab segment's boot
// network and worker), and Run is `rlbuild lab run` (plan a matrix, drive
// it, write the reports), either against a hub or with everything in its
// own process: the embedded engine, the netboot servers and the agents.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/lab/agent"
	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/engine/natsengine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/report"
	"github.com/rlgo/redleaf/lab/runner"
	"github.com/rlgo/redleaf/lab/schedule"
)

// DefaultStateDir is where a lab keeps its engine and netboot state when
// not told otherwise.
func DefaultStateDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "rlbuild", "lab")
	}
	return filepath.Join(os.TempDir(), "rlbuild-lab")
}

// ServeConfig configures Serve.
type ServeConfig struct {
	// Listen is the NATS client address (":4222").
	Listen string
	// LeafListen accepts lab segments' leaf nodes (optional).
	LeafListen string
	// HTTP is the live report page's address ("" : none).
	HTTP string
	// StateDir keeps the engine's store.
	StateDir string
	// Token is required of every client (agents, lab run): see
	// ReadToken. Serve refuses to listen beyond loopback without one.
	Token     string
	Inventory *inventory.Inventory
	Log       *slog.Logger
	// Ready, if set, is called with the bound addresses once serving.
	Ready func(natsURL, httpAddr string)
}

// Serve runs the hub until ctx ends: the engine, a scheduler for every
// run in flight (it takes over when the run's own scheduler, in `lab
// run`, went away), and the live page.
func Serve(ctx context.Context, c ServeConfig) error {
	log := logger(c.Log)
	if c.Token == "" && (!loopback(c.Listen) || (c.LeafListen != "" && !loopback(c.LeafListen))) {
		return fmt.Errorf("the hub would let anyone on the network queue tasks and write results: pass --auth-file FILE (a token in a file only you can read; agents and lab run pass the same file) or listen on 127.0.0.1")
	}
	srv, err := natsengine.Embed(natsengine.EmbedOptions{StoreDir: filepath.Join(c.StateDir, "engine"), Listen: c.Listen, LeafListen: c.LeafListen, Log: log, Token: c.Token})
	if err != nil {
		return err
	}
	defer srv.WaitForShutdown()
	defer srv.Shutdown()
	e, err := natsengine.Open(ctx, srv, "rlbuild-lab-hub", c.Token)
	if err != nil {
		return err
	}
	defer e.Close()
	httpAddr := ""
	if c.HTTP != "" {
		ln, err := net.Listen("tcp", c.HTTP)
		if err != nil {
			return fmt.Errorf("--http %s: %w", c.HTTP, err)
		}
		httpAddr = ln.Addr().String()
		hs := &http.Server{Handler: &report.Live{Engine: e, Inventory: c.Inventory}, ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 5 * time.Minute, MaxHeaderBytes: 64 << 10}
		go hs.Serve(ln)
		defer hs.Close()
	}
	log.Info("lab hub serving", "nats", srv.ClientURL(), "http", httpAddr, "state", c.StateDir)
	if c.Ready != nil {
		c.Ready(srv.ClientURL(), httpAddr)
	}
	return adopt(ctx, e, log)
}

// loopback reports whether addr (host:port) is a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ReadToken reads the hub's authorization token from a file that only its
// owner may read ("" for no file).
func ReadToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("hub auth file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("hub auth file %s is readable by others (mode %v): chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("hub auth file %s: the token is shorter than 16 characters: use e.g. openssl rand -hex 32 > %s", path, path)
	}
	return tok, nil
}

// adopt starts a scheduler for each run in flight, for as long as ctx.
func adopt(ctx context.Context, e engine.Engine, log *slog.Logger) error {
	var mu sync.Mutex
	driving := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		w, err := e.Watch(ctx, "run.")
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for en := range w {
			var r schedule.Run
			if en.Deleted || json.Unmarshal(en.Value, &r) != nil || r.State != schedule.Running {
				continue
			}
			mu.Lock()
			if driving[r.ID] {
				mu.Unlock()
				continue
			}
			driving[r.ID] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					s := &schedule.Scheduler{Engine: e, Holder: "hub", Log: log}
					err := s.Drive(ctx, r.ID)
					if err == nil || errors.Is(err, schedule.ErrCanceled) {
						log.Info("lab hub: run finished", "run", r.ID, "err", err)
						break
					}
					if ctx.Err() == nil {
						log.Warn("lab hub: scheduler stopped; taking it up again", "run", r.ID, "err", err)
						time.Sleep(time.Second)
					}
				}
				mu.Lock()
				delete(driving, r.ID)
				mu.Unlock()
			}()
		}
	}
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// AgentConfig configures Agent.
type AgentConfig struct {
	Name      string
	Lab       string
	Engine    engine.Engine
	Inventory *inventory.Inventory
	StateDir  string
	// TokenFile is the netboot API's operator credential (optional).
	TokenFile string
	Log       *slog.Logger
	// Runner replaces the segment's runner (simulated machines).
	Runner cell.Runner
}

// Agent runs one lab segment until ctx ends: its boot network (and VMs)
// and the worker that pulls its cells.
func Agent(ctx context.Context, c AgentConfig) error {
	log := logger(c.Log)
	r := c.Runner
	if r == nil {
		seg, err := runner.StartSegment(ctx, runner.SegmentConfig{Inventory: c.Inventory, Lab: c.Lab,
			StateDir: filepath.Join(c.StateDir, "netboot-"+c.Lab), VMDir: filepath.Join(c.StateDir, "vms-"+c.Lab),
			TokenFile: c.TokenFile, Log: log})
		if err != nil {
			return fmt.Errorf("lab %s: %w", c.Lab, err)
		}
		defer seg.Close()
		r = &runner.Runner{Segment: seg}
	}
	name := c.Name
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%s-%d", c.Lab, host, os.Getpid())
	}
	a := &agent.Agent{Name: name, Lab: c.Lab, Engine: c.Engine, Inventory: c.Inventory, Runner: r, Log: log}
	log.Info("lab agent running", "agent", name, "lab", c.Lab, "machines", len(c.Inventory.InLab(c.Lab)))
	return a.Run(ctx)
}

// RunConfig configures Run.
type RunConfig struct {
	Inventory *inventory.Inventory
	Matrix    *matrix.Matrix
	// Plan replaces planning from Matrix (a rerun of one cell).
	Plan func(facts func(string) map[string]inventory.Fact) (schedule.Run, []schedule.CellState, map[string]cell.Suite, error)
	// Hub is the hub's NATS URL; "" runs everything in this process.
	Hub string
	// HubToken is the hub's authorization token.
	HubToken string
	// HubDomain is the hub's JetStream domain, when Hub is a site's
	// leaf node.
	HubDomain string
	// StateDir keeps the embedded engine and the netboot state.
	StateDir string
	// Report is the report directory.
	Report string
	// Progress gets the terminal progress (nil: none).
	Progress io.Writer
	Log      *slog.Logger
	// Runner replaces the real machines (simulated ones).
	Runner cell.Runner
	// TokenFile is the netboot API's operator credential (optional).
	TokenFile string
}

// Run plans the matrix, drives the run and writes the reports. It
// returns the run's data and the exit status: 0 all passed, 1 a test
// failed, 3 only infrastructure errors. Interrupting ctx cancels the run
// (its leases are released at once) and still writes the reports.
func Run(ctx context.Context, c RunConfig) (*report.Data, int, error) {
	log := logger(c.Log)
	var e engine.Engine
	if c.Hub == "" {
		srv, err := natsengine.Embed(natsengine.EmbedOptions{StoreDir: filepath.Join(c.StateDir, "engine"), Log: log})
		if err != nil {
			return nil, 0, err
		}
		defer srv.WaitForShutdown()
		defer srv.Shutdown()
		ne, err := natsengine.Open(ctx, srv, "rlbuild-lab-run")
		if err != nil {
			return nil, 0, err
		}
		e = ne
	} else {
		ne, err := natsengine.ConnectDomain(ctx, c.Hub, "rlbuild-lab-run", c.HubToken, c.HubDomain)
		if err != nil {
			return nil, 0, err
		}
		e = ne
	}
	defer e.Close()
	bg := context.WithoutCancel(ctx)
	facts := func(name string) map[string]inventory.Fact { return schedule.GetFacts(bg, e, name) }
	var (
		r      schedule.Run
		cells  []schedule.CellState
		suites map[string]cell.Suite
		err    error
	)
	if c.Plan != nil {
		r, cells, suites, err = c.Plan(facts)
	} else {
		r, cells, err = schedule.Plan(c.Matrix, c.Inventory, facts)
		suites = map[string]cell.Suite{}
		for name, s := range c.Matrix.SuiteDefs {
			suites[name] = SuiteOf(s)
		}
	}
	if err != nil {
		return nil, 0, err
	}
	if err := schedule.Create(bg, e, r, cells, suites); err != nil {
		return nil, 0, err
	}
	prog := newProgress(c.Progress, r, cells)
	prog.begin()
	// Agents: in this process, unless a hub has its own.
	agentCtx, stopAgents := context.WithCancel(bg)
	var wg sync.WaitGroup
	agentErr := make(chan error, 16)
	if c.Hub == "" {
		// An agent for each lab segment the run's cells may use.
		labs := map[string]bool{}
		for _, cs := range cells {
			for _, m := range cs.Candidates {
				labs[r.Labs[m]] = true
			}
		}
		for _, lab := range c.Inventory.LabNames() {
			if !labs[lab] {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := Agent(agentCtx, AgentConfig{Name: "local-" + lab, Lab: lab, Engine: e, Inventory: c.Inventory,
					StateDir: c.StateDir, Log: log, Runner: c.Runner, TokenFile: c.TokenFile})
				if err != nil && agentCtx.Err() == nil {
					agentErr <- err
				}
			}()
		}
	}
	// Progress follows the cells' records, whichever scheduler (this
	// one, or the hub's when it took the run over) decides them.
	driveCtx, stopDrive := context.WithCancel(bg)
	go func() {
		for driveCtx.Err() == nil {
			w, err := e.Watch(driveCtx, schedule.CellPrefix(r.ID))
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			for en := range w {
				var c schedule.CellState
				if !en.Deleted && json.Unmarshal(en.Value, &c) == nil {
					prog.change(c)
				}
			}
		}
	}()
	s := &schedule.Scheduler{Engine: e, Holder: "lab-run", Log: log}
	done := make(chan error, 1)
	go func() { done <- s.Drive(driveCtx, r.ID) }()
	var derr error
	select {
	case derr = <-done:
	case err := <-agentErr:
		schedule.Cancel(bg, e, r.ID, "an agent failed: "+err.Error())
		derr = fmt.Errorf("%w (the run was cancelled)", err)
		stopDrive()
		<-done
	case <-ctx.Done():
		schedule.Cancel(bg, e, r.ID, "interrupted")
		derr = <-done
		if errors.Is(derr, schedule.ErrCanceled) {
			derr = nil
		}
	}
	stopDrive()
	// Give the agents a moment to record their cancelled cells.
	if errors.Is(derr, schedule.ErrCanceled) || ctx.Err() != nil {
		time.Sleep(2 * time.Second)
	}
	stopAgents()
	wg.Wait()
	if derr != nil && !errors.Is(derr, schedule.ErrCanceled) {
		return nil, 0, derr
	}
	d, err := report.Collect(bg, e, r.ID, c.Inventory)
	if err != nil {
		return nil, 0, err
	}
	if c.Report != "" {
		if err := report.Write(bg, c.Report, d, e); err != nil {
			return d, 0, err
		}
	}
	prog.finish(d, c.Report)
	return d, outcome.ExitCode(d.Statuses()), nil
}

// SuiteOf is the cell.Suite of a matrix suite.
func SuiteOf(s *matrix.Suite) cell.Suite {
	req := map[string][]string{}
	for k, v := range s.Requires {
		req[k] = v
	}
	return cell.Suite{Name: s.Name, KernelArgs: s.KernelArgs(), Requires: req, Fsck: s.Fsck}
}

// Status is what `rlbuild lab status` shows.
type Status struct {
	Machines []MachineStatus
	Runs     []schedule.Run
}

// MachineStatus is one machine's line.
type MachineStatus struct {
	Name, Lab, State, Reason, Holder, Cell string
	Expires                                time.Time
	Facts                                  map[string]inventory.Fact
}

// GetStatus reads the machines' leases and health and the runs in flight.
func GetStatus(ctx context.Context, e engine.Engine, inv *inventory.Inventory) (Status, error) {
	leases, err := e.Leases(ctx)
	if err != nil {
		return Status{}, err
	}
	held := map[string]engine.LeaseInfo{}
	for _, l := range leases {
		held[l.Machine] = l
	}
	var st Status
	for _, m := range inv.Machines {
		h := schedule.GetMachine(ctx, e, m.Name)
		ms := MachineStatus{Name: m.Name, Lab: m.Lab, State: h.State, Reason: h.Reason, Facts: m.Facts(schedule.GetFacts(ctx, e, m.Name))}
		if l, ok := held[m.Name]; ok {
			ms.Holder, ms.Cell, ms.Expires = l.Holder, l.Run+"/"+l.Cell, l.Expires
		}
		st.Machines = append(st.Machines, ms)
	}
	runs, err := schedule.Runs(ctx, e)
	if err != nil {
		return st, err
	}
	for _, r := range runs {
		if r.State == schedule.Running {
			st.Runs = append(st.Runs, r)
		}
	}
	return st, nil
}
