package labbox

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/images"
	"github.com/rlgo/redleaf/lab/hub"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/schedule"
)

// TestLabFaults runs real VMs with real faults, in one process as `lab
// run` does: a power backend that fails (a Redfish address where no BMC
// listens) and a suite that fails on the target. The power failure is an
// infrastructure error, its machine is quarantined and its cell passes on
// the other machine; the failing suite is rerun and stays a failure
// (exit status 1), never a pass.
func TestLabFaults(t *testing.T) {
	needs(t)
	dir := t.TempDir()
	c, err := config.Load(config.Options{File: filepath.Join(root, "configs/lab/small.yaml"), WorkDir: root})
	if err != nil {
		t.Fatal(err)
	}
	c.Out = filepath.Join(dir, "small")
	if _, err := images.Build(context.Background(), c, images.Options{}); err != nil {
		t.Fatal(err)
	}
	os.Setenv("LAB_FAULT_PW", "faults")
	invPath := filepath.Join(dir, "inv.yaml")
	os.WriteFile(invPath, []byte(`labs: {faults: {interface: br0, address: 10.77.5.1/24}}
lab: faults
machines:
  - name: vm-good
    macs: [52:54:00:4c:05:01]
    firmware: bios
    tags: [qemu]
    power: {type: qemu}
    console: {type: qemu}
    vm: {memory_mib: 512}
  - name: vm-badpower           # its BMC listens on 18752, its power entry says 18753
    macs: [52:54:00:4c:05:02]
    firmware: bios
    tags: [qemu]
    power: {type: redfish, address: "http://127.0.0.1:18753", user: admin, password_env: LAB_FAULT_PW, timeout: 5s, retries: -1}
    console: {type: qemu}
    vm: {memory_mib: 512, redfish: "127.0.0.1:18752"}
`), 0o644)
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "suites"), 0o755)
	boot, _ := os.ReadFile(filepath.Join(root, "CI/suites/boot.yaml"))
	os.WriteFile(filepath.Join(dir, "suites", "boot.yaml"), boot, 0o644)
	os.WriteFile(filepath.Join(dir, "suites", "broken.yaml"), []byte("steps:\n  - {name: ok, run: echo fine}\n  - {name: missing, run: cat /no/such/file}\n"), 0o644)
	mPath := filepath.Join(dir, "matrix.yaml")
	os.WriteFile(mPath, []byte("images: [{name: small, artifacts: "+c.Out+"}]\nmachines: [{tags: [qemu]}]\nsuites: [boot, broken]\n"+
		"timeouts: {power: 30s, dhcp: 2m, loader: 2m, booted: 3m, suite: 2m, results: 30s}\nretries: 1\nreruns: 1\nboot_gate: 0\nquarantine: {after: 3, health_passes: 1, health_suite: boot}\n"), 0o644)
	m, err := matrix.Load(mPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Pin(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var progress strings.Builder
	d, code, err := hub.Run(ctx, hub.RunConfig{Inventory: inv, Matrix: m, StateDir: filepath.Join(dir, "state"), Report: filepath.Join(dir, "report"), Progress: &progress, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run:\n%s", progress.String())
	if code != 1 {
		t.Errorf("exit %d, want 1 (a test failed): %s", code, d.Summary())
	}
	cells := map[string]schedule.CellState{}
	for _, c := range d.Cells {
		cells[c.ID] = c.CellState
	}
	// The power failure: an infrastructure error, then a pass elsewhere.
	bp := cells["small.boot.vm-badpower"]
	if bp.Status != outcome.Passed || len(bp.Attempts) < 2 || bp.Attempts[0].Class != outcome.ClassPower || bp.Attempts[len(bp.Attempts)-1].Machine != "vm-good" {
		t.Errorf("small.boot.vm-badpower: %s %s %+v", bp.Status, bp.Reason, bp.Attempts)
	}
	if g := cells["small.boot.vm-good"]; g.Status != outcome.Passed {
		t.Errorf("small.boot.vm-good: %s %s", g.Status, g.Reason)
	}
	for _, id := range []string{"small.broken.vm-good", "small.broken.vm-badpower"} {
		c := cells[id]
		if c.Status != outcome.Failed || !strings.Contains(c.Reason, "missing") {
			t.Errorf("%s: %s %s %+v, want failed on step missing", id, c.Status, c.Reason, c.Attempts)
		}
	}
	for _, c := range d.Cells {
		for _, a := range c.Attempts {
			if a.Outcome.Status == outcome.Failed && (len(a.Evidence.Steps) != 2 || a.Evidence.Steps[1].Status != "fail" || a.Evidence.Steps[0].Status != "pass") {
				t.Errorf("%s attempt %d: steps %+v", c.ID, a.N, a.Evidence.Steps)
			}
		}
	}
	if h := d.Machines["vm-badpower"].Health; h.State != schedule.Quarantined || !strings.Contains(h.Reason, "power") {
		t.Errorf("vm-badpower: %+v, want quarantined for its power failure", h)
	}
}
