package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The booted system takes QEMU's NVMe controller from Linux and drives it
// with the NVMe domain behind a shadow: lspci says so, a block written
// through it reads back, a panic injected into the driver is recovered on
// the next write, and what was written is there in the next boot and in
// the backing file on the host.
func TestNVMe(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	dir := image(t, "configs/qemu.yaml")
	disk := filepath.Join(t.TempDir(), "nvme.img")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 64<<20); err != nil {
		t.Fatal(err)
	}
	const (
		first  = "persisted across boots"
		second = "after the panic"
	)
	boot := func(name string, steps ...string) {
		t.Helper()
		transcript := filepath.Join(t.TempDir(), name+".log")
		start := time.Now()
		args := append([]string{"boot", "--artifacts", dir, "--mode", "kernel", "--timeout", "3m", "--quiet",
			"--transcript", transcript, "--nvme", disk}, steps...)
		r := rl(t, nil, args...)
		log, _ := os.ReadFile(transcript)
		if r.code != 0 {
			t.Fatalf("%s: boot exit %d: %s\nconsole:\n%s", name, r.code, r.stderr, tail(string(log), 5000))
		}
		t.Logf("%s in %v", name, time.Since(start).Round(time.Second))
	}
	bootSteps := []string{
		`--step`, `expect@4m=RedLeaf-Go domain kernel`,
		`--step`, `expect=nvme: 0000:[0-9a-f:.]+ \(1b36:0010\) taken from .*: domain nvme \(shadowed\), 16384 blocks of 4096 bytes \(64 MiB\)`,
		`--step`, `expect=(?m)^domains: ramdisk \(shadowed\), null, nvme \(shadowed\)$`,
		`--step`, `expect=\$ `,
	}

	boot("first boot", append(bootSteps,
		`--step`, `send=lspci`,
		`--step`, `expect=(?m)^0000:[0-9a-f:.]+ +1b36:0010 +NVMe +domain nvme *$`,
		`--step`, `expect=\$ `,
		`--step`, `send=nvme info`,
		`--step`, `expect=nvme: 16384 blocks of 4096 bytes \(64 MiB\) on 0000:\S+ \(1b36:0010\); instance #\d+, restarts 0`,
		`--step`, `expect=\$ `,
		`--step`, `send=nvme write 7 `+first,
		`--step`, `expect=(?m)^wrote 22 bytes to block 7$`,
		`--step`, `expect=\$ `,
		`--step`, `send=nvme read 7`,
		`--step`, `expect=(?m)^`+first+`$`,
		`--step`, `expect=\$ `,
		`--step`, `send=inject nvme panic`,
		`--step`, `expect=armed panic in nvme`,
		`--step`, `expect=\$ `,
		`--step`, `send=nvme write 8 `+second,
		`--step`, `expect=injected panic in nvme`,
		`--step`, `expect=restarted as #\d+ by shadow \(restart 1\)`,
		`--step`, `expect=(?m)^wrote 15 bytes to block 8$`,
		`--step`, `expect=\$ `,
		`--step`, `send=nvme read 8`,
		`--step`, `expect=(?m)^`+second+`$`,
		`--step`, `expect=\$ `,
		`--step`, `send=nvme info`,
		`--step`, `expect=restarts 1, calls recovered by its shadow 1`,
		`--step`, `expect=\$ `,
		`--step`, `send=poweroff`,
	)...)

	boot("second boot", append(bootSteps,
		`--step`, `send=nvme read 7`,
		`--step`, `expect=(?m)^`+first+`$`,
		`--step`, `expect=\$ `,
		`--step`, `send=nvme read 8`,
		`--step`, `expect=(?m)^`+second+`$`,
		`--step`, `expect=\$ `,
		`--step`, `send=poweroff`,
	)...)

	// The backing file holds each text at its block's offset, the rest of
	// the block zero.
	data, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	for lba, want := range map[int]string{7: first, 8: second} {
		b := data[lba*4096 : (lba+1)*4096]
		if !bytes.HasPrefix(b, []byte(want)) || bytes.IndexFunc(b[len(want):], func(r rune) bool { return r != 0 }) >= 0 {
			t.Errorf("block %d of the backing file: %q, want %q and zeros", lba, bytes.TrimRight(b, "\x00"), want)
		}
	}
	if n := bytes.Count(data, []byte(first)); n != 1 {
		t.Errorf("%q is %d times in the backing file, want once", first, n)
	}
}
