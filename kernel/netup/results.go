package netup

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Results is the body of a "results" report: a lab suite's results and
// the facts of the machine (kernel/suite runs the suite; `rlbuild lab`
// reads both).
type Results struct {
	Status string `json:"status"` // "results"
	// Boot is this boot's id from the command line (rl.boot).
	Boot  string              `json:"boot,omitempty"`
	Suite any                 `json:"suite"`
	Facts map[string][]string `json:"facts,omitempty"`
}

// PostResults posts r to URL/results, retrying like Post.
func (rep *Reporter) PostResults(ctx context.Context, r Results) error {
	r.Status = "results"
	if r.Facts == nil {
		r.Facts = Facts("/sys", "/proc")
	}
	return rep.Post(ctx, "results", r)
}

// Facts reads what a lab matrix selects machines by from Linux's sysfs
// and procfs (roots given for tests): the PCI IDs of the NICs (nic) and
// NVMe controllers (nvme_ids, and nvme: true or false), the firmware
// (uefi or bios), the memory in MiB and the CPU count.
func Facts(sys, proc string) map[string][]string {
	f := map[string][]string{}
	devs, _ := filepath.Glob(filepath.Join(sys, "bus/pci/devices/*"))
	nvme := "false"
	for _, d := range devs {
		class := readHex(filepath.Join(d, "class"))
		id := strings.TrimPrefix(readTrim(filepath.Join(d, "vendor")), "0x") + ":" + strings.TrimPrefix(readTrim(filepath.Join(d, "device")), "0x")
		switch {
		case class>>16 == 0x02: // network controller
			f["nic"] = appendNew(f["nic"], id)
		case class == 0x010802: // NVM Express
			f["nvme_ids"] = appendNew(f["nvme_ids"], id)
			nvme = "true"
		}
	}
	f["nvme"] = []string{nvme}
	if _, err := os.Stat(filepath.Join(sys, "firmware/efi")); err == nil {
		f["firmware"] = []string{"uefi"}
	} else {
		f["firmware"] = []string{"bios"}
	}
	if b, err := os.ReadFile(filepath.Join(proc, "meminfo")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				fields := strings.Fields(rest)
				if kb, err := strconv.Atoi(fields[0]); err == nil {
					f["memory_mib"] = []string{strconv.Itoa(kb / 1024)}
				}
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(proc, "cpuinfo")); err == nil {
		f["cpus"] = []string{strconv.Itoa(strings.Count(string(b), "\nprocessor") + map[bool]int{true: 1}[strings.HasPrefix(string(b), "processor")])}
	}
	return f
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func readHex(path string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimPrefix(readTrim(path), "0x"), 16, 32)
	return v
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
