package maglev

import (
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Ports runs a Balancer between two NIC ports (idl.Net, e.g. two ixgbe
// driver domains): batches received on In's queue are steered in place,
// in the packet buffers the drivers filled, and sent on Out's queue. Not
// safe for concurrent use: one thread calls Step.
//
// A batch is one deque of packet buffers that goes to In and then to Out
// and comes back each time: no packet is copied between domains and
// nothing is allocated per packet or per batch. Packets Out had no room
// for stay in the deque, already steered, and go out with the next batch
// (held marks them, so they are neither steered nor counted twice).
type Ports struct {
	B       *Balancer
	In, Out idl.Net
	Queue   uint16

	heap  *rref.Account
	batch int
	q     rref.Deque[idl.Packet]
	held  []bool // held[i]: buffer i of q holds a steered packet not yet sent

	// Counters: packets received on In, sent on Out, and lost with a
	// deque that a failed call did not give back (its driver crashed).
	Received, Sent, Lost uint64
	// Errors counts failed calls.
	Errors uint64
}

// NewPorts makes the forwarder, with a deque of batch (1..idl.NetBatch)
// free packet buffers on heap.
func NewPorts(b *Balancer, heap *rref.Account, in, out idl.Net, batch int) *Ports {
	batch = min(max(batch, 1), idl.NetBatch)
	p := &Ports{B: b, In: in, Out: out, heap: heap, batch: batch, held: make([]bool, batch)}
	p.q = p.newDeque()
	return p
}

func (p *Ports) newDeque() rref.Deque[idl.Packet] {
	q := rref.NewDeque[idl.Packet](p.heap, p.batch)
	for range p.batch {
		q.PushBack(rref.New(p.heap, idl.Packet{}))
	}
	clear(p.held)
	return q
}

// Held is how many steered packets wait for room on Out.
func (p *Ports) Held() int {
	n := 0
	for _, h := range p.held {
		if h {
			n++
		}
	}
	return n
}

// Step moves one batch at time now: it receives into the free buffers,
// steers what arrived (frames that are not IPv4 are dropped: their buffer
// is freed) and sends every steered packet. It returns how many packets
// it sent. After a failed call whose deque did not come back, the packets
// it held are counted in Lost and a new deque replaces it.
func (p *Ports) Step(now time.Duration) (int, error) {
	var n int
	var err error
	p.q, n, err = p.In.RxBatch(p.Queue, p.q)
	if err != nil {
		return 0, p.failed(err)
	}
	p.Received += uint64(n)
	pending := 0
	for i := range p.q.Len() {
		pk := p.q.At(i)
		if pk.Len == 0 {
			continue
		}
		if p.held[i] {
			pending++
			continue
		}
		if int(pk.Len) > len(pk.Data) || !p.B.Steer(pk.Data[:pk.Len], now) {
			if int(pk.Len) > len(pk.Data) {
				p.B.Dropped++
			}
			pk.Len = 0
			continue
		}
		p.held[i] = true
		pending++
	}
	if pending == 0 {
		return 0, nil
	}
	var k int
	p.q, k, err = p.Out.TxBatch(p.Queue, p.q)
	if err != nil {
		return 0, p.failed(err)
	}
	for i := range p.q.Len() {
		if p.held[i] && p.q.At(i).Len == 0 {
			p.held[i] = false
		}
	}
	p.Sent += uint64(k)
	p.B.Forwarded += uint64(k)
	return k, nil
}

// failed accounts for a failed call: if it kept the deque, the packets it
// held are lost and a fresh deque takes its place.
func (p *Ports) failed(err error) error {
	p.Errors++
	if !p.q.Valid() {
		p.Lost += uint64(p.Held())
		p.q = p.newDeque()
	}
	return err
}

// Close drops the deque and its buffers.
func (p *Ports) Close() { rref.DiscardDeque(p.q) }
