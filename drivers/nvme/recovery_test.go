package nvme

import (
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/blockbench"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// guarded starts the NVMe domain on the rig's namespace 2 behind a shadow
// and returns the kernel's capability through it.
func guarded(tb testing.TB, r *rig) (*domain.Manager, *faults.Injector, *shadow.Guard, idl.BlockDevice) {
	tb.Helper()
	m := domain.NewManager()
	tb.Cleanup(m.Close)
	inj := faults.New()
	d, err := m.Create(Kind, domain.GrantDevice(GrantPCI, hw.PCIDevice(r.f)), domain.GrantDevice(GrantConfig, Config{NSID: 2, Depth: 64}),
		domain.GrantDevice(GrantFaults, inj.Device()))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := shadow.New(m, d, shadow.Policy{Restarts: 1 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	disk, err := domain.Connect[idl.BlockDevice](m.Kernel(), g)
	if err != nil {
		tb.Fatal(err)
	}
	return m, inj, g, disk
}

// BenchmarkFaultToServing is the time from a driver fault to the driver
// serving again: each op arms a fault in the NVMe domain and times one
// 4 KiB read through the shadow, which meets the fault, has the domain
// re-created (a controller reset and bring-up) and retries the read.
// ns/op is that time; a plain read's time is reported for comparison.
func BenchmarkFaultToServing(b *testing.B) {
	for _, kind := range []string{"panic", "kill"} {
		b.Run(kind, func(b *testing.B) {
			r := newRig(b)
			m, inj, g, disk := guarded(b, r)
			heap := m.Kernel().Heap()
			one := blockbench.Spec{Op: blockbench.Read, Pattern: blockbench.Random, Batch: 1, Count: 1,
				Region: blockbench.Region{Blocks: ns2Size / 4096}}
			plain, err := blockbench.Run(disk, heap, "nvme", blockbench.Spec{Op: blockbench.Read, Pattern: blockbench.Random, Batch: 1, Count: 200, Region: one.Region})
			if err != nil {
				b.Fatal(err)
			}
			var worst time.Duration
			b.ResetTimer()
			for b.Loop() {
				if kind == "panic" {
					inj.Arm(Kind, faults.Panic)
				} else {
					m.Kill(g.Current())
				}
				t0 := time.Now()
				if _, err := blockbench.Run(disk, heap, "nvme", one); err != nil {
					b.Fatal(err)
				}
				worst = max(worst, time.Since(t0))
			}
			b.ReportMetric(float64(plain.Percentile(50))/1e3, "plain-read-p50-us")
			b.ReportMetric(float64(worst)/1e6, "worst-ms")
		})
	}
}

// BenchmarkThroughputUnderFaults is block-level throughput (batches of 32
// random 4 KiB reads or writes) through the shadow with no faults and with
// a driver panic injected every second, for as long as -benchtime says
// (use 10s or more: each op is a second of I/O). It reports IOPS and the
// restarts it took.
func BenchmarkThroughputUnderFaults(b *testing.B) {
	for _, op := range []blockbench.Op{blockbench.Read, blockbench.Write} {
		for _, every := range []time.Duration{0, time.Second} {
			name := op.String() + "/no-faults"
			if every > 0 {
				name = op.String() + "/fault-every-" + every.String()
			}
			b.Run(name, func(b *testing.B) {
				r := newRig(b)
				m, inj, g, disk := guarded(b, r)
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					if every == 0 {
						return
					}
					t := time.NewTicker(every)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							inj.Arm(Kind, faults.Panic)
						}
					}
				}()
				var ios int
				var elapsed time.Duration
				for b.Loop() {
					res, err := blockbench.Run(disk, m.Kernel().Heap(), "nvme", blockbench.Spec{Op: op, Pattern: blockbench.Random, Batch: 32,
						Region: blockbench.Region{Blocks: ns2Size / 4096}, Duration: time.Second, Seed: uint64(ios)})
					if err != nil {
						b.Fatal(err)
					}
					ios += res.IOs
					elapsed += res.Elapsed
				}
				close(stop)
				<-done
				b.ReportMetric(float64(ios)/elapsed.Seconds(), "IOPS")
				b.ReportMetric(float64(g.Restarts()), "restarts")
			})
		}
	}
}
