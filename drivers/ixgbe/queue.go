package ixgbe

import (
	"fmt"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// A ring is what RX and TX queues share: the descriptor ring and one
// buffer per descriptor. Nothing is allocated per packet and, since the RX
// write-back overwrites the buffer address, the address of each
// descriptor's buffer is kept here (phys) rather than read back.
//
// The buffers are of one of two kinds, fixed at bring-up:
//
//   - cells (zero-copy, when the kernel granted a packet pool): each
//     descriptor holds one cell of the pool, owned by the driver's account
//     while it is in the ring. A packet moves by exchanging cells with the
//     caller's deque (rref.Deque.Swap): RX hands up the cell the device
//     wrote and posts the caller's free cell in its place; TX posts the
//     caller's cell and hands back the ring's free one. Cells only ever
//     circulate between a queue's ring and that queue's caller (or go back
//     to the pool, which zeroes them when it hands them out again), so the
//     bytes past Len of a cell are that caller's own or its queue's traffic.
//   - bufs (copy, without a pool): a DMA buffer per descriptor, allocated at
//     bring-up; a packet is copied between it and the caller's buffer.
//
// A caller's buffer that is not a cell of the pool (an rref.New'd packet)
// is replaced by one from the pool as it passes (on TX its frame copied
// into it once), and copied when the pool is empty. Frames up to copyBreak bytes are copied too:
// for them a copy is cheaper than an exchange.
type ring struct {
	id    int
	n     int        // descriptors
	desc  *hw.Buffer // n * 16 bytes
	bufs  []hw.Buffer
	cells []rref.RRef[idl.Packet]
	pool  hw.CellPool[idl.Packet]
	heap  *rref.Account // the driver's account: owner of the ring's cells
	phys  []uint64
	regs  hw.Regs
	tail  int // offset of the tail register (RDT, TDT)
	// copyBreak: frames up to this length are copied, not exchanged
	// (Config.CopyBreak; -1: none)
	copyBreak int
}

// dataOff is the offset of idl.Packet's Data in the payload of its cell:
// after Len, a uint16 (TestZeroCopyLayout checks it against the model).
const dataOff = 2

func newRing(d *Device, id int, what string) (ring, error) {
	n := d.cfg.RingSize
	g := ring{id: id, n: n, regs: d.regs, phys: make([]uint64, n), copyBreak: max(d.cfg.CopyBreak, -1)}
	var err error
	// 128-byte alignment: RDBAL/TDBAL ignore their low 7 bits.
	if g.desc, err = d.dma.Alloc(n*descSize, 128); err != nil {
		return g, fmt.Errorf("ixgbe: %s: %s ring %d (%d descriptors): %w", d.dev.Addr(), what, id, n, err)
	}
	if d.hooks.Packets != nil {
		g.pool, g.heap, g.cells = d.hooks.Packets, d.hooks.Heap, make([]rref.RRef[idl.Packet], n)
		for i := range n {
			c, ok := g.pool.Get(g.heap)
			if !ok {
				return g, fmt.Errorf("%w: %s: %s ring %d needs %d cells, the pool ran out after %d (grant a larger pool)",
					ErrPool, d.dev.Addr(), what, id, n, i)
			}
			g.cells[i] = c
			if g.phys[i], ok = g.pool.Phys(c, dataOff); !ok {
				return g, fmt.Errorf("%w: %s: the pool's cell has no bus address", ErrPool, d.dev.Addr())
			}
		}
		return g, nil
	}
	// Buffers two to a 4 KiB page: a page is the largest memory known to
	// be physically contiguous without huge pages.
	g.bufs = make([]hw.Buffer, n)
	const perPage = 4096 / bufSize
	for i := 0; i < n; i += perPage {
		page, err := d.dma.Alloc(4096, 4096)
		if err != nil {
			return g, fmt.Errorf("ixgbe: %s: %s buffers of ring %d: %w", d.dev.Addr(), what, id, err)
		}
		for j := 0; j < perPage && i+j < n; j++ {
			g.bufs[i+j] = page.Sub(j*bufSize, bufSize)
			g.phys[i+j] = g.bufs[i+j].Phys()
		}
	}
	return g, nil
}

// exchange puts cell i of the ring in place of element k of q and takes
// that element in its place (hw.Exchange); it reports false, changing
// nothing, if the element is not a cell of the pool and the pool has none
// to take its place. A caller's heap buffer replaced by a cell of the pool
// is dropped, its first frame bytes copied into the cell first (a frame to
// send).
func (g *ring) exchange(i int, q rref.Deque[idl.Packet], k int, frame int) bool {
	x, ph, old, ok := hw.Exchange(g.pool, g.heap, q, k, g.cells[i], dataOff)
	g.cells[i] = x // the cell taken, or the ring's own back, with a new handle
	if !ok {
		return false
	}
	g.phys[i] = ph
	if old.Valid() {
		if frame > 0 {
			copy(x.Get().Data[:frame], old.Get().Data[:frame])
		}
		old.Drop()
	}
	return true
}

// An rxQueue is a receive ring. The device owns descriptors [RDH, RDT);
// the driver owns the rest, from next (the oldest the device may have
// written back) to RDT, which is always next-1: one descriptor stays with
// the driver so that a full ring is never mistaken for an empty one.
type rxQueue struct {
	mu sync.Mutex // one caller per queue; guards everything below
	ring
	next   int    // the next descriptor to check for DD
	errors uint64 // packets dropped by the driver (error bits, bad length)
}

func newRxQueue(d *Device, id int) (*rxQueue, error) {
	g, err := newRing(d, id, "RX")
	if err != nil {
		return nil, err
	}
	q := &rxQueue{ring: g}
	q.tail = regRDT(id)
	for i := range q.n {
		q.arm(i)
	}
	return q, nil
}

// arm gives descriptor i its buffer and clears its write-back status.
func (q *rxQueue) arm(i int) {
	q.desc.Put64(i*descSize, q.phys[i])
	q.desc.Put64(i*descSize+8, 0)
}

// receive fills the free buffers of bufs with received packets: see
// idl.Net.RxBatch. It reads no register: a descriptor is done when the
// device has written its DD bit back to memory. It writes RDT once, if it
// consumed any descriptor.
func (q *rxQueue) receive(bufs rref.Deque[idl.Packet]) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, i, used := 0, q.next, 0
	dry := false // seen a descriptor without DD: nothing more to receive
	for k := range bufs.Len() {
		p := bufs.At(k) // in place: no ownership moves per packet
		filled := false // by an exchange: element k is no longer p
		for p.Len == 0 && !filled && !dry {
			off := i * descSize
			st := q.desc.Load32(off + 8) // atomic: the device writes it
			if st&rxStatDD == 0 {
				dry = true
				break
			}
			length := int(q.desc.Get16(off + 12))
			good := st&rxStatEOP != 0 && st&rxErrRXE == 0 && length > 0 && length <= bufSize
			if good {
				if q.cells != nil {
					c := q.cells[i].Get()
					c.Len = uint16(length)
					if length > q.copyBreak && q.exchange(i, bufs, k, 0) {
						filled = true // p is the caller's cell, now in the ring
					} else {
						c.Len = 0
						copy(p.Data[:length], c.Data[:length])
						p.Len = uint16(length)
					}
				} else {
					q.bufs[i].CopyOut(p.Data[:length], 0)
					p.Len = uint16(length)
				}
				n++
			} else {
				q.errors++
			}
			q.arm(i)
			if i++; i == q.n {
				i = 0
			}
			used++
		}
	}
	if used > 0 {
		q.next = i
		q.regs.Write32(q.tail, uint32(q.prev(i)))
	}
	return n
}

