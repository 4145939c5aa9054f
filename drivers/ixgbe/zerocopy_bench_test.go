package ixgbe

import (
	"fmt"
	"testing"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// BenchmarkIxgbePath measures RX alone, TX alone and forwarding (RX then
// TX of the same batch) on the synchronous model, driver called directly,
// 512-entry rings, batch 32 and 256, for 60- and 1514-byte frames, with
// the caller's buffers on the Go heap (copy: the driver copies each frame
// between its ring's buffers and the caller's) or from the NIC's DMA packet
// pool (zerocopy: the driver exchanges cells, CopyBreak -1; copybreak: the
// default CopyBreak, frames up to DefaultCopyBreak bytes copied). rx drops what it receives (Len
// 0), tx sends buffers whose Len it sets (their bytes are whatever the
// cell holds), fwd sends what it received; for fwd the model's own cost
// (modelOnly) and the rest, the driver's, are reported too.
func BenchmarkIxgbePath(b *testing.B) {
	for _, path := range []string{"rx", "tx", "fwd"} {
		for _, size := range []int{60, 1514} {
			for _, batch := range []int{32, 256} {
				for _, mode := range benchModes {
					b.Run(fmt.Sprintf("%s/%dB/batch%d/%s", path, size, batch, mode), func(b *testing.B) {
						benchPath(b, path, size, batch, mode)
					})
				}
			}
		}
	}
}

func benchPath(b *testing.B, path string, size, batch int, mode string) {
	m := model.New(model.Config{Queues: 1, RAM: 4 << 20})
	hooks, cfg := Hooks{}, Config{RingSize: 512}
	if mode != "copy" {
		pool, err := m.Packets("bench", 2*512+batch)
		if err != nil {
			b.Fatal(err)
		}
		retire(b, pool, false)
		hooks.Packets = pool
	}
	heap := testHeap(b)
	hooks.Heap = heap
	if mode == "zerocopy" {
		cfg.CopyBreak = -1
	}
	d, err := Open(m, cfg, hooks)
	if err != nil {
		b.Fatal(err)
	}
	nic := NewNIC(nil, d)
	m.Capture(false)
	if path != "tx" {
		m.Generate(0, frame(0, size, nil))
	}
	q := benchBuffers(b, hooks.Packets, heap, batch, mode)
	b.ReportAllocs()
	b.ResetTimer()
	pkts := 0
	for b.Loop() {
		var n int
		if path != "tx" {
			if q, n, err = nic.RxBatch(0, q); err != nil || n != batch {
				b.Fatalf("RxBatch %d of %d: %v", n, batch, err)
			}
		}
		switch path {
		case "rx":
			for i := range n {
				q.At(i).Len = 0
			}
		case "tx":
			for i := range batch {
				q.At(i).Len = uint16(size)
			}
		}
		if path != "rx" {
			if q, n, err = nic.TxBatch(0, q); err != nil || n != batch {
				b.Fatalf("TxBatch %d of %d: %v", n, batch, err)
			}
		}
		pkts += n
	}
	b.StopTimer()
	ns := float64(b.Elapsed().Nanoseconds()) / float64(pkts)
	b.ReportMetric(ns, "ns/pkt")
	if path == "fwd" {
		// The model's share, as BenchmarkIxgbeForward measures it.
		mns := modelOnly(b, batch, size, min(pkts, 1_000_000))
		b.ReportMetric(mns, "model-ns/pkt")
		b.ReportMetric(ns-mns, "driver-ns/pkt")
	}
	if errs := m.Errors(); len(errs) > 0 {
		b.Fatalf("model: %v", errs)
	}
}

var benchModes = []string{"copy", "zerocopy", "copybreak"}

func benchBuffers(b *testing.B, pool hw.CellPool[idl.Packet], heap *rref.Account, n int, mode string) rref.Deque[idl.Packet] {
	switch mode {
	case "copy":
		return buffers(heap, n)
	case "zerocopy", "copybreak":
		q := rref.NewDeque[idl.Packet](heap, n)
		for range n {
			c, ok := pool.Get(heap)
			if !ok {
				b.Fatal("pool empty")
			}
			q.PushBack(c)
		}
		return q
	}
	b.Fatalf("mode %s", mode)
	return rref.Deque[idl.Packet]{}
}
