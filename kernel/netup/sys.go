package netup

import (
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// linuxBootID is Linux's random id of this boot ("" if unknown).
func linuxBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// uptime is the time since Linux booted, in seconds (0 if unknown).
func uptime() float64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return float64(ts.Nano()/1e6) / 1e3
}

// waitRandom waits until Linux's random number generator is initialized.
// The DHCP library draws its transaction ids from getrandom without
// blocking and gives up after a while; early in a boot, on a machine
// without a hardware RNG (a VM under TCG has no RDRAND), the generator is
// only initialized once something blocks in getrandom, which makes Linux
// gather jitter entropy (try_to_generate_entropy, Linux 5.18 and later).
// This is that something.
func waitRandom(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		var b [1]byte
		for {
			_, err := unix.Getrandom(b[:], 0)
			if err != unix.EINTR {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("getrandom: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for Linux's random number generator: %w", ctx.Err())
	}
}
