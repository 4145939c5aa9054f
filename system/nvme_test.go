package system_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/system"
)

// sysfs builds a sysfs tree of a QEMU q35 machine: a host bridge, a
// virtio-net bound to Linux and, with nvme, an NVMe controller bound to
// Linux's nvme driver. It returns the devices directory.
func sysfs(t *testing.T, nvme bool) string {
	t.Helper()
	root := t.TempDir()
	none := strings.Repeat("0x0000000000000000 0x0000000000000000 0x0000000000000000\n", 6)
	fns := []struct{ addr, vendor, device, class, driver, resource string }{
		{"0000:00:00.0", "0x8086", "0x29c0", "0x060000", "", none},
		{"0000:00:03.0", "0x1af4", "0x1000", "0x020000", "virtio-pci", none},
	}
	if nvme {
		fns = append(fns, struct{ addr, vendor, device, class, driver, resource string }{
			"0000:00:04.0", "0x1b36", "0x0010", "0x010802", "nvme",
			"0x00000000febd0000 0x00000000febd3fff 0x0000000000140204\n" + none})
	}
	for _, f := range fns {
		dir := filepath.Join(root, "devices", f.addr)
		must(t, os.MkdirAll(dir, 0o755))
		for name, v := range map[string]string{"vendor": f.vendor, "device": f.device, "class": f.class, "resource": f.resource} {
			must(t, os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644))
		}
		cfg := make([]byte, 256)
		binary.LittleEndian.PutUint16(cfg[pci.ConfigCommand:], 0x0003)
		must(t, os.WriteFile(filepath.Join(dir, "config"), cfg, 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "resource0"), make([]byte, 0x4000), 0o644))
		if f.driver != "" {
			d := filepath.Join(root, "drivers", f.driver)
			must(t, os.MkdirAll(d, 0o755))
			must(t, os.Symlink(d, filepath.Join(dir, "driver")))
		}
	}
	return filepath.Join(root, "devices")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Without an NVMe controller the system says so and carries on; lspci
// lists what there is, and the nvme command explains.
func TestNoNVMe(t *testing.T) {
	s, log := start(t, system.Options{PCI: &pci.Bus{Root: sysfs(t, false)}})
	if !strings.Contains(log.String(), "nvme: no NVMe controller") {
		t.Errorf("log:\n%s", log)
	}
	if got := s.Summary(); got != "ramdisk (shadowed), null" {
		t.Errorf("Summary = %q", got)
	}
	if s.NVMe() != nil || s.NVMeGuard() != nil {
		t.Error("an NVMe capability without a controller")
	}
	st, out := eval(t, s, "lspci")
	if st != 0 || !strings.Contains(out, "ADDRESS") || !strings.Contains(out, "1af4:1000  Ethernet     linux virtio-pci") || !strings.Contains(out, "8086:29c0  Host bridge  -") {
		t.Errorf("lspci: status %d:\n%s", st, out)
	}
	if st, out := eval(t, s, "nvme info"); st != 1 || !strings.Contains(out, "nvme: no NVMe controller is driven by a domain") {
		t.Errorf("nvme info: status %d: %q", st, out)
	}
	if _, err := s.ReadNVMe(0); err == nil {
		t.Error("ReadNVMe without a controller succeeded")
	}
	if st, out := eval(t, s, "lspci x"); st != 2 || !strings.Contains(out, "usage: lspci") {
		t.Errorf("lspci x: status %d: %q", st, out)
	}
	// linuxnvme, the Linux half of Rv6's benchnvme, says why it has
	// nothing to compare.
	if st, out := eval(t, s, "linuxnvme -blocks 100 -t 10ms -ours nvme:1=5000"); st != 0 || out != "no Linux comparison: no second NVMe controller (boot with --nvme twice)\n" {
		t.Errorf("linuxnvme: status %d: %q", st, out)
	}
	for _, args := range []string{"", "-blocks 0", "-blocks 10 -t 0", "-blocks 10 -batch 0", "-blocks 10 -ours nvme:1", "-blocks 10 x"} {
		if st, out := eval(t, s, "linuxnvme "+args); st != 2 {
			t.Errorf("linuxnvme %s: status %d: %q", args, st, out)
		}
	}
	// A machine without a PCI bus has no controller either.
	_, log = start(t, system.Options{PCI: &pci.Bus{Root: filepath.Join(t.TempDir(), "none")}})
	if !strings.Contains(log.String(), "nvme: no PCI bus") {
		t.Errorf("log:\n%s", log)
	}
}

