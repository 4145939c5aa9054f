package pxevm

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/server"
	"github.com/rlgo/redleaf/qemu"
)

// BenchmarkFourVMs starts four VMs at once on one boot network (full
// DHCP, one netboot server) and reports the time until all four show
// the shell prompt, for SeaBIOS with QEMU's iPXE ROM and for OVMF's own
// PXE client (which loads snponly.efi over TFTP first). TCG, one vCPU
// and 1 GiB each.
func BenchmarkFourVMs(b *testing.B) {
	if testing.Short() {
		b.Skip("boots QEMU")
	}
	for _, c := range []client{clients[0], clients[2]} {
		b.Run(c.name, func(b *testing.B) {
			dir := buildImageB(b)
			var total time.Duration
			var slowest, fastest []time.Duration
			for i := 0; i < b.N; i++ {
				f, err := server.Quick(Bridge, dir, "full", "")
				if err != nil {
					b.Fatal(err)
				}
				lab, err := New(Config{File: f, Log: quietLog()})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				var wg sync.WaitGroup
				times := make([]time.Duration, 4)
				errs := make([]error, 4)
				for vm := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						mac := fmt.Sprintf("52:54:00:4b:00:%02x", vm)
						times[vm], errs[vm] = toPrompt(lab, qemu.Config{Arch: "amd64",
							PXE: &qemu.PXEConfig{MAC: mac, Firmware: c.firmware, NativePXE: c.native}})
					}()
				}
				wg.Wait()
				total += time.Since(start)
				lab.Close()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				lo, hi := times[0], times[0]
				for _, d := range times {
					lo, hi = min(lo, d), max(hi, d)
				}
				fastest, slowest = append(fastest, lo), append(slowest, hi)
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s-all-4-at-prompt")
			b.ReportMetric(avg(fastest).Seconds(), "s-first-at-prompt")
			b.ReportMetric(avg(slowest).Seconds(), "s-last-at-prompt")
		})
	}
}

func avg(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// toPrompt boots a VM to the shell prompt and powers it off; it returns
// the time to the prompt.
func toPrompt(lab *Lab, c qemu.Config) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	start := time.Now()
	vm, err := lab.StartVM(ctx, c)
	if err != nil {
		return 0, err
	}
	defer vm.Close()
	if _, err := vm.Console().Expect(ctx, banner); err != nil {
		return 0, err
	}
	if _, err := vm.Console().Expect(ctx, prompt); err != nil {
		return 0, err
	}
	d := time.Since(start)
	vm.Console().SendLine("poweroff")
	vm.Wait()
	return d, nil
}
