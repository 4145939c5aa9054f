package ixgbe

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// The model runs in its own goroutine, frames arrive from a third at
// random times, and DD write-backs come late (0 to 8 model steps, in
// order); the driver forwards everything it receives. Every frame comes
// through, intact and in order, on the wire of the TX side. Run under
// -race: the DMA memory is shared by the driver and the model.
func TestAsyncArrivals(t *testing.T) {
	const n = 3000
	m := model.New(model.Config{Async: true, Seed: 3, FIFO: n})
	m.SetSwitches(model.Switches{DelayDD: 8})
	// Under the race detector the model steps between the driver's calls
	// (see model.Start); without it, during them.
	var gate sync.Locker
	if raceEnabled {
		gate = new(sync.Mutex)
	} else {
		gate = nopLocker{}
	}
	m.Start(gate)
	defer m.Stop()
	d, err := Open(m, Config{RingSize: 64, Queues: 1}, quick)
	if err != nil {
		t.Fatal(err)
	}
	heap := testHeap(t)
	frames := make([][]byte, n)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range frames {
		frames[i] = frame(uint32(i), 60+rng.IntN(idl.MaxFrame-59), rng)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the wire
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 8))
		for i, f := range frames {
			if !m.Inject(0, f) {
				t.Errorf("frame %d refused", i)
				return
			}
			if rng.IntN(16) == 0 {
				time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
			}
		}
	}()
	q := buffers(heap, 32)
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for got < n && time.Now().Before(deadline) {
		gate.Lock()
		k, err := d.Receive(0, q)
		gate.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			time.Sleep(5 * time.Microsecond)
			continue
		}
		for range q.Len() {
			r, _ := q.PopFront()
			if p := r.Get(); p.Len > 0 {
				if !bytes.Equal(p.Data[:p.Len], frames[got]) {
					t.Fatalf("frame %d: got seq %d, %d bytes", got, seqOf(p.Data[:p.Len]), p.Len)
				}
				got++
			}
			q.PushBack(r)
		}
		for { // forward; the TX ring may be full while the model lags
			gate.Lock()
			_, err := d.Send(0, q)
			gate.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if held(q) == 0 {
				break
			}
			time.Sleep(5 * time.Microsecond)
		}
	}
	wg.Wait()
	if got != n {
		t.Fatalf("%d of %d frames received", got, n)
	}
	var wire [][]byte
	for len(wire) < n && time.Now().Before(deadline) {
		wire = append(wire, m.Captured(0)...)
		time.Sleep(time.Millisecond)
	}
	if len(wire) != n {
		t.Fatalf("%d of %d frames on the TX wire", len(wire), n)
	}
	for i := range wire {
		if !bytes.Equal(wire[i], frames[i]) {
			t.Fatalf("TX frame %d differs (seq %d)", i, seqOf(wire[i]))
		}
	}
}

