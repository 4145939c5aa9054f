package virtionet

import (
	"fmt"
	"testing"
)

// memRegs is a register window in memory that counts writes: the notify
// region of a Device on fake devices.
type memRegs struct {
	words  []uint32
	writes int
}

func (m *memRegs) Len() int                  { return 4 * len(m.words) }
func (m *memRegs) Read32(off int) uint32     { return m.words[off/4] }
func (m *memRegs) Write32(off int, v uint32) { m.words[off/4] = v; m.writes++ }

// memDevice is a Device on in-memory queues of size descriptors, with
// the fake device side of each: what the driver costs, without a device.
func memDevice(tb testing.TB, size int) (*Device, *fakeDevice, *fakeDevice, *memRegs) {
	tb.Helper()
	regs := &memRegs{words: make([]uint32, 1024)}
	d := &Device{t: &transport{notify: region{regs: regs, len: 4096}, notifyMul: 4}, mac: testMAC}
	d.rx, d.tx = testQueue(tb, size, true), testQueue(tb, size, false)
	d.tx.notifyAt = 4
	for _, b := range d.rx.bufs {
		b.CopyIn(hdrLen, testMAC[:])
	}
	for {
		id, ok := d.rx.take()
		if !ok {
			break
		}
		d.rx.add(id, bufSize)
	}
	d.rx.publish()
	rx := &fakeDevice{q: d.rx, held: make([]uint32, 0, size)}
	tx := &fakeDevice{q: d.tx, held: make([]uint32, 0, size)}
	return d, rx, tx, regs
}

// Each batch writes the available index once and notifies at most once,
// and not at all when the device says it polls.
func TestOneNotificationPerBatch(t *testing.T) {
	d, _, txDev, regs := memDevice(t, 64)
	heap := testHeap(t)
	pkts := packets(heap, 32)
	fill := func() {
		for range pkts.Len() {
			r, _ := pkts.PopFront()
			r.Get().Len = 60
			pkts.PushBack(r)
		}
	}
	fill()
	pkts, n, err := d.TxBatch(0, pkts)
	if err != nil || n != 32 || regs.writes != 1 || regs.words[1] != txQueue || d.tx.avail.Get16(2) != 32 {
		t.Fatalf("batch of 32: %d sent, %v, %d notifications, avail idx %d", n, err, regs.writes, d.tx.avail.Get16(2))
	}
	txDev.noNotify = true
	txDev.take()
	txDev.complete(32, 0)
	fill()
	if pkts, n, _ = d.TxBatch(0, pkts); n != 32 || regs.writes != 1 {
		t.Errorf("with NO_NOTIFY: %d sent, %d notifications", n, regs.writes)
	}
	if _, _, err := d.TxBatch(0, pkts); err != nil || regs.writes != 1 {
		t.Errorf("an empty batch notified: %d", regs.writes)
	}
}

// BenchmarkDriver is the driver's cost per packet for batches of each
// size, against the in-memory fake device (whose own work, a few loads and
// stores per packet, is included): 60-byte frames copied in or out of DMA
// buffers, ring updates, one index write per batch, no notification (the
// fake device polls). The numbers are the driver's share of a packet's
// cost; QEMU's virtio-net itself costs microseconds per packet.
func BenchmarkDriver(b *testing.B) {
	for _, batch := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("tx-%d", batch), func(b *testing.B) {
			d, _, dev, _ := memDevice(b, 256)
			dev.noNotify = true
			heap := testHeap(b)
			pkts := packets(heap, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for range batch {
					r, _ := pkts.PopFront()
					r.Get().Len = 60
					pkts.PushBack(r)
				}
				pkts, _, _ = d.TxBatch(0, pkts)
				dev.take()
				dev.complete(len(dev.held), 0)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/pkt")
		})
		b.Run(fmt.Sprintf("rx-%d", batch), func(b *testing.B) {
			d, dev, _, _ := memDevice(b, 256)
			dev.noNotify = true
			heap := testHeap(b)
			bufs := packets(heap, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dev.take()
				dev.complete(batch, hdrLen+60)
				var n int
				bufs, n, _ = d.RxBatch(0, bufs)
				if n != batch {
					b.Fatalf("received %d of %d", n, batch)
				}
				for range batch {
					r, _ := bufs.PopFront()
					r.Get().Len = 0
					bufs.PushBack(r)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/pkt")
		})
	}
}
