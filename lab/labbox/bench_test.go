package labbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/images"
	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/hub"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/pxevm"
	"github.com/rlgo/redleaf/netboot/server"
	"github.com/rlgo/redleaf/qemu"
)

// BenchmarkCellOverhead compares one lab-in-a-box cell (lease, power by
// Redfish through the virtual BMC, netboot, "booted", the boot suite,
// results, power off) with the same image PXE-booting the same kind of
// VM alone, to its "booted" report, in the same run.
//
//	go test -run '^$' -bench CellOverhead -benchtime 1x ./lab/labbox
func BenchmarkCellOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	dir := b.TempDir()
	c, err := config.Load(config.Options{File: filepath.Join(root, "configs/lab/small.yaml"), WorkDir: root})
	if err != nil {
		b.Fatal(err)
	}
	c.Out = filepath.Join(dir, "small")
	res, err := images.Build(context.Background(), c, images.Options{})
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	for i := 0; i < b.N; i++ {
		alone := bootAlone(b, res.Manifest.Dir(), quiet)
		cellWall, booted := oneCell(b, dir, res.Manifest.Dir(), quiet)
		b.ReportMetric(alone.Seconds(), "alone-booted-s")
		b.ReportMetric(booted.Seconds(), "cell-booted-s")
		b.ReportMetric(cellWall.Seconds(), "cell-s")
		b.ReportMetric(cellWall.Seconds()/alone.Seconds(), "cell/alone")
		b.ReportMetric((booted - alone).Seconds(), "lab-overhead-to-booted-s")
	}
}

// bootAlone PXE-boots the image in a BIOS VM and times start to the
// server's "booted" event.
func bootAlone(b *testing.B, artifacts string, log *slog.Logger) time.Duration {
	f, err := server.Quick(pxevm.Bridge, artifacts, "full", "")
	if err != nil {
		b.Fatal(err)
	}
	l, err := pxevm.New(pxevm.Config{File: f, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	vm, err := l.StartVM(ctx, qemu.Config{Arch: "amd64", MemoryMiB: 512, PXE: &qemu.PXEConfig{Firmware: "bios"}, ExtraArgs: []string{"-machine", "graphics=off"}})
	if err != nil {
		b.Fatal(err)
	}
	defer vm.Close()
	if _, err := l.Server().Events().Wait(ctx, qemu.DefaultMAC, func(e events.Event) bool { return e.Kind == events.Booted }); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// oneCell runs small x boot on one Redfish-powered BIOS VM.
func oneCell(b *testing.B, dir, artifacts string, log *slog.Logger) (wall, booted time.Duration) {
	os.Setenv("LAB_BMC_PASSWORD", "bench")
	invPath := filepath.Join(dir, "inv.yaml")
	os.WriteFile(invPath, []byte(`labs: {default: {interface: br0, address: 10.77.9.1/24}}
machines:
  - name: vm-bios
    macs: [52:54:00:4c:09:01]
    firmware: bios
    tags: [qemu]
    power: {type: redfish, address: "http://127.0.0.1:18691", user: admin, password_env: LAB_BMC_PASSWORD}
    console: {type: qemu}
    vm: {memory_mib: 512, redfish: "127.0.0.1:18691"}
`), 0o644)
	inv, err := inventory.Load(invPath)
	if err != nil {
		b.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "suites"), 0o755)
	boot, _ := os.ReadFile(filepath.Join(root, "CI/suites/boot.yaml"))
	os.WriteFile(filepath.Join(dir, "suites", "boot.yaml"), boot, 0o644)
	mPath := filepath.Join(dir, "matrix.yaml")
	os.WriteFile(mPath, []byte(fmt.Sprintf("images: [{name: small, artifacts: %s}]\nmachines: [{tags: [qemu]}]\nsuites: [boot]\n", artifacts)), 0o644)
	m, err := matrix.Load(mPath)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Pin(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d, code, err := hub.Run(ctx, hub.RunConfig{Inventory: inv, Matrix: m, StateDir: filepath.Join(dir, "state"), Log: log})
	if err != nil || code != 0 {
		b.Fatalf("run: %v, exit %d", err, code)
	}
	a := d.Cells[0].Attempts[0]
	p, _ := a.Evidence.Phase(cell.PhasePower)
	bt, _ := a.Evidence.Phase(cell.PhaseBooted)
	return a.Ended.Sub(a.Started), bt.End.Sub(p.Start)
}
