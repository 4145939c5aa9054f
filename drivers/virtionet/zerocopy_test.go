package virtionet

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// cellPackets is a deque of n free cells of pool.
func cellPackets(tb testing.TB, pool hw.CellPool[idl.Packet], heap *rref.Account, n int) rref.Deque[idl.Packet] {
	tb.Helper()
	q := rref.NewDeque[idl.Packet](heap, n)
	for range n {
		c, ok := pool.Get(heap)
		if !ok {
			tb.Fatal("packet pool empty")
		}
		q.PushBack(c)
	}
	return q
}

// QEMU's virtio-net with a packet pool: frames of every size arrive whole
// in cells the device wrote (through the header + Data chains), around the
// queues several times; buffers on the Go heap are exchanged for cells
// (frames over DefaultCopyBreak) or copied into; frames sent leave exact,
// a long one's TX chain pointing at the caller's own cell.
func TestZeroCopyQEMU(t *testing.T) {
	r := newRig(t, true)
	pool, err := dma.NewCellPool[idl.Packet]("virtio test", r.f.DMAAllocator(), 8+32+8)
	if err != nil {
		t.Fatal(err)
	}
	heap := testHeap(t)
	d, err := Open(r.f, Config{QueueSize: 8}, Hooks{Packets: pool, Heap: heap})
	if err != nil {
		t.Fatal(err)
	}
	if d.rx.slots != 4 || d.tx.slots != 4 {
		t.Fatalf("slots %d/%d, want 4 in a queue of 8 descriptors", d.rx.slots, d.tx.slots)
	}
	sizes := []int{60, 100, 1514, 1000, 64, 777}
	seq := 0
	for round := range 3 { // 6 frames a round through 4 slots
		var want [][]byte
		for _, n := range sizes {
			seq++
			f := frame(testMAC, seq, n)
			r.inject(t, f)
			want = append(want, f)
		}
		got := receive(t, d, heap, len(want)) // heap buffers: exchanged
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("round %d: frame %d: %d bytes %x.., want %d bytes %x..", round, i, len(got[i]), got[i][:16], len(want[i]), want[i][:16])
			}
		}
	}

	// Cells in, the device's cells out.
	bufs := cellPackets(t, pool, heap, 4)
	f := frame(testMAC, 4242, 1514)
	r.inject(t, f)
	posted := slices.Clone(d.rx.phys)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if bufs, n, err = d.RxBatch(0, bufs); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no frame in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	c, _ := bufs.PopFront()
	at, ok := pool.Phys(c, dataOff)
	if !ok || !slices.Contains(posted, at) || !bytes.Equal(c.Get().Data[:c.Get().Len], f) {
		t.Fatalf("received into the cell at %#x (pool cell %v), posted %#x; frame ok %v", at, ok, posted, bytes.Equal(c.Get().Data[:c.Get().Len], f))
	}

	// The caller's cell goes out as it is.
	out := frame([6]byte{2, 0, 0, 0, 0, 2}, 77, 1200)
	c.Get().Len = uint16(copy(c.Get().Data[:], out))
	kept := c
	bufs.PushFront(c)
	slot := d.tx.next & (d.tx.size - 1)
	bufs, n, err := d.TxBatch(0, bufs)
	if err != nil || n != 1 {
		t.Fatalf("TxBatch: %d %v", n, err)
	}
	if back, _ := bufs.PopFront(); back.Get().Len != 0 {
		t.Error("the buffer the caller got back for the one it sent is not free")
	}
	head := d.tx.avail.Get16(ringHeaderLen + 2*int(slot))
	if a := d.tx.desc.Get64((int(head) + 1) * descSize); a != at {
		t.Errorf("the TX chain's data descriptor points at %#x, the caller's cell is at %#x", a, at)
	}
	if kept.Valid() {
		t.Error("the caller's handle to the cell it sent is still valid")
	}
	if got := r.capture(t); !bytes.Equal(got, out) {
		t.Errorf("on the wire: %d bytes %x.., want %d bytes", len(got), got[:16], len(out))
	}
}

// BenchmarkDriverPath is the driver's cost per packet against the
// in-memory fake device (which moves no data: what is measured is the
// driver's own work), batch 32, queues of 256 descriptors, 60- and
// 1514-byte frames, copying (buffers on the Go heap, no pool), exchanging
// cells of a packet pool (zerocopy, CopyBreak -1; promiscuous, since the
// fake device writes no destination address) or both (copybreak: the
// default CopyBreak).
func BenchmarkDriverPath(b *testing.B) {
	for _, path := range []string{"rx", "tx"} {
		for _, size := range []int{60, 1514} {
			for _, mode := range []string{"copy", "zerocopy", "copybreak"} {
				b.Run(fmt.Sprintf("%s/%dB/%s", path, size, mode), func(b *testing.B) {
					benchDriverPath(b, path, size, mode)
				})
			}
		}
	}
}

