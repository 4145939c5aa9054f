package ixgbe

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe/bench"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// forwarder is what the benchmark forwards through: the driver itself, its
// proxy, or a shadow.
type forwarder interface {
	RxBatch(uint16, rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error)
	TxBatch(uint16, rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error)
}

// benchRig is a model generating 60-byte frames into every free RX
// descriptor and sinking every TX frame, processed synchronously on the
// driver's tail writes, and a driver over it with 512-entry rings.
func benchRig(b *testing.B, how string) (*model.Model, forwarder, *rref.Account) {
	m := model.New(model.Config{Queues: 1})
	cfg := Config{RingSize: 512}
	var f forwarder
	var heap *rref.Account
	if how == "driver" {
		d, err := Open(m, cfg, Hooks{})
		if err != nil {
			b.Fatal(err)
		}
		f, heap = NewNIC(nil, d), testHeap(b)
	} else {
		mgr, d, nic := domainNIC(b, m, cfg)
		f, heap = nic, mgr.Kernel().Heap()
		if how == "shadow" {
			g, err := shadow.New(mgr, d, shadow.Policy{})
			if err != nil {
				b.Fatal(err)
			}
			if f, err = domain.Connect[idl.Net](mgr.Kernel(), g); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.Capture(false)
	m.Generate(0, frame(0, 60, nil))
	return m, f, heap
}

// BenchmarkIxgbeForward forwards 60-byte frames from RX queue 0 to TX queue
// 0 against the synchronous model: per batch one RxBatch (DD polled in
// memory, one RDT write, on which the model refills the ring) and one
// TxBatch (one TDT write, on which the model takes the frames and writes
// DD back). driver calls the domain's NIC directly (no crossing), proxy
// goes through the generated proxy from another domain (the kernel's), and
// shadow through a shadow. model is the model's own work for the same
// packets, driven by a stub that re-arms the descriptors (see modelOnly);
// driver-ns/pkt is ns/pkt minus it.
func BenchmarkIxgbeForward(b *testing.B) {
	for _, how := range []string{"driver", "proxy", "shadow"} {
		for _, batch := range []int{1, 8, 32, 256} {
			b.Run(fmt.Sprintf("%s/batch%d", how, batch), func(b *testing.B) {
				m, f, heap := benchRig(b, how)
				q := buffers(heap, batch)
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				b.ReportAllocs()
				b.ResetTimer()
				pkts := 0
				for b.Loop() {
					var err error
					var n, k int
					if q, n, err = f.RxBatch(0, q); err != nil || n != batch {
						b.Fatalf("RxBatch %d of %d: %v", n, batch, err)
					}
					if q, k, err = f.TxBatch(0, q); err != nil || k != n {
						b.Fatalf("TxBatch %d of %d: %v", k, n, err)
					}
					pkts += k
				}
				b.StopTimer()
				runtime.ReadMemStats(&ms1)
				ns := float64(b.Elapsed().Nanoseconds()) / float64(pkts)
				b.ReportMetric(ns, "ns/pkt")
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(pkts), "allocs/pkt")
				if how == "driver" {
					mns := modelOnly(b, batch, 60, min(pkts, 2_000_000))
					b.ReportMetric(mns, "model-ns/pkt")
					b.ReportMetric(ns-mns, "driver-ns/pkt")
				}
				if c := m.Counters(); c.Sent < uint64(pkts) {
					b.Fatalf("model sent %d of %d", c.Sent, pkts)
				}
			})
		}
	}
}

// modelOnly measures the model's own cost per packet of size bytes: a fresh model and
// driver, then a stub in place of the driver's fast path that only re-arms
// each descriptor (two stores per RX descriptor, three per TX one: what the
// model needs to take them again) and writes RDT and TDT once per batch of
// batch packets; no DD polling, no copies, no RRefs. The stub's stores are
// counted as the model's, so driver-ns/pkt is, if anything, understated by
// a few stores per packet.
func modelOnly(b *testing.B, batch, size, pkts int) float64 {
	m := model.New(model.Config{Queues: 1})
	d, err := Open(m, Config{RingSize: 512}, Hooks{})
	if err != nil {
		b.Fatal(err)
	}
	m.Capture(false)
	m.Generate(0, frame(0, size, nil))
	rx, tx := d.rx[0], d.tx[0]
	ri, ti := 0, 0
	start := time.Now()
	for done := 0; done < pkts; done += batch {
		for range batch {
			rx.arm(ri)
			if ri++; ri == rx.n {
				ri = 0
			}
			off := ti * descSize
			tx.desc.Put64(off, tx.phys[ti])
			tx.desc.Put32(off+8, txCmd|uint32(size))
			tx.desc.Put32(off+12, uint32(size)<<txPaylenShift)
			if ti++; ti == tx.n {
				ti = 0
			}
		}
		rx.regs.Write32(rx.tail, uint32(rx.prev(ri)))
		tx.regs.Write32(tx.tail, uint32(ti))
	}
	el := time.Since(start)
	if c := m.Counters(); c.Sent < uint64(pkts) || len(m.Errors()) > 0 {
		b.Fatalf("model-only loop: sent %d of %d; %v", c.Sent, pkts, m.Errors())
	}
	return float64(el.Nanoseconds()) / float64(pkts)
}

// The benchnet core loop against the model, briefly.
func TestBenchForward(t *testing.T) {
	m := model.New(model.Config{Queues: 1})
	mgr, _, nic := domainNIC(t, m, Config{RingSize: 512})
	m.Capture(false)
	m.Generate(0, frame(0, 60, nil))
	rs, err := bench.Forward(mgr.Kernel().Heap(), nic, bench.Options{Duration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var sb fmtBuilder
	if err := bench.WriteTable(&sb, rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", sb)
	for _, r := range rs {
		if r.Forwarded == 0 || r.Mpps() <= 0 {
			t.Errorf("batch %d: %+v", r.Batch, r)
		}
	}
}

type fmtBuilder struct{ b []byte }

func (f *fmtBuilder) Write(p []byte) (int, error) { f.b = append(f.b, p...); return len(p), nil }
func (f fmtBuilder) String() string               { return string(f.b) }