// Without DMA memory (here: the pagemap hides frame numbers, as it does
// without CAP_SYS_ADMIN) the controller is left to Linux: not unbound, and
// the reason logged.
func TestNVMeNoDMA(t *testing.T) {
	root := sysfs(t, true)
	hidden := dma.New(sourceFunc(func(int) (dma.Chunk, error) {
		return dma.Chunk{}, fmt.Errorf("dma: %#x: %w", 0x7f0000000000, dma.ErrNoFrame)
	}), 1<<20)
	for _, tc := range []struct {
		name string
		dma  func() (system.DMA, error)
		want string
	}{
		{"no allocator", func() (system.DMA, error) { return nil, errors.New("no hugetlbfs here") }, "no DMA memory: no hugetlbfs here; left to Linux (driver nvme)"},
		{"frames hidden", func() (system.DMA, error) { return hidden, nil }, "run as root with CAP_SYS_ADMIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, log := start(t, system.Options{PCI: &pci.Bus{Root: root}, DMA: tc.dma})
			if l := log.String(); !strings.Contains(l, "nvme: 0000:00:04.0 (1b36:0010): ") || !strings.Contains(l, tc.want) || !strings.Contains(l, "carrying on without it") {
				t.Errorf("log:\n%s", l)
			}
			if s.Summary() != "ramdisk (shadowed), null" || s.NVMe() != nil {
				t.Errorf("Summary %q", s.Summary())
			}
			if _, err := os.Stat(filepath.Join(root, "..", "drivers", "nvme", "unbind")); err == nil {
				t.Error("the controller was unbound from Linux")
			}
			if _, out := eval(t, s, "lspci"); !strings.Contains(out, "1b36:0010  NVMe         linux nvme") {
				t.Errorf("lspci:\n%s", out)
			}
		})
	}
}

type sourceFunc func(int) (dma.Chunk, error)

func (f sourceFunc) Map(n int) (dma.Chunk, error) { return f(n) }

// A controller that does not come up (here: registers that never say
// ready) is taken from Linux, the domain fails to start, and the system
// carries on without it, saying why.
func TestNVMeBringUpFails(t *testing.T) {
	root := sysfs(t, true)
	bus := &pci.Bus{Root: root, Mmap: func(_ *os.File, n int) ([]byte, error) { return make([]byte, n), nil }}
	ram := make([]byte, 1<<20)
	s, log := start(t, system.Options{PCI: bus, DMA: func() (system.DMA, error) { return dma.NewContiguous(ram, 0x4000_0000), nil }})
	l := log.String()
	if !strings.Contains(l, "starting the nvme domain (the controller is no longer Linux's)") || !strings.Contains(l, "CSTS.RDY did not become true") || !strings.Contains(l, "carrying on without it") {
		t.Errorf("log:\n%s", l)
	}
	if s.Summary() != "ramdisk (shadowed), null" || s.NVMe() != nil || s.PCIOwner("0000:00:04.0") != "" {
		t.Errorf("Summary %q, owner %q", s.Summary(), s.PCIOwner("0000:00:04.0"))
	}
	// Take unbound it from Linux and set memory space, bus master and
	// INTx disable.
	if b, err := os.ReadFile(filepath.Join(root, "..", "drivers", "nvme", "unbind")); err != nil || string(b) != "0000:00:04.0" {
		t.Errorf("unbind: %q %v", b, err)
	}
	cmd, err := bus.ReadConfig16("0000:00:04.0", pci.ConfigCommand)
	if want := hw.CmdMemory | hw.CmdBusMaster | hw.CmdINTxDisable | hw.CmdIO; err != nil || cmd != want {
		t.Errorf("command %#x %v, want %#x", cmd, err, want)
	}
	// The rest of the system works.
	if st, out := eval(t, s, "blk write 1 fine"); st != 0 {
		t.Errorf("blk write: %q", out)
	}
}
