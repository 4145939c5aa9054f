package ixgbe

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// N random frames (random lengths and payloads) arrive; the driver hands
// them out exactly, in order, and the counters agree.
func TestRxRandom(t *testing.T) {
	m, d := open(t, model.Config{}, Config{RingSize: 128})
	heap := testHeap(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 3000
	var sent [][]byte
	var octets uint64
	for i := range n {
		f := frame(uint32(i), 60+rng.IntN(idl.MaxFrame-59), rng)
		sent = append(sent, f)
		octets += uint64(len(f) + 4)
	}
	var got [][]byte
	q := buffers(heap, 32)
	for i := 0; len(got) < n; i++ {
		for len(sent) > 0 && rng.IntN(3) > 0 { // arrivals between polls, a few at a time
			if !m.Inject(0, sent[0]) {
				t.Fatalf("frame %d not accepted", n-len(sent))
			}
			sent = sent[1:]
		}
		if i > 100*n {
			t.Fatalf("%d of %d frames after %d polls", len(got), n, i)
		}
		if _, err := d.Receive(0, q); err != nil {
			t.Fatal(err)
		}
		got = drain(q, got)
	}
	rng = rand.New(rand.NewPCG(1, 2))
	for i, g := range got {
		want := frame(uint32(i), 60+rng.IntN(idl.MaxFrame-59), rng)
		if !bytes.Equal(g, want) {
			t.Fatalf("frame %d: %d bytes (seq %d), want %d bytes, or payload differs", i, len(g), seqOf(g), len(want))
		}
	}
	s := d.Stats()
	if s.RxPackets != n || s.RxBytes != octets || s.RxErrors != 0 || s.RxMissed != 0 {
		t.Errorf("stats %+v; want %d packets, %d bytes", s, n, octets)
	}
	if s2 := d.Stats(); s2 != s {
		t.Errorf("stats changed without traffic: %+v then %+v", s, s2)
	}
}

// The TX descriptors the driver writes: advanced data descriptors with the
// buffer's address, EOP|IFCS|RS|DEXT, the length in DTALEN and PAYLEN; DD
// comes back; the frames on the wire are the ones sent.
func TestTxDescriptors(t *testing.T) {
	m, d := open(t, model.Config{Async: true}, Config{RingSize: 16})
	heap := testHeap(t)
	q := buffers(heap, 8)
	var frames [][]byte
	for i := range 8 {
		frames = append(frames, frame(uint32(i), 60+i*200, nil))
	}
	fill(q, frames)
	n, err := d.Send(0, q)
	if err != nil || n != 8 {
		t.Fatalf("Send: %d %v", n, err)
	}
	for range q.Len() {
		r, _ := q.PopFront()
		if r.Get().Len != 0 {
			t.Fatal("a sent buffer is not free")
		}
		q.PushBack(r)
	}
	tq := d.tx[0]
	for i, f := range frames {
		off := i * descSize
		addr, ctl, ol := tq.desc.Get64(off), tq.desc.Get32(off+8), tq.desc.Get32(off+12)
		want := uint32(3<<20 | 1<<24 | 1<<25 | 1<<27 | 1<<29 | len(f))
		if addr != tq.phys[i] || ctl != want || ol != uint32(len(f))<<14 {
			t.Errorf("descriptor %d: addr %#x ctl %#08x olinfo %#08x; want %#x %#08x %#08x", i, addr, ctl, ol, tq.phys[i], want, len(f)<<14)
		}
		if b := tq.bufs[i].Bytes()[:len(f)]; !bytes.Equal(b, f) {
			t.Errorf("descriptor %d: buffer differs", i)
		}
	}
	if tdt := m.Peek(model.TDT(0)); tdt != 8 {
		t.Errorf("TDT %d, want 8 (one write per batch)", tdt)
	}
	m.Step() // the model's goroutine would do this
	for i := range frames {
		if st := tq.desc.Load32(i*descSize + 12); st&txStatDD == 0 {
			t.Errorf("descriptor %d: no DD after the model ran", i)
		}
	}
	if free := tq.reclaim(); free != 15 {
		t.Errorf("%d free descriptors after reclaim, want 15", free)
	}
	got := m.Captured(0)
	if len(got) != len(frames) {
		t.Fatalf("%d frames on the wire, want %d", len(got), len(frames))
	}
	for i := range got {
		if !bytes.Equal(got[i], frames[i]) {
			t.Errorf("frame %d differs on the wire", i)
		}
	}
	if s := d.Stats(); s.TxPackets != 8 {
		t.Errorf("TxPackets %d", s.TxPackets)
	}
	// Too long: refused, reported, counted; the others still go.
	fill(q, [][]byte{frame(100, 60, nil)})
	r, _ := q.PopFront() // the frame
	q.PushBack(r)
	r, _ = q.PopFront() // a free buffer, made too long
	r.Get().Len = idl.MaxFrame + 1
	q.PushBack(r)
	if n, err := d.Send(0, q); n != 1 || err == nil {
		t.Errorf("Send with a long frame: %d %v", n, err)
	}
	if s := d.Stats(); s.TxErrors != 1 {
		t.Errorf("TxErrors %d", s.TxErrors)
	}
}

// Every ring size from 8 to 4096: traffic through MAC loopback, in batches
// of varying sizes, for more than three turns of the rings; frames come
// back in order and intact, on two queues.
func TestRingWrap(t *testing.T) {
	sizes := []int{8, 16, 24, 32, 64, 128, 256, 512, 1000, 1024, 2048, 4096}
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			_, d := open(t, model.Config{RAM: 40 << 20, Queues: 2}, Config{RingSize: size, Queues: 2, Loopback: true, LinkTimeout: 100e6})
			heap := testHeap(t)
			rng := rand.New(rand.NewPCG(uint64(size), 7))
			total := 3*size + 5
			for qid := range 2 {
				out, in := buffers(heap, 256), buffers(heap, 256)
				var next, got int
				for got < total {
					var batch [][]byte
					for range min(1+rng.IntN(min(size, 256)), total-next) {
						batch = append(batch, frame(uint32(next), 60+rng.IntN(200), nil))
						next++
					}
					if left := fill(out, batch); len(left) > 0 {
						next -= len(left)
					}
					if _, err := d.Send(qid, out); err != nil {
						t.Fatal(err)
					}
					for _, f := range drain(out, nil) { // not sent: ring full; sent again later
						next = min(next, int(seqOf(f)))
					}
					if _, err := d.Receive(qid, in); err != nil {
						t.Fatal(err)
					}
					for _, f := range drain(in, nil) {
						if seqOf(f) != uint32(got) || !bytes.Equal(f, frame(uint32(got), len(f), nil)) {
							t.Fatalf("queue %d: frame %d came back as %d (%d bytes)", qid, got, seqOf(f), len(f))
						}
						got++
					}
				}
			}
		})
	}
}

