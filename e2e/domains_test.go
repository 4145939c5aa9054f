package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The booted system runs its services as domains: inject a panic into the
// RAM-disk driver under Rv6's file system, see a file written through it
// anyway (its shadow restarted the driver and retried), read it back, see
// the restart in the listing, and the shell still working.
func TestDomains(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	dir := image(t, "configs/qemu.yaml")
	transcript := filepath.Join(t.TempDir(), "console.log")
	// The columns of domains: NAME ID KIND STATE SHADOW RREFS CALLS-IN
	// CALLS-OUT FAULTS RESTARTS.
	row := func(state, faults, restarts string) string {
		return `(?m)^ramdisk +\d+ +ramdisk +` + state + ` +yes +\d+ +\d+ +\d+ +` + faults + ` +` + restarts + ` *$`
	}
	steps := []string{
		`--step`, `expect@4m=RedLeaf-Go domain kernel`,
		`--step`, `expect=(?m)^domains: ramdisk \(shadowed\), null$`,
		`--step`, `expect=\$ `,
		`--step`, `send=domains`,
		`--step`, `expect=(?m)^null +\d+ +null +running +- `, // rows sorted by name
		`--step`, `expect=` + row("running", "0", "0"),
		`--step`, `expect=\$ `,
		`--step`, `send=inject ramdisk panic`,
		`--step`, `expect=armed panic in ramdisk`,
		`--step`, `expect=\$ `,
		`--step`, `send=echo survived > /survived && sync && cat /survived`,
		`--step`, `expect=injected panic in ramdisk`,
		`--step`, `expect=restarted as #\d+ by shadow \(restart 1\)`,
		`--step`, `expect=(?m)^survived\r?$`,
		`--step`, `expect=\$ `,
		`--step`, `send=domains`,
		`--step`, `expect=` + row("running", "1", "1"),
		`--step`, `expect=\$ `,
		`--step`, `send=echo still here`,
		`--step`, `expect=(?m)^still here\r?$`,
		`--step`, `expect=\$ `,
		`--step`, `send=poweroff`,
	}
	start := time.Now()
	args := append([]string{"boot", "--artifacts", dir, "--mode", "kernel", "--timeout", "3m", "--quiet", "--transcript", transcript}, steps...)
	r := rl(t, nil, args...)
	log, _ := os.ReadFile(transcript)
	if r.code != 0 {
		t.Fatalf("boot exit %d: %s\nconsole:\n%s", r.code, r.stderr, tail(string(log), 4000))
	}
	t.Logf("inject, recovery and poweroff in %v", time.Since(start).Round(time.Second))
}
