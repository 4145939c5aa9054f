package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// With two identical NVMe controllers the booted system drives the first
// with its NVMe domain and leaves the second to Linux's nvme driver;
// benchnvme measures both in the same boot and prints their random-read
// IOPS ratio per batch size. The benchmark is kept short (a fraction of a
// second per test): this checks the table, BENCHMARKS.md has the numbers.
func TestBenchNVMe(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	dir := image(t, "configs/qemu.yaml")
	var disks []string
	for _, name := range []string{"ours.img", "linux.img"} {
		disk := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(disk, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(disk, 64<<20); err != nil {
			t.Fatal(err)
		}
		disks = append(disks, disk)
	}
	transcript := filepath.Join(t.TempDir(), "console.log")
	start := time.Now()
	row := func(dev, test, batch string) string {
		return `expect=(?m)^` + dev + ` +` + test + ` +` + batch + ` +[1-9]\d* +[1-9]\d* `
	}
	r := rl(t, nil, "boot", "--artifacts", dir, "--mode", "kernel", "--timeout", "4m", "--quiet",
		"--transcript", transcript, "--nvme", disks[0], "--nvme", disks[1],
		`--step`, `expect@4m=RedLeaf-Go domain kernel`,
		`--step`, `expect=nvme: 0000:[0-9a-f:.]+ \(1b36:0010\) left to Linux \(driver nvme\)`,
		`--step`, `expect=nvme: 0000:[0-9a-f:.]+ \(1b36:0010\) taken from .*: domain nvme \(shadowed\)`,
		`--step`, `expect=\$ `,
		`--step`, `send=grant blk:nvme,admin benchnvme -t 250ms -w`,
		`--step`, `expect=(?m)^writes overwrite blocks 12288-16383$`,
		`--step`, `expect@2m=(?m)^DEVICE +TEST +BATCH +IOS +IOPS +MiB/s +P50 +P99 +P99.9 +LATENCY OF`,
		`--step`, row("nvme", "seq-read", "1"),
		`--step`, row("nvme", "seq-read", "32"),
		`--step`, row("nvme", "rand-read", "1"),
		`--step`, row("nvme", "rand-read", "32"),
		`--step`, row("nvme", "seq-write", "1"),
		`--step`, row("nvme", "seq-write", "32"),
		`--step`, row("nvme", "rand-write", "1"),
		`--step`, row("nvme", "rand-write", "32"),
		`--step`, `expect@2m=(?m)^Linux's driver: /dev/nvme\d+n1 \(nvme\d+ on 0000:\S+\), O_DIRECT pread`,
		`--step`, row(`linux nvme\d+n1`, "rand-read", "1"),
		`--step`, row(`linux nvme\d+n1`, "rand-read", "32"),
		`--step`, `expect=(?m)^rand-read IOPS, nvme / linux nvme\d+n1: batch 1: \d+\.\d\d, batch 32: \d+\.\d\d$`,
		`--step`, `expect=\$ `,
		`--step`, `send=poweroff`,
	)
	log, _ := os.ReadFile(transcript)
	if r.code != 0 {
		t.Fatalf("boot exit %d: %s\nconsole:\n%s", r.code, r.stderr, tail(string(log), 6000))
	}
	t.Logf("boot and benchmark in %v", time.Since(start).Round(time.Second))
	if m := regexp.MustCompile(`(?s)benchnvme: .*?rand-read IOPS, [^\n]*\n`).Find(log); m != nil {
		t.Logf("\n%s", m)
	}
	// The write tests stay inside their region: the first 48 MiB of our
	// disk are still zeros, and Linux's disk was only read.
	for i, disk := range disks {
		data, err := os.ReadFile(disk)
		if err != nil {
			t.Fatal(err)
		}
		n := 48 << 20
		if i == 1 {
			n = len(data)
		}
		for off, b := range data[:n] {
			if b != 0 {
				t.Fatalf("%s: byte %d is %#x: written outside the write region", filepath.Base(disk), off, b)
			}
		}
	}
}
