package netstack_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// cpuTime is the process's user and system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdleCPU measures the CPU two idle stack domains burn (their
// polling threads), with 1 or 100 callers of each blocked in Wait on a
// listener that nobody connects to: the cost of polling without
// interrupts.
// Each op is one second of idling; the metric is CPU time per wall time.
//
//	go test ./services/netstack -run '^$' -bench IdleCPU -benchtime 3x
func BenchmarkIdleCPU(b *testing.B) {
	for _, waiters := range []int{1, 100} {
		b.Run(fmt.Sprintf("waiters-%d", waiters), func(b *testing.B) { idleCPU(b, waiters) })
	}
}

func idleCPU(b *testing.B, waiters int) {
	m := domain.NewManager()
	defer m.Close()
	da, db, err := netstacktest.StartPair(m)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	for i, d := range []*domain.Domain{da, db} {
		in, err := domain.Connect[idl.Inet](m.Kernel(), d)
		if err != nil {
			b.Fatal(err)
		}
		l, err := in.Listen(uint16(7000+i), 4)
		if err != nil {
			b.Fatal(err)
		}
		for range waiters {
			go func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					if _, err := in.Wait(l, idl.SockReadable, int64(100*time.Millisecond)); err != nil {
						return
					}
				}
			}()
		}
	}
	time.Sleep(100 * time.Millisecond) // past the start
	b.ResetTimer()
	c0, w0 := cpuTime(b), time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	cpu, wall := cpuTime(b)-c0, time.Since(w0)
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
}