// The NIC domain behind a shadow, with a panic injected twice into it
// while it forwards frames: the shadow re-creates it (the kernel resets
// the device, the new instance brings it up and promiscuous mode is
// replayed), the call that failed is retried, and forwarding resumes.
// Frames in the dead instance's rings and packet buffer are lost: they are
// counted and reported.
func TestRecovery(t *testing.T) {
	m := model.New(model.Config{})
	inj := faults.New()
	mgr, d, _ := domainNIC(t, m, Config{RingSize: 128}, domain.GrantDevice(GrantFaults, inj.Device()))
	g, err := shadow.New(mgr, d, shadow.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	nic, err := domain.Connect[idl.Net](mgr.Kernel(), g)
	if err != nil {
		t.Fatal(err)
	}
	if err := nic.SetPromisc(true); err != nil {
		t.Fatal(err)
	}
	heap := mgr.Kernel().Heap()
	q := buffers(heap, 32)
	var injected, forwarded, seq uint32
	var after []uint32 // forwarded after each fault
	const rounds = 600
	for round := range rounds {
		if round == 200 || round == 400 {
			inj.Arm(Kind, faults.Panic)
			after = append(after, 0)
		}
		for range 16 + round%17 { // a little more than is forwarded: the ring fills
			f := frame(seq, 60+int(seq)%300, nil)
			copy(f, []byte{0x02, 0x77, 0, 0, 0, 1}) // someone else's: needs promiscuous mode
			if m.Inject(0, f) {
				injected++
			}
			seq++
		}
		var k int
		if q, k, err = nic.RxBatch(0, q); err != nil {
			t.Fatalf("round %d: RxBatch: %v; log %v", round, err, g.Log())
		}
		if q, _, err = nic.TxBatch(0, q); err != nil {
			t.Fatalf("round %d: TxBatch: %v", round, err)
		}
		forwarded += uint32(k)
		if len(after) > 0 {
			after[len(after)-1] += uint32(k)
		}
	}
	// What is still in the ring and the packet buffer is not lost.
	for range 100 {
		var k int
		if q, k, err = nic.RxBatch(0, q); err != nil {
			t.Fatal(err)
		}
		if q, _, err = nic.TxBatch(0, q); err != nil {
			t.Fatal(err)
		}
		forwarded += uint32(k)
		after[len(after)-1] += uint32(k)
	}
	wire := m.Captured(0)
	for i := 1; i < len(wire); i++ {
		if seqOf(wire[i]) <= seqOf(wire[i-1]) {
			t.Fatalf("frame %d on the wire has seq %d after %d", i, seqOf(wire[i]), seqOf(wire[i-1]))
		}
	}
	lost := injected - forwarded
	t.Logf("%d frames injected, %d forwarded, %d lost in 2 restarts (%d in the packet buffer at the device resets, the rest in the RX rings); forwarded after each fault: %v; %v",
		injected, forwarded, lost, m.Counters().Lost, after, g.Log())
	if g.Restarts() != 2 {
		t.Errorf("%d restarts, want 2", g.Restarts())
	}
	for i, a := range after {
		if a < 100 {
			t.Errorf("only %d frames forwarded after fault %d", a, i+1)
		}
	}
	if int(forwarded) != len(wire) {
		t.Errorf("%d forwarded but %d on the wire", forwarded, len(wire))
	}
	if lost > 2*(128+4096) {
		t.Errorf("%d frames lost: more than two rings and packet buffers hold", lost)
	}
	if m.Peek(model.FCTRL)&(1<<9|1<<8) == 0 {
		t.Error("promiscuous mode was not replayed on the new instance")
	}
	if m.Resets() != 2 {
		t.Errorf("the kernel reset the device %d times, want 2", m.Resets())
	}
}

// The lab self test against the model in MAC loopback.
func TestSelfTest(t *testing.T) {
	m := model.New(model.Config{})
	mgr, _, nic := domainNIC(t, m, Config{RingSize: 64, Loopback: true})
	rep, err := SelfTest(mgr.Kernel().Heap(), nic, nic, 500, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if rep.Received != 500 || rep.Sent != 500 {
		t.Errorf("report %v", rep)
	}
	// A link that never comes up fails it, in time.
	m2 := model.New(model.Config{})
	m2.SetSwitches(model.Switches{HoldLink: true})
	mgr2, _, nic2 := domainNIC(t, m2, Config{RingSize: 8})
	if _, err := SelfTest(mgr2.Kernel().Heap(), nic2, nic2, 10, 50*time.Millisecond); err == nil {
		t.Error("self test passed without a link")
	}
}

type nopLocker struct{}

func (nopLocker) Lock()   {}
func (nopLocker) Unlock() {}

// held counts the buffers of q holding a packet.
func held(q rref.Deque[idl.Packet]) int {
	n := 0
	for range q.Len() {
		r, _ := q.PopFront()
		if r.Get().Len > 0 {
			n++
		}
		q.PushBack(r)
	}
	return n
}
