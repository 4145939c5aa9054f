package faultcampaign

import (
	"flag"
	"fmt"
	"testing"
	"time"
)

// The full campaign, for BENCHMARKS.md:
//
//	go test -run '^$' -bench Campaign -benchtime 1x -timeout 2h ./internal/faultcampaign/ -args -campaign.faults 100000
//
// One op is one whole campaign; the table is in the log.
var (
	campaignFaults = flag.Int("campaign.faults", 10000, "faults per campaign in BenchmarkCampaign")
	campaignIXGBE  = flag.Int("campaign.ixgbe", 0, "faults for ixgbe in BenchmarkCampaign (0: campaign.faults); each restart waits 10 ms")
	campaignSeed   = flag.Uint64("campaign.seed", 1, "seed of BenchmarkCampaign")
)

// nvmeDeadline is the NVMe client's deadline: each register access is a
// round trip to QEMU, and a loaded host stalls those for milliseconds.
const nvmeDeadline = 200 * time.Millisecond

func BenchmarkCampaign(b *testing.B) {
	targets := []struct {
		name     string
		target   func(b *testing.B) Target
		faults   int
		deadline time.Duration
	}{
		{"ramdisk", func(*testing.B) Target { return &RAMDisk{} }, *campaignFaults, 0},
		{"nvme", func(b *testing.B) Target { return nvmeTarget(b) }, *campaignFaults, nvmeDeadline},
		{"ixgbe", func(*testing.B) Target { return &IXGBE{} }, cmp(*campaignIXGBE, *campaignFaults), 0},
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			for b.Loop() {
				t := tg.target(b)
				r, err := Run(t, Config{Faults: tg.faults, Deadline: tg.deadline, Seed: *campaignSeed, Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
				if err != nil {
					b.Fatal(err)
				}
				extra := ""
				if x, ok := t.(*IXGBE); ok {
					extra = fmt.Sprintf("packets lost with a driver instance: %d\n", x.Lost())
				}
				// Straight to the output: a benchmark's log keeps 10 lines.
				fmt.Printf("\n%s%s\n", r.Table(), extra)
				if err := r.Check(); err != nil {
					b.Error(err)
				}
				b.ReportMetric(float64(r.FiredTotal())/r.Elapsed.Seconds(), "faults/s")
			}
		})
	}
}

func cmp(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}
