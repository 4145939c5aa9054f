package pci

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/kernel/hw"
)

// sysfsTree builds a small sysfs tree, recorded from a QEMU q35 machine
// with an NVMe controller bound to Linux's nvme driver and a virtio-net.
func sysfsTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	drivers := filepath.Join(root, "drivers")
	type fn struct {
		addr, vendor, device, class, driver, resource string
	}
	fns := []fn{
		{"0000:00:00.0", "0x8086", "0x29c0", "0x060000", "", strings.Repeat("0x0000000000000000 0x0000000000000000 0x0000000000000000\n", 13)},
		{"0000:00:03.0", "0x1af4", "0x1000", "0x020000", "virtio-pci",
			"0x000000000000c040 0x000000000000c05f 0x0000000000040101\n0x00000000febd1000 0x00000000febd1fff 0x0000000000040200\n" +
				strings.Repeat("0x0000000000000000 0x0000000000000000 0x0000000000000000\n", 11)},
		{"0000:00:04.0", "0x1b36", "0x0010", "0x010802", "nvme",
			"0x00000000febd0000 0x00000000febd3fff 0x0000000000140204\n" +
				strings.Repeat("0x0000000000000000 0x0000000000000000 0x0000000000000000\n", 12)},
	}
	for _, f := range fns {
		dir := filepath.Join(root, "devices", f.addr)
		must(t, os.MkdirAll(dir, 0o755))
		for name, v := range map[string]string{"vendor": f.vendor, "device": f.device, "class": f.class, "resource": f.resource} {
			must(t, os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644))
		}
		cfg := make([]byte, 256)
		binary.LittleEndian.PutUint16(cfg[ConfigCommand:], 0x0003)
		must(t, os.WriteFile(filepath.Join(dir, "config"), cfg, 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "resource0"), make([]byte, 0x4000), 0o644))
		if f.driver != "" {
			d := filepath.Join(drivers, f.driver)
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

func TestScan(t *testing.T) {
	b := &Bus{Root: sysfsTree(t)}
	devs, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 3 {
		t.Fatalf("%d devices", len(devs))
	}
	n := devs[2]
	if n.Addr != "0000:00:04.0" || n.Vendor != 0x1b36 || n.DeviceID != 0x0010 || n.Class != 0x010802 || n.Driver != "nvme" || n.ClassName() != "NVMe" {
		t.Errorf("nvme: %+v", n)
	}
	if bar := n.BARs[0]; bar.Start != 0xfebd0000 || bar.Size() != 0x4000 || !bar.IsMem() || bar.Flags&resMem64 == 0 {
		t.Errorf("BAR0: %+v", bar)
	}
	if v := devs[1].BARs[0]; v.IsMem() || v.Flags&resIO == 0 || v.Size() != 0x20 {
		t.Errorf("virtio BAR0 (I/O): %+v", v)
	}
	if devs[0].Driver != "" || devs[0].BARs[0].Size() != 0 {
		t.Errorf("host bridge: %+v", devs[0])
	}
	var out bytes.Buffer
	Format(&out, devs, func(a string) string {
		if a == "0000:00:04.0" {
			return "nvme0"
		}
		return ""
	})
	for _, want := range []string{"0000:00:03.0  1af4:1000  Ethernet     linux virtio-pci", "0000:00:04.0  1b36:0010  NVMe         domain nvme0", "Host bridge  -"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lspci output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadResource(t *testing.T) {
	if _, err := parseResource("0x1 0x2\n"); err == nil {
		t.Error("short line accepted")
	}
	if _, err := parseResource("0x1 zz 0x3\n"); err == nil {
		t.Error("bad number accepted")
	}
}

type resetDMA struct {
	hw.DMA
	resets int
}

func (r *resetDMA) Reset() { r.resets++ }

func TestTake(t *testing.T) {
	root := sysfsTree(t)
	var mapped int
	b := &Bus{Root: root, Mmap: func(f *os.File, n int) ([]byte, error) {
		mapped = n
		return make([]byte, n), nil
	}}
	dma := &resetDMA{}
	f, err := b.Take("0000:00:04.0", dma)
	if err != nil {
		t.Fatal(err)
	}
	// Unbind wrote the address to the driver's unbind file.
	if got, _ := os.ReadFile(filepath.Join(root, "..", "drivers", "nvme", "unbind")); string(got) != "0000:00:04.0" {
		t.Errorf("unbind: %q", got)
	}
	cmd, err := f.Command()
	if err != nil || cmd != 0x0003|hw.CmdBusMaster|hw.CmdINTxDisable {
		t.Errorf("command %#x %v", cmd, err)
	}
	if v, d := f.IDs(); v != 0x1b36 || d != 0x10 || f.Addr() != "0000:00:04.0" {
		t.Errorf("IDs %x %x", v, d)
	}
	r, err := f.BAR(0)
	if err != nil || mapped != 0x4000 || r.Len() != 0x4000 {
		t.Fatalf("BAR0: %v, mapped %d", err, mapped)
	}
	r.Write32(0x14, 0x460001)
	if r.Read32(0x14) != 0x460001 || hw.Read64(r, 0x10) != 0x460001<<32 {
		t.Errorf("register: %#x", r.Read32(0x14))
	}
	for _, off := range []int{-4, 0x4000, 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("access at %#x did not panic", off)
				}
			}()
			r.Read32(off)
		}()
	}
	if _, err := f.BAR(1); err == nil {
		t.Error("unused BAR 1 mapped")
	}
	if _, err := b.MapBAR("0000:00:03.0", 0); err == nil {
		t.Error("I/O BAR mapped")
	}
	f.Reset()
	if dma.resets != 1 {
		t.Error("Reset did not reset the DMA memory")
	}
	// A function with no driver: Unbind does nothing.
	if err := b.Unbind("0000:00:00.0"); err != nil {
		t.Error(err)
	}
}
