package netup

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFacts(t *testing.T) {
	root := t.TempDir()
	sys, proc := filepath.Join(root, "sys"), filepath.Join(root, "proc")
	dev := func(addr, class, vendor, device string) {
		d := filepath.Join(sys, "bus/pci/devices", addr)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "class"), []byte(class+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "vendor"), []byte(vendor+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "device"), []byte(device+"\n"), 0o644)
	}
	dev("0000:00:02.0", "0x020000", "0x8086", "0x10fb")
	dev("0000:00:03.0", "0x020000", "0x1af4", "0x1000")
	dev("0000:00:04.0", "0x010802", "0x1b36", "0x0010")
	dev("0000:00:01.0", "0x060000", "0x8086", "0x29c0")
	os.MkdirAll(filepath.Join(sys, "firmware/efi"), 0o755)
	os.MkdirAll(proc, 0o755)
	os.WriteFile(filepath.Join(proc, "meminfo"), []byte("MemTotal:        1012000 kB\nMemFree: 1 kB\n"), 0o644)
	os.WriteFile(filepath.Join(proc, "cpuinfo"), []byte("processor\t: 0\nx\n\nprocessor\t: 1\n"), 0o644)
	want := map[string][]string{"nic": {"8086:10fb", "1af4:1000"}, "nvme": {"true"}, "nvme_ids": {"1b36:0010"},
		"firmware": {"uefi"}, "memory_mib": {"988"}, "cpus": {"2"}}
	if got := Facts(sys, proc); !reflect.DeepEqual(got, want) {
		t.Errorf("facts %v, want %v", got, want)
	}
	os.RemoveAll(filepath.Join(sys, "firmware"))
	os.RemoveAll(filepath.Join(sys, "bus/pci/devices/0000:00:04.0"))
	if got := Facts(sys, proc); got["firmware"][0] != "bios" || got["nvme"][0] != "false" {
		t.Errorf("facts %v", got)
	}
}