func benchDriverPath(b *testing.B, path string, size int, mode string) {
	const batch = 32
	d, rxDev, txDev, _ := memDevice(b, 256)
	heap := testHeap(b)
	bufs := packets(heap, batch)
	if mode != "copy" {
		d.cfg.CopyBreak = -1
		if mode == "copybreak" {
			d.cfg.CopyBreak = DefaultCopyBreak
		}
		a := dma.NewContiguous(make([]byte, 4<<20), 1<<32)
		pool, err := dma.NewCellPool[idl.Packet]("bench", a, 256+batch)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pool.Retire() }) // fails, keeping 4 MiB, while the kernel's account holds cells
		if d.rx, err = newCellQueue(a, rxQueue, 256, true, pool, heap); err != nil {
			b.Fatal(err)
		}
		if d.tx, err = newCellQueue(a, txQueue, 256, false, pool, heap); err != nil {
			b.Fatal(err)
		}
		d.tx.notifyAt = 4
		for {
			j, ok := d.rx.take()
			if !ok {
				break
			}
			d.rx.post(j)
		}
		d.rx.publish()
		d.promisc.Store(true)
		rxDev.q, txDev.q = d.rx, d.tx
		bufs = cellPackets(b, pool, heap, batch)
	}
	rxDev.noNotify, txDev.noNotify = true, true
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if path == "rx" {
			rxDev.take()
			rxDev.complete(batch, uint32(hdrLen+size))
			var n int
			bufs, n, _ = d.RxBatch(0, bufs)
			if n != batch {
				b.Fatalf("received %d of %d", n, batch)
			}
			for i := range batch {
				bufs.At(i).Len = 0
			}
		} else {
			for i := range batch {
				bufs.At(i).Len = uint16(size)
			}
			var n int
			bufs, n, _ = d.TxBatch(0, bufs)
			if n != batch {
				b.Fatalf("sent %d of %d", n, batch)
			}
			txDev.take()
			txDev.complete(len(txDev.held), 0)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/pkt")
}

// The driver as a domain with a packet pool, behind a shadow: killed with
// cells in its queues, it holds none afterwards and they are all back in
// the pool; the next instance takes its queues' cells again and frames
// move; nothing leaks.
func TestZeroCopyDomainRestart(t *testing.T) {
	r := newRig(t, true)
	pool, err := dma.NewCellPool[idl.Packet]("virtio restart", r.f.DMAAllocator(), 16+64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pool.Retire(); err != nil { // after the manager's close, below
			t.Error(err)
		}
	})
	m := domain.NewManager()
	t.Cleanup(m.Close)
	d, err := m.Create(Kind, domain.Name("virtio-net"), domain.GrantDevice(GrantPCI, Function(r.f)),
		domain.GrantDevice(GrantConfig, Config{QueueSize: 16}), domain.GrantDevice(GrantPackets, hw.CellPool[idl.Packet](pool)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := shadow.New(m, d, shadow.Policy{Retries: 3, Restarts: 10, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	nic, err := domain.Connect[idl.Net](m.Kernel(), g, domain.Deadline(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	heap := m.Kernel().Heap()
	roundTrip := func(seq int) {
		t.Helper()
		r.roundTrip(t, nic, heap, seq, 1000+seq, 900+seq) // over CopyBreak: exchanged
	}
	running := pool.Pool().Cap() - 2*8 // two queues of 8 slots
	for i := range 3 {
		roundTrip(i)
		if free := pool.Pool().Free(); free != running {
			t.Fatalf("round %d: %d cells free, want %d (all but the queues')", i, free, running)
		}
		cur := g.Current()
		m.Kill(cur)
		if held := rref.CountByOwner()[uint32(cur.ID())]; held != 0 {
			t.Errorf("round %d: the dead instance holds %d cells", i, held)
		}
		if free := pool.Pool().Free(); free != pool.Pool().Cap() {
			t.Errorf("round %d: %d of %d cells back after the kill", i, free, pool.Pool().Cap())
		}
		if _, err := nic.Stats(); err != nil { // the shadow restarts it
			t.Fatal(err)
		}
	}
	roundTrip(3)
	if g.Restarts() != 3 {
		t.Errorf("%d restarts, want 3", g.Restarts())
	}
}
