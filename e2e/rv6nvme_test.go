package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Rv6 on NVMe: an NVMe disk holding an Rv6 file system (made on the host by
// rlbuild mkfs) becomes Rv6's root. A file-system workload survives a panic
// injected into the NVMe driver and a kill of it (its shadow resets the
// controller, re-creates the domain and retries what was in flight), files
// written in one boot are there in the next, and the host's fsck finds the
// file system consistent.
func TestRv6OnNVMe(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	dir := image(t, "configs/qemu.yaml")
	disk := filepath.Join(t.TempDir(), "nvme.img")
	if r := rl(t, nil, "mkfs", "-o", disk, "--size", "64M"); r.code != 0 {
		t.Fatalf("mkfs: %s", r.stderr)
	}
	boot := func(name string, cmds ...[]string) {
		t.Helper()
		steps := []string{
			`--step`, `expect@4m=RedLeaf-Go domain kernel`,
			`--step`, `expect=rv6: / on nvme: \d+ of \d+ blocks free`,
		}
		for _, c := range cmds {
			steps = append(steps, `--step`, `expect=\$ `, `--step`, `send=`+c[0])
			for _, e := range c[1:] {
				steps = append(steps, `--step`, `expect=`+e)
			}
		}
		steps = append(steps, `--step`, `expect=\$ `, `--step`, `send=poweroff`)
		transcript := filepath.Join(t.TempDir(), name+".log")
		start := time.Now()
		args := append([]string{"boot", "--artifacts", dir, "--mode", "kernel", "--timeout", "3m", "--quiet",
			"--transcript", transcript, "--nvme", disk}, steps...)
		r := rl(t, nil, args...)
		log, _ := os.ReadFile(transcript)
		if r.code != 0 {
			t.Fatalf("%s: boot exit %d: %s\nconsole:\n%s", name, r.code, r.stderr, tail(string(log), 6000))
		}
		t.Logf("%s in %v", name, time.Since(start).Round(time.Second))
	}
	boot("first boot",
		[]string{`df`, `(?m)^nvme +\d+`},
		[]string{`mkdir /data && echo persisted across boots > /data/f && cat /data/f`, `(?m)^persisted across boots\r?$`},
		// A workload in the background; the driver panics under it.
		[]string{`benchfs -size 2M -bs 4K,64K -file /data/bench > /data/bench.out &`, `\[1\] \d+`},
		[]string{`inject nvme panic`, `armed panic in nvme`},
		[]string{`wait; echo workload $?`, `(?m)^workload 0\r?$`},
		// And again, killed this time.
		[]string{`usertests -q createwrite bigfile dirtree > /data/ut.out &`, `\[1\] \d+`},
		[]string{`grant admin kill nvme`, `killed nvme`},
		// (A write after it, so that a kill that found the driver idle is
		// followed by a call that makes the shadow re-create it.)
		[]string{`wait; echo usertests $?; echo x > /data/x`, `(?m)^usertests 0\r?$`},
		[]string{`domains | grep nvme`, `(?m)^nvme +\d+ +nvme +running +yes +\d+ +\d+ +\d+ +[12] +2`},
		// Throughput with a driver panic every half second, against none.
		[]string{`benchfs -size 1M -bs 4K,64K -file /data/bf -fault nvme:panic -every 500ms`,
			`(?m)^seq-read +4K +[\d.]+ +[\d.]+ +[\d.]+\r?$`, `faults: nvme panic armed [1-9]\d* times`},
		[]string{`grep -c seq-read /data/bench.out; tail -n 1 /data/ut.out`, `(?m)^2\r?$`, `ALL TESTS PASSED`},
	)
	boot("second boot",
		[]string{`cat /data/f`, `(?m)^persisted across boots\r?$`},
		[]string{`grep -c 4K /data/bench.out`, `(?m)^[1-9]\d*\r?$`},
		[]string{`ls /data`, `(?m)^bench.out\r?$`},
	)
	r := rl(t, nil, "fsck", disk)
	if r.code != 0 {
		t.Fatalf("fsck of the NVMe disk after two boots: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
