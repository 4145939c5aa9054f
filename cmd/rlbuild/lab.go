package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/images"
	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/engine/natsengine"
	"github.com/rlgo/redleaf/lab/hub"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/power"
	"github.com/rlgo/redleaf/lab/report"
	"github.com/rlgo/redleaf/lab/schedule"
	"github.com/rlgo/redleaf/lab/vmlab"
)

// labCmd is `rlbuild lab`: the automated hardware test matrix.
func labCmd() *cobra.Command {
	lab := &cobra.Command{
		Use:   "lab",
		Short: "Run the hardware test matrix: every image on every lab machine with every suite",
		Long: `rlbuild lab runs a test matrix (images x machines x suites) on lab machines
through the netboot server, their power backends and consoles, with NATS
JetStream as the engine. With no --hub, lab run does everything in its own
process. Exit status of lab run: 0 all passed, 1 a test failed, 3 only
infrastructure errors.`,
	}
	lab.AddCommand(labRunCmd(), labStatusCmd(), labRerunCmd(), labServeCmd(), labAgentCmd())
	addLabPowerCommands(lab)
	return lab
}

func labLogger(cmd *cobra.Command, verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runExit turns a run's exit status into the command's.
func runExit(d *report.Data, code int) error {
	switch code {
	case 0:
		return nil
	case 1:
		return exitError{code: 1, err: fmt.Errorf("a test failed (%s)", d.Summary())}
	default:
		return exitError{code: code, err: fmt.Errorf("infrastructure errors only, no test failed (%s)", d.Summary())}
	}
}

func labRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a test matrix and write its reports (JUnit, KCIDB, HTML)",
		Args:  cobra.NoArgs,
		Example: `  rlbuild lab run --inventory configs/lab/qemu-lab.yaml --matrix CI/matrix.yaml --report out/report
  rlbuild lab run --hub nats://hub:4222 --inventory lab.yaml --matrix CI/matrix.yaml`,
	}
	inv := cmd.Flags().String("inventory", "", "lab inventory (YAML)")
	mat := cmd.Flags().String("matrix", "CI/matrix.yaml", "test matrix (YAML)")
	rep := cmd.Flags().String("report", "out/report", "report directory")
	hubURL := cmd.Flags().String("hub", "", "the hub's NATS URL (default: everything in this process)")
	hubAuth := cmd.Flags().String("hub-auth-file", "", "file holding the hub's token (lab serve --auth-file)")
	domain := cmd.Flags().String("hub-domain", "", "the hub's JetStream domain, when --hub is a site's leaf node (rlbuild)")
	state := cmd.Flags().String("state", hub.DefaultStateDir(), "state directory (engine, netboot state, VMs)")
	token := cmd.Flags().String("token-file", "", "file holding the netboot API's operator credential")
	verbose := cmd.Flags().BoolP("verbose", "v", false, "log what the engine, agents and netboot servers do")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *inv == "" {
			return errors.New("no inventory: pass --inventory FILE (configs/lab/qemu-lab.yaml is the lab in a box)")
		}
		i, err := inventory.Load(*inv)
		if err != nil {
			return err
		}
		m, err := matrix.Load(*mat)
		if err != nil {
			return err
		}
		if err := m.Build(func(file, out string) (string, error) { return buildImage(cmd, file, out) }); err != nil {
			return err
		}
		if err := m.Pin(); err != nil {
			return err
		}
		tok, err := hub.ReadToken(*hubAuth)
		if err != nil {
			return err
		}
		d, code, err := hub.Run(cmd.Context(), hub.RunConfig{Inventory: i, Matrix: m, Hub: *hubURL, HubToken: tok, HubDomain: *domain, StateDir: *state,
			Report: *rep, Progress: cmd.OutOrStdout(), Log: labLogger(cmd, *verbose), TokenFile: *token})
		if err != nil {
			return err
		}
		return runExit(d, code)
	}
	return cmd
}

func labRerunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rerun REPORT CELL",
		Short: "Run exactly one cell of a report again: the same image digest, machine and suite",
		Args:  cobra.ExactArgs(2),
	}
	inv := cmd.Flags().String("inventory", "", "lab inventory (default: the run's)")
	rep := cmd.Flags().String("report", "", "report directory (default: REPORT/rerun-CELL)")
	hubURL := cmd.Flags().String("hub", "", "the hub's NATS URL (default: everything in this process)")
	hubAuth := cmd.Flags().String("hub-auth-file", "", "file holding the hub's token (lab serve --auth-file)")
	state := cmd.Flags().String("state", hub.DefaultStateDir(), "state directory")
	token := cmd.Flags().String("token-file", "", "file holding the netboot API's operator credential")
	verbose := cmd.Flags().BoolP("verbose", "v", false, "log what the engine, agents and netboot servers do")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		tok, err := hub.ReadToken(*hubAuth)
		if err != nil {
			return err
		}
		old, err := report.ReadRun(args[0])
		if err != nil {
			return err
		}
		var c *report.Cell
		var ids []string
		for i := range old.Cells {
			ids = append(ids, old.Cells[i].ID)
			if old.Cells[i].ID == args[1] {
				c = &old.Cells[i]
			}
		}
		if c == nil {
			return fmt.Errorf("run %s has no cell %q; its cells: %s", old.Run.ID, args[1], strings.Join(ids, ", "))
		}
		path := *inv
		if path == "" {
			path = old.Run.Inventory
		}
		i, err := inventory.Load(path)
		if err != nil {
			return err
		}
		if i.Machine(c.Machine) == nil {
			return fmt.Errorf("%s has no machine %s any more", path, c.Machine)
		}
		out := *rep
		if out == "" {
			out = filepath.Join(args[0], "rerun-"+c.ID)
		}
		plan := func(func(string) map[string]inventory.Fact) (schedule.Run, []schedule.CellState, map[string]cell.Suite, error) {
			return rerunPlan(old, *c, i)
		}
		d, code, err := hub.Run(cmd.Context(), hub.RunConfig{Inventory: i, Plan: plan, Hub: *hubURL, HubToken: tok, StateDir: *state,
			Report: out, Progress: cmd.OutOrStdout(), Log: labLogger(cmd, *verbose), TokenFile: *token})
		if err != nil {
			return err
		}
		return runExit(d, code)
	}
	return cmd
}

// buildImage builds a matrix image's config as `rlbuild image` does
// (reproducibly: an unchanged config and tree give the same digest).
func buildImage(cmd *cobra.Command, file, out string) (string, error) {
	c, err := config.Load(config.Options{File: file})
	if err != nil {
		return "", err
	}
	if out != "" {
		c.Out = out
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "building %s into %s\n", c.Name, rel(c.Out))
	if _, err := images.Build(cmd.Context(), c, images.Options{}); err != nil {
		return "", err
	}
	return c.Out, nil
}

// rerunPlan is a run of one cell of an earlier run: its image (the
// artifacts must still have the pinned digest), machine and suite.
func rerunPlan(old *report.Data, c report.Cell, inv *inventory.Inventory) (schedule.Run, []schedule.CellState, map[string]cell.Suite, error) {
	id, err := schedule.NewID()
	if err != nil {
		return schedule.Run{}, nil, nil, err
	}
	r := old.Run
	r.ID, r.Created, r.Finished, r.State, r.Reason, r.GatedImages = id, time.Now().UTC(), time.Time{}, schedule.Running, "", nil
	r.Reruns, r.BootGate, r.Cells = 0, 0, 1
	r.Images = nil
	for _, img := range old.Run.Images {
		if img.Name != c.Image {
			continue
		}
		_, digest, err := matrix.LoadPinned(img.Artifacts)
		if err != nil {
			return r, nil, nil, fmt.Errorf("image %s: %w", img.Name, err)
		}
		if digest != img.Digest {
			return r, nil, nil, fmt.Errorf("image %s: %s is %s now, not %s as run %s had it: rebuild that build to rerun the cell", img.Name, img.Artifacts, digest, img.Digest, old.Run.ID)
		}
		r.Images = append(r.Images, img)
	}
	r.Suites = []string{c.Suite}
	r.Labs = map[string]string{}
	for _, m := range inv.Machines {
		r.Labs[m.Name] = m.Lab
	}
	suites := map[string]cell.Suite{c.Suite: old.Run.SuiteDefs[c.Suite]}
	cs := schedule.CellState{ID: c.ID, Image: c.Image, Suite: c.Suite, Machine: c.Machine, Class: c.Class, Candidates: []string{c.Machine}}
	return r, []schedule.CellState{cs}, suites, nil
}