// The receive filters and promiscuous mode: a frame to another MAC or a
// multicast group is received only in promiscuous mode; broadcasts always.
func TestPromisc(t *testing.T) {
	m := model.New(model.Config{})
	mgr, _, nic := domainNIC(t, m, Config{RingSize: 16})
	heap := mgr.Kernel().Heap()
	other := frame(1, 60, nil)
	copy(other, []byte{0x02, 0x99, 0, 0, 0, 1})
	multi := frame(2, 60, nil)
	copy(multi, []byte{0x01, 0x00, 0x5e, 0, 0, 1})
	bcast := frame(3, 60, nil)
	copy(bcast, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if m.Inject(0, other) || m.Inject(0, multi) || !m.Inject(0, bcast) {
		t.Fatal("filters wrong without promiscuous mode")
	}
	if err := nic.SetPromisc(true); err != nil {
		t.Fatal(err)
	}
	if !m.Inject(0, other) || !m.Inject(0, multi) {
		t.Fatal("promiscuous mode did not take")
	}
	q := buffers(heap, 8)
	q, n, err := nic.RxBatch(0, q)
	if err != nil || n != 3 {
		t.Fatalf("RxBatch: %d %v", n, err)
	}
	got := drain(q, nil)
	if seqOf(got[0]) != 3 || seqOf(got[1]) != 1 || seqOf(got[2]) != 2 {
		t.Errorf("received %d %d %d", seqOf(got[0]), seqOf(got[1]), seqOf(got[2]))
	}
	if err := nic.SetPromisc(false); err != nil {
		t.Fatal(err)
	}
	if m.Inject(0, other) {
		t.Error("still promiscuous")
	}
	if q, _, err = nic.RxBatch(5, q); err == nil {
		t.Error("RxBatch on queue 5 of 1 did not fail")
	}
	q.Drop()
}

// Corrupt write-backs (MAC error bit, a length beyond the buffer) are
// dropped and counted, and the ring goes on.
func TestCorruptRx(t *testing.T) {
	for _, sw := range []model.Switches{{CorruptRx: true}, {BadLength: true}} {
		m, d := open(t, model.Config{}, Config{RingSize: 8})
		heap := testHeap(t)
		m.SetSwitches(sw)
		for i := range 20 {
			m.Inject(0, frame(uint32(i), 100, nil))
		}
		q := buffers(heap, 4)
		for range 10 {
			if n, _ := d.Receive(0, q); n != 0 {
				t.Fatalf("%+v: %d corrupt packets handed out", sw, n)
			}
		}
		if s := d.Stats(); s.RxErrors != 20 {
			t.Errorf("%+v: RxErrors %d, want 20", sw, s.RxErrors)
		}
		m.SetSwitches(model.Switches{})
		m.Inject(0, frame(99, 100, nil))
		if n, _ := d.Receive(0, q); n != 1 {
			t.Errorf("%+v: the ring did not recover", sw)
		}
	}
}

// Through the proxy, a forwarding round allocates nothing.
func TestNoAllocation(t *testing.T) {
	m := model.New(model.Config{})
	mgr, _, nic := domainNIC(t, m, Config{RingSize: 512})
	m.Capture(false)
	m.Generate(0, frame(0, 60, nil))
	q := buffers(mgr.Kernel().Heap(), 32)
	allocs := testing.AllocsPerRun(200, func() {
		var err error
		var n int
		if q, n, err = nic.RxBatch(0, q); err != nil || n != 32 {
			t.Fatalf("RxBatch %d %v", n, err)
		}
		if q, n, err = nic.TxBatch(0, q); err != nil || n != 32 {
			t.Fatalf("TxBatch %d %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch", allocs)
	}
}

// The pool of packet buffers returns to its starting count after 10^6
// packets forwarded in batches taken from it and given back each round.
func TestPoolLoop(t *testing.T) {
	packets := 1_000_000
	if testing.Short() {
		packets = 100_000
	}
	m := model.New(model.Config{})
	mgr, _, nic := domainNIC(t, m, Config{RingSize: 512})
	heap := mgr.Kernel().Heap()
	m.Capture(false)
	m.Generate(0, frame(0, 60, nil))
	pool := rref.NewPool[idl.Packet]("packets", 1024)
	start, live := pool.Free(), rref.Live()
	q := rref.NewDeque[idl.Packet](heap, 64)
	done := 0
	for done < packets {
		for range 64 {
			r, ok := pool.Get(heap)
			if !ok {
				t.Fatal("pool empty")
			}
			q.PushBack(r)
		}
		var err error
		var n int
		if q, n, err = nic.RxBatch(0, q); err != nil || n != 64 {
			t.Fatalf("RxBatch %d %v", n, err)
		}
		if q, n, err = nic.TxBatch(0, q); err != nil || n != 64 {
			t.Fatalf("TxBatch %d %v", n, err)
		}
		done += n
		for range 64 {
			r, _ := q.PopFront()
			r.Drop()
		}
	}
	q.Drop()
	if pool.Free() != start || rref.Live() != live {
		t.Errorf("pool %d free, started with %d; rref.Live %d, was %d", pool.Free(), start, rref.Live(), live)
	}
	if c := m.Counters(); c.Sent != uint64(done) {
		t.Errorf("model sent %d, driver forwarded %d", c.Sent, done)
	}
	s, _ := nic.Stats()
	if s.RxPackets < uint64(done) || s.TxPackets != uint64(done) {
		t.Errorf("stats %+v after %d packets", s, done)
	}
}
