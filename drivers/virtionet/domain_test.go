package virtionet

import (
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// The driver as a domain behind a shadow: frames move through the proxy
// both ways; killed, the domain is re-created on the next call (the
// device reset and brought up again on the DMA memory the kernel took
// back), and frames move again.
func TestDomainBehindShadow(t *testing.T) {
	r := newRig(t, false)
	m := domain.NewManager()
	t.Cleanup(m.Close)
	d, err := m.Create(Kind, domain.Name("virtio-net"),
		domain.GrantDevice(GrantPCI, Function(r.f)), domain.GrantDevice(GrantConfig, Config{QueueSize: 16}))
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
		r.roundTrip(t, nic, heap, seq, 100+seq, 200+seq)
	}
	roundTrip(1)
	l, err := nic.LinkStatus()
	if err != nil || !l.Up || l.MAC != testMAC {
		t.Fatalf("link %+v %v", l, err)
	}
	first := g.Current()
	m.Kill(first)
	// The call re-creates the domain; frames that arrived before it went
	// into the dead instance's ring, which the reset discards.
	if _, err := nic.Stats(); err != nil {
		t.Fatal(err)
	}
	roundTrip(2)
	if g.Current() == first || g.Restarts() != 1 {
		t.Errorf("not restarted by the shadow: restarts %d", g.Restarts())
	}
}

// Polling an empty ring allocates nothing, and neither does a packet's
// trip through a queue (ring_test.go's fake device).
func TestNoAllocations(t *testing.T) {
	r := newRig(t, true)
	d := r.open(t, Config{QueueSize: 16})
	bufs := packets(testHeap(t), 32)
	if n := testing.AllocsPerRun(100, func() { bufs, _, _ = d.RxBatch(0, bufs) }); n != 0 {
		t.Errorf("RxBatch on an empty ring: %v allocations", n)
	}
	q := testQueue(t, 8, false)
	dev := &fakeDevice{q: q, held: make([]uint32, 0, 8), noNotify: true}
	if n := testing.AllocsPerRun(1000, func() {
		id, _ := q.take()
		q.add(id, 100)
		q.publish()
		dev.take()
		dev.complete(1, 0)
		id32, _, _ := q.nextUsed()
		q.release(uint16(id32))
		dev.held = dev.held[:0]
	}); n != 0 {
		t.Errorf("a trip through the ring: %v allocations", n)
	}
}
