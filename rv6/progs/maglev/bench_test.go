package maglev_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	lb "github.com/rlgo/redleaf/apps/maglev"
	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
)

const benchBackends = "be0=02:be:00:00:00:00,be1=02:be:00:00:00:01,be2=02:be:00:00:00:02/2,be3=02:be:00:00:00:03"

// BenchmarkMaglevProgram is the maglev program, an Rv6 process calling
// the two ixgbe domains through their shadows, against the same loop
// (apps/maglev.Ports) calling the two drivers directly as Go values, on
// the same 82599 model: port 0's model generates one client's 60-byte
// frame into every free RX descriptor, port 1's takes what is sent; batch
// 32. For the program, b.N packets are one run of `maglev -n b.N` and the
// rate is the program's own (its forwarding loop, from its first batch);
// the process's start is outside it.
func BenchmarkMaglevProgram(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		mgr := domain.NewManager()
		b.Cleanup(mgr.Close)
		var nets [2]idl.Net
		var ms [2]*model.Model
		for i := range nets {
			ms[i] = model.New(model.Config{Queues: 1, RAM: 4 << 20, MAC: portMAC(i)})
			d, err := ixgbe.Open(ms[i], ixgbe.Config{RingSize: 512}, ixgbe.Hooks{})
			if err != nil {
				b.Fatal(err)
			}
			nets[i] = ixgbe.NewNIC(nil, d)
		}
		ms[1].Capture(false)
		ms[0].Generate(0, clientFrame(1))
		bs, _ := lb.ParseBackends(benchBackends)
		tb, _ := lb.NewTable(0, bs)
		link, _ := nets[1].LinkStatus()
		p := lb.NewPorts(lb.NewBalancer(tb, lb.NewTracker(1<<16, time.Minute), link.MAC), mgr.Kernel().Heap(), nets[0], nets[1], 32)
		defer p.Close()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for p.Sent < uint64(b.N) {
			if _, err := p.Step(time.Since(start)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(p.Sent)/time.Since(start).Seconds()/1e6, "Mpps")
	})
	b.Run("program", func(b *testing.B) {
		r := newRig(b)
		r.m[1].Capture(false)
		r.m[0].Generate(0, clientFrame(1))
		b.ResetTimer()
		out, st := r.s.Run(b, "maglev", "-b", benchBackends, "-n", strconv.Itoa(b.N), "-batch", "32")
		b.StopTimer()
		m := regexp.MustCompile(`maglev: forwarded (\d+) packets in \S+: (\S+) Mpps`).FindStringSubmatch(out)
		if !st.Exited || st.Status != 0 || m == nil {
			b.Fatalf("maglev: %+v\n%s", st, out)
		}
		n, _ := strconv.Atoi(m[1])
		mpps, _ := strconv.ParseFloat(m[2], 64)
		if n < b.N {
			b.Fatalf("forwarded %d of %d", n, b.N)
		}
		b.ReportMetric(mpps, "Mpps")
		if testing.Verbose() {
			fmt.Println(out)
		}
	})
}
