package faultcampaign

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// IXGBE is the ixgbe driver (drivers/ixgbe) over the 82599 model
// (drivers/ixgbe/model) in MAC loopback: what the client sends comes back
// to it, so packets are counted end to end. Every restart resets the
// device and brings it up again (a 10 ms wait after the reset, as the
// datasheet asks); packets in the rings or the device's FIFO when the
// driver dies are lost with it, as on a real NIC: the client counts them
// (Lost), and only a packet that comes back wrong, or unsent, or twice, is
// a mismatch.
//
// With ZeroCopy the driver is granted a packet pool in the model's DMA
// memory (its rings hold cells of the pool, exchanged with the client's
// buffers instead of copied); PoolFree then tells whether every cell came
// back.
type IXGBE struct {
	ZeroCopy bool

	m      *model.Model
	pool   *dma.CellPool[idl.Packet]
	client *packetClient
	lost   int
}

// PoolFree is how many cells of the packet pool are free, of how many
// (0, 0 without ZeroCopy).
func (t *IXGBE) PoolFree() (free, capacity int) {
	if t.pool == nil {
		return 0, 0
	}
	return t.pool.Pool().Free(), t.pool.Pool().Cap()
}

// Name implements Target.
func (*IXGBE) Name() string { return ixgbe.Kind }

// Unit implements Target.
func (*IXGBE) Unit() string { return "packets" }

// Lost is how many packets the client sent that never came back.
func (t *IXGBE) Lost() int {
	if t.client != nil {
		return t.client.lost
	}
	return t.lost
}

// Start implements Target.
func (t *IXGBE) Start(m *domain.Manager, inj *faults.Injector, p shadow.Policy, deadline time.Duration) (*shadow.Guard, Client, error) {
	t.m = model.New(model.Config{})
	grants := []domain.CreateOption{domain.Name(ixgbe.Kind),
		domain.GrantDevice(ixgbe.GrantPCI, hw.PCIDevice(t.m)),
		domain.GrantDevice(ixgbe.GrantConfig, ixgbe.Config{RingSize: 256, Loopback: true}),
		domain.GrantDevice(ixgbe.GrantFaults, inj.Device())}
	if t.ZeroCopy {
		var err error
		if t.pool, err = t.m.Packets("ixgbe campaign", 2*256+32+64+32); err != nil {
			return nil, nil, fmt.Errorf("ixgbe: %w", err)
		}
		grants = append(grants, domain.GrantDevice(ixgbe.GrantPackets, hw.CellPool[idl.Packet](t.pool)))
	}
	d, err := m.Create(ixgbe.Kind, grants...)
	if err != nil {
		return nil, nil, fmt.Errorf("ixgbe: %w", err)
	}
	g, err := shadow.New(m, d, p)
	if err != nil {
		return nil, nil, err
	}
	nic, err := domain.Connect[idl.Net](m.Kernel(), g, domain.Deadline(deadline))
	if err != nil {
		return nil, nil, err
	}
	heap := m.Kernel().Heap()
	t.client = &packetClient{nic: nic, heap: heap, tx: packets(heap, 32), rx: packets(heap, 64), sent: map[uint64]bool{}}
	return g, t.client, nil
}

// Close implements Target.
func (t *IXGBE) Close() {
	if t.client != nil {
		t.lost = t.client.lost
	}
	if t.pool != nil {
		t.pool.Retire() // fails, keeping the pool and the model's memory, if a cell is out: PoolFree tells
	}
	t.m, t.client = nil, nil // the model's 32 MiB of DMA memory go
}

func packets(heap *rref.Account, n int) rref.Deque[idl.Packet] {
	q := rref.NewDeque[idl.Packet](heap, n)
	for range n {
		q.PushBack(rref.New(heap, idl.Packet{}))
	}
	return q
}

// packetClient sends batches of numbered frames and receives them back.
type packetClient struct {
	nic    idl.Net
	heap   *rref.Account
	tx, rx rref.Deque[idl.Packet]
	seq    uint64
	sent   map[uint64]bool // sent, not yet received
	lost   int             // sent and never received (died with a driver)
}

const frameLen = 128

// frame writes frame seq into p: to the model's MAC, with a payload that
// depends on seq.
func frame(p *idl.Packet, seq uint64) {
	p.Len = frameLen
	d := p.Data[:frameLen]
	copy(d, []byte{0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5})
	binary.BigEndian.PutUint64(d[14:], seq)
	x := seq*0x9e3779b97f4a7c15 | 1
	for i := 22; i < frameLen; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		d[i] = byte(x)
	}
}

// check returns the sequence number of the frame in p, and whether the
// frame is intact.
func check(p *idl.Packet) (uint64, bool) {
	if p.Len != frameLen {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(p.Data[14:])
	var want idl.Packet
	frame(&want, seq)
	return seq, [frameLen]byte(want.Data[:frameLen]) == [frameLen]byte(p.Data[:frameLen])
}

func (c *packetClient) Close() {
	rref.DiscardDeque(c.tx)
	rref.DiscardDeque(c.rx)
}

// Op sends 1-32 frames and receives what came back. A batch that did not
// come back with an error (its driver died holding it past the grace) is
// replaced.
func (c *packetClient) Op(rng *rand.Rand) (units, mismatches int, err error) {
	n := 1 + rng.IntN(32)
	for i := range c.tx.Len() {
		p := c.tx.At(i)
		p.Len = 0
		if i < n {
			c.seq++
			frame(p, c.seq)
			c.sent[c.seq] = true
		}
	}
	out, _, err := c.nic.TxBatch(0, c.tx)
	if err != nil {
		if !c.tx.Valid() {
			rref.DiscardDeque(out)
			c.tx = packets(c.heap, 32)
		}
		return 0, 0, fmt.Errorf("tx: %w", err)
	}
	c.tx = out
	for range 4 { // the model delivers on the tail write; poll a little for stragglers
		out, k, err := c.nic.RxBatch(0, c.rx)
		if err != nil {
			if !c.rx.Valid() {
				rref.DiscardDeque(out)
				c.rx = packets(c.heap, 64)
			}
			return units, mismatches, fmt.Errorf("rx: %w", err)
		}
		c.rx = out
		for i := range c.rx.Len() {
			p := c.rx.At(i)
			if p.Len == 0 {
				continue
			}
			if seq, ok := check(p); ok && c.sent[seq] {
				delete(c.sent, seq)
				units++
			} else {
				mismatches++
			}
			p.Len = 0
		}
		if k == 0 {
			break
		}
	}
	// Frames sent long ago and still missing went with a driver instance.
	for seq := range c.sent {
		if seq+1024 < c.seq {
			delete(c.sent, seq)
			c.lost++
		}
	}
	return units, mismatches, nil
}