// openEngine reaches the hub, or opens the local state's engine.
func openEngine(ctx context.Context, hubURL, authFile, state string) (engine.Engine, func(), error) {
	if hubURL != "" {
		tok, err := hub.ReadToken(authFile)
		if err != nil {
			return nil, nil, err
		}
		e, err := natsengine.Connect(ctx, hubURL, "rlbuild-lab-cli", tok)
		if err != nil {
			return nil, nil, err
		}
		return e, func() { e.Close() }, nil
	}
	srv, err := natsengine.Embed(natsengine.EmbedOptions{StoreDir: filepath.Join(state, "engine")})
	if err != nil {
		return nil, nil, fmt.Errorf("%w (is a lab run using %s? pass --hub to ask a hub)", err, state)
	}
	e, err := natsengine.Open(ctx, srv, "rlbuild-lab-cli")
	if err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	return e, func() { e.Close(); srv.Shutdown(); srv.WaitForShutdown() }, nil
}

func labStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the machines (state, lease holder and expiry, health) and the runs in flight",
		Args:  cobra.NoArgs,
	}
	inv := cmd.Flags().String("inventory", "", "lab inventory (YAML)")
	hubURL := cmd.Flags().String("hub", "", "the hub's NATS URL (default: the local state)")
	hubAuth := cmd.Flags().String("hub-auth-file", "", "file holding the hub's token (lab serve --auth-file)")
	state := cmd.Flags().String("state", hub.DefaultStateDir(), "state directory")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *inv == "" {
			return errors.New("no inventory: pass --inventory FILE")
		}
		i, err := inventory.Load(*inv)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
		defer cancel()
		e, closeEngine, err := openEngine(ctx, *hubURL, *hubAuth, *state)
		if err != nil {
			return err
		}
		defer closeEngine()
		st, err := hub.GetStatus(ctx, e, i)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "MACHINE\tLAB\tHEALTH\tHOLDER\tCELL\tLEASE EXPIRES\tFACTS")
		for _, m := range st.Machines {
			holder, c, exp := "-", "-", "-"
			if m.Holder != "" {
				holder, c, exp = m.Holder, m.Cell, m.Expires.Local().Format("15:04:05")
			}
			health := m.State
			if m.Reason != "" && m.State == schedule.Quarantined {
				health += " (" + m.Reason + ")"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Lab, health, holder, c, exp, factLine(m.Facts))
		}
		w.Flush()
		if len(st.Runs) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "no runs in flight")
		}
		for _, r := range st.Runs {
			fmt.Fprintf(cmd.OutOrStdout(), "run %s (matrix %s): %d cells, started %s\n", r.ID, r.Matrix, r.Cells, r.Created.Local().Format(time.RFC3339))
		}
		return nil
	}
	return cmd
}

func factLine(f map[string]inventory.Fact) string {
	var parts []string
	for k, v := range f {
		parts = append(parts, k+"="+v.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func labServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub for several labs: the engine, the schedulers of runs in flight, the live report page",
		Args:  cobra.NoArgs,
	}
	listen := cmd.Flags().String("listen", ":4222", "NATS client address (agents and lab run connect here)")
	leaf := cmd.Flags().String("leaf", "", "accept lab segments' NATS leaf nodes on this address")
	httpAddr := cmd.Flags().String("http", ":8080", "live report page address (empty: none)")
	state := cmd.Flags().String("state", hub.DefaultStateDir(), "state directory (the engine's store)")
	inv := cmd.Flags().String("inventory", "", "lab inventory, for tags and facts on the report page (optional)")
	auth := cmd.Flags().String("auth-file", "", "file holding the token every client must present (mode 0600; required unless listening on loopback)")
	verbose := cmd.Flags().BoolP("verbose", "v", false, "log what the hub does")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		tok, err := hub.ReadToken(*auth)
		if err != nil {
			return err
		}
		var i *inventory.Inventory
		if *inv != "" {
			var err error
			if i, err = inventory.Load(*inv); err != nil {
				return err
			}
		}
		return hub.Serve(cmd.Context(), hub.ServeConfig{Listen: *listen, LeafListen: *leaf, HTTP: *httpAddr, StateDir: *state, Token: tok,
			Inventory: i, Log: labLogger(cmd, *verbose), Ready: func(nats, web string) {
				fmt.Fprintf(cmd.OutOrStdout(), "lab hub: agents connect to %s; live report on http://%s/\n", nats, web)
			}})
	}
	return cmd
}

func labAgentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run one lab segment's agent: its netboot server (and VMs) and the worker that runs its cells",
		Args:  cobra.NoArgs,
	}
	hubURL := cmd.Flags().String("hub", "", "the hub's NATS URL, e.g. nats://hub:4222")
	hubAuth := cmd.Flags().String("hub-auth-file", "", "file holding the hub's token (lab serve --auth-file)")
	domain := cmd.Flags().String("hub-domain", "", "the hub's JetStream domain, when --hub is a site's leaf node (lab serve --leaf: rlbuild)")
	labName := cmd.Flags().String("lab", "", "the lab segment (a lab of the inventory)")
	inv := cmd.Flags().String("inventory", "", "lab inventory (YAML)")
	name := cmd.Flags().String("name", "", "the agent's name in leases and results (default: LAB-HOST-PID)")
	state := cmd.Flags().String("state", hub.DefaultStateDir(), "state directory (netboot state, VMs)")
	token := cmd.Flags().String("token-file", "", "file holding the netboot API's operator credential")
	verbose := cmd.Flags().BoolP("verbose", "v", false, "log what the agent does")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *hubURL == "" || *labName == "" || *inv == "" {
			return errors.New("lab agent needs --hub, --lab and --inventory")
		}
		i, err := inventory.Load(*inv)
		if err != nil {
			return err
		}
		if len(i.InLab(*labName)) == 0 {
			return fmt.Errorf("%s has no machine in lab %q (its labs: %s)", *inv, *labName, strings.Join(i.LabNames(), ", "))
		}
		tok, err := hub.ReadToken(*hubAuth)
		if err != nil {
			return err
		}
		e, err := natsengine.ConnectDomain(cmd.Context(), *hubURL, "rlbuild-lab-agent-"+*labName, tok, *domain)
		if err != nil {
			return err
		}
		defer e.Close()
		err = hub.Agent(cmd.Context(), hub.AgentConfig{Name: *name, Lab: *labName, Engine: e, Inventory: i, StateDir: *state,
			TokenFile: *token, Log: labLogger(cmd, *verbose)})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	return cmd
}

// inventoryMachines is lab/inventory behind `lab power` and `lab vm`.
type inventoryMachines struct{}

func (inventoryMachines) PowerSpec(path, name string) (power.Spec, error) {
	inv, err := inventory.Load(path)
	if err != nil {
		return power.Spec{}, err
	}
	m := inv.Machine(name)
	if m == nil {
		return power.Spec{}, fmt.Errorf("%s has no machine %q (it has %s)", path, name, strings.Join(inv.Names(), ", "))
	}
	if m.Power.Address == inventory.VMSocket {
		return power.Spec{}, fmt.Errorf("%s is a VM whose QMP socket the agent knows: power it through its BMC, or with lab run", name)
	}
	return m.Power, nil
}

func (inventoryMachines) VMs(path string) ([]vmlab.Machine, netip.Prefix, error) {
	inv, err := inventory.Load(path)
	if err != nil {
		return nil, netip.Prefix{}, err
	}
	subnet := netip.MustParsePrefix("10.77.0.1/24")
	if l := inv.Labs[inv.Lab]; l != nil && l.Address != "" {
		if subnet, err = netip.ParsePrefix(l.Address); err != nil {
			return nil, netip.Prefix{}, fmt.Errorf("%s: labs.%s.address: %w", path, inv.Lab, err)
		}
	}
	var vms []vmlab.Machine
	for _, m := range inv.Machines {
		if m.VM == nil {
			continue
		}
		vm := vmlab.Machine{Name: m.Name, Arch: m.Arch, Firmware: m.Firmware, MAC: m.MACs[0], MemoryMiB: m.VM.MemoryMiB,
			NVMeMiB: m.VM.NVMeMiB, Redfish: m.VM.Redfish, IPMI: m.VM.IPMI, User: m.Power.User}
		if vm.Redfish != "" || vm.IPMI != "" {
			pw, err := m.Power.Password()
			if err != nil {
				return nil, netip.Prefix{}, fmt.Errorf("%s: machine %s: %w", path, m.Name, err)
			}
			vm.Password = pw
		}
		vms = append(vms, vm)
	}
	return vms, subnet, nil
}
