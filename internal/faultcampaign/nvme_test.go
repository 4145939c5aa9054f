package faultcampaign

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rlgo/redleaf/drivers/nvme"
	"github.com/rlgo/redleaf/internal/qtest"
	"github.com/rlgo/redleaf/kernel/hw"
)

// nvmeTarget starts QEMU's NVMe model under qtest with one 8 MiB
// namespace of 4 KiB blocks, and returns the campaign's target on it.
func nvmeTarget(tb testing.TB) *NVMe {
	tb.Helper()
	const size = 8 << 20
	disk := filepath.Join(tb.TempDir(), "ns")
	if err := os.WriteFile(disk, make([]byte, size), 0o644); err != nil {
		tb.Fatal(err)
	}
	m := qtest.Start(tb, qtest.Options{Args: []string{
		"-device", "nvme,id=nvme0,serial=rlfc",
		"-drive", "file=" + disk + ",if=none,id=d0,format=raw",
		"-device", "nvme-ns,drive=d0,bus=nvme0,nsid=1,logical_block_size=4096,physical_block_size=4096",
	}})
	f, err := m.FindPCI(0x1b36, 0x0010)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.MapBAR(0, 0xe0000000); err != nil {
		tb.Fatal(err)
	}
	f.SetCommand(hw.CmdMemory|hw.CmdBusMaster|hw.CmdINTxDisable, 0)
	return &NVMe{Dev: f, Config: nvme.Config{NSID: 1, Depth: 64}, Blocks: size / 4096}
}

// TestNVMeCampaign is a small campaign over the NVMe driver on QEMU's
// NVMe through qtest: every restart resets the controller and brings it up
// again, through QEMU, so it is kept small, and skipped under -short.
func TestNVMeCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the NVMe campaign runs QEMU")
	}
	n := 300
	if raceEnabled {
		n = 100
	}
	r, err := Run(nvmeTarget(t), Config{Faults: n, Deadline: nvmeDeadline, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r.Table())
	if err := r.Check(); err != nil {
		t.Error(err)
	}
}