func (g *ring) prev(i int) int {
	if i == 0 {
		return g.n - 1
	}
	return i - 1
}

// A txQueue is a transmit ring. The driver fills descriptors at tail and
// writes TDT once per batch; the device sends [TDH, TDT) and writes DD back
// for each (every descriptor asks for it, RS). Descriptors from clean to
// tail are in flight: their buffers are the device's until DD.
type txQueue struct {
	mu sync.Mutex // one caller per queue; guards everything below
	ring
	clean  int    // the oldest descriptor in flight
	next   int    // where the next packet goes (TDT after the batch)
	errors uint64 // frames refused (too long)
}

func newTxQueue(d *Device, id int) (*txQueue, error) {
	g, err := newRing(d, id, "TX")
	if err != nil {
		return nil, err
	}
	q := &txQueue{ring: g}
	q.tail = regTDT(id)
	return q, nil
}

// reclaim takes back the descriptors the device is done with (DD in
// memory, no register read) and returns how many are free.
func (q *txQueue) reclaim() int {
	for q.clean != q.next && q.desc.Load32(q.clean*descSize+12)&txStatDD != 0 {
		if q.clean++; q.clean == q.n {
			q.clean = 0
		}
	}
	inflight := q.next - q.clean
	if inflight < 0 {
		inflight += q.n
	}
	return q.n - 1 - inflight
}

// send queues the packets of pkts: see idl.Net.TxBatch. Per packet an
// exchange of cells (or a copy into the descriptor's DMA buffer), one TDT
// write per batch.
func (q *txQueue) send(pkts rref.Deque[idl.Packet]) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	free := q.reclaim()
	sent, long, i := 0, 0, q.next
	for k := range pkts.Len() {
		p := pkts.At(k) // in place: no ownership moves per packet
		switch {
		case p.Len == 0 || free == 0:
		case int(p.Len) > idl.MaxFrame:
			long++
		default:
			off := i * descSize
			length := uint32(p.Len)
			if q.cells != nil {
				c := q.cells[i].Get()
				c.Len = 0 // sent before, or fresh: the caller's free buffer
				if int(length) > q.copyBreak && q.exchange(i, pkts, k, int(length)) {
					p = c // element k now, Len 0 already
				} else {
					copy(c.Data[:length], p.Data[:length])
				}
			} else {
				q.bufs[i].CopyIn(0, p.Data[:length])
			}
			q.desc.Put64(off, q.phys[i])
			q.desc.Put32(off+8, txCmd|length)
			q.desc.Put32(off+12, length<<txPaylenShift)
			if i++; i == q.n {
				i = 0
			}
			p.Len = 0
			sent++
			free--
		}
	}
	if sent > 0 {
		q.next = i
		q.regs.Write32(q.tail, uint32(i))
	}
	if long > 0 {
		q.errors += uint64(long)
		return sent, fmt.Errorf("%w: %d frame(s) on queue %d", ErrFrameSize, long, q.id)
	}
	return sent, nil
}

// Receive fills the free buffers of bufs from RX queue qid (idl.Net.RxBatch).
func (d *Device) Receive(qid int, bufs rref.Deque[idl.Packet]) (int, error) {
	if qid < 0 || qid >= len(d.rx) {
		return 0, fmt.Errorf("%w: RX queue %d of %d", ErrQueue, qid, len(d.rx))
	}
	return d.rx[qid].receive(bufs), nil
}

// Send queues the packets of pkts on TX queue qid (idl.Net.TxBatch).
func (d *Device) Send(qid int, pkts rref.Deque[idl.Packet]) (int, error) {
	if qid < 0 || qid >= len(d.tx) {
		return 0, fmt.Errorf("%w: TX queue %d of %d", ErrQueue, qid, len(d.tx))
	}
	return d.tx[qid].send(pkts)
}
