package virtionet

import (
	"fmt"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Split virtqueue layout (virtio 1.2, section 2.7).
const (
	descSize      = 16 // addr u64, len u32, flags u16, next u16
	descNext      = 1  // VIRTQ_DESC_F_NEXT: the chain goes on at next
	descWrite     = 2  // VIRTQ_DESC_F_WRITE: the device writes the buffer
	availNoIntr   = 1  // VIRTQ_AVAIL_F_NO_INTERRUPT: the driver polls
	usedNoNotify  = 1  // VIRTQ_USED_F_NO_NOTIFY: the device is polling too
	usedElemSize  = 8  // id u32, len u32
	ringHeaderLen = 4  // flags u16, idx u16
	bufSize       = 2048
)

// A queue is one split virtqueue in DMA memory: its descriptor table, the
// available ring the driver writes and the used ring the device writes,
// and one data buffer per descriptor.
//
// Invariants: descriptor i always points at buffer i (set at reset, never
// chained), so a descriptor id names a buffer; a descriptor is either free
// (in free) or in flight (made available, its used entry not consumed yet);
// next-lastUsed (mod 2^16) is the number in flight, at most size. The
// ring indices run freely modulo 2^16, as the device's do; size is a power
// of two that divides 2^16, so an index modulo size is its slot.
//
// A queue with a packet pool (newCellQueue) is zero-copy instead: packet
// slot j is the chain of descriptor 2j (its virtio-net header, hdrLen
// bytes of hdrs, all zeroes on transmit) and descriptor 2j+1 (the Data of
// cell j of the pool, which the driver's account owns while it is in the
// queue); a slot names the chain, the rings carry its head 2j, and at most
// size/2 packets are in flight. RX and TX exchange cells with the caller's
// deque (hw.Exchange) instead of copying, as the ixgbe driver does.
//
// One goroutine at a time uses a queue (the Device's lock per direction).
type queue struct {
	index uint16 // the virtqueue number
	size  uint16
	slots uint16 // packets in flight at most: size, or size/2 with chains
	write bool   // the device writes the buffers (receive)

	desc, avail, used *hw.Buffer
	bufs              []*hw.Buffer // copy: one per descriptor

	pool  hw.CellPool[idl.Packet] // zero-copy: the cells' pool, or nil
	heap  *rref.Account           // the owner of the queue's cells
	cells []rref.RRef[idl.Packet] // cell of each slot
	phys  []uint64                // bus address of each slot's cell's Data
	hdrs  *hw.Buffer              // slots * hdrLen: each slot's header

	next      uint16   // the avail index the next buffer goes to
	published uint16   // the avail index the device was told
	lastUsed  uint16   // used entries below this were consumed
	seenUsed  uint16   // used.idx as last read
	free      []uint16 // free descriptors, a stack

	notifyAt int // doorbell offset in the notify region
}

// newQueue allocates a queue of size descriptors (a power of two) and its
// buffers from dma.
func newQueue(dma hw.DMA, index uint16, size int, write bool) (*queue, error) {
	if size <= 0 || size > 1<<15 || size&(size-1) != 0 {
		return nil, fmt.Errorf("virtio-net: queue size %d is not a power of two up to 32768", size)
	}
	q := &queue{index: index, size: uint16(size), write: write}
	var err error
	if q.desc, err = dma.Alloc(size*descSize, 4096); err != nil {
		return nil, fmt.Errorf("virtio-net: queue %d: descriptor table: %w", index, err)
	}
	if q.avail, err = dma.Alloc(ringHeaderLen+2*size+2, 64); err != nil {
		return nil, fmt.Errorf("virtio-net: queue %d: available ring: %w", index, err)
	}
	if q.used, err = dma.Alloc(ringHeaderLen+usedElemSize*size+2, 64); err != nil {
		return nil, fmt.Errorf("virtio-net: queue %d: used ring: %w", index, err)
	}
	q.slots = uint16(size)
	q.bufs = make([]*hw.Buffer, size)
	for i := range q.bufs {
		if q.bufs[i], err = dma.Alloc(bufSize, bufSize); err != nil {
			return nil, fmt.Errorf("virtio-net: queue %d: buffers: %w", index, err)
		}
	}
	q.free = make([]uint16, 0, size)
	q.reset()
	return q, nil
}

// newCellQueue allocates a zero-copy queue of size descriptors (size/2
// packet slots) and takes a cell of pool, owned by heap, for each slot.
func newCellQueue(dma hw.DMA, index uint16, size int, write bool, pool hw.CellPool[idl.Packet], heap *rref.Account) (*queue, error) {
	if size < 2 || size > 1<<15 || size&(size-1) != 0 {
		return nil, fmt.Errorf("virtio-net: queue size %d is not a power of two from 2 to 32768", size)
	}
	q := &queue{index: index, size: uint16(size), slots: uint16(size / 2), write: write, pool: pool, heap: heap}
	var err error
	if q.desc, err = dma.Alloc(size*descSize, 4096); err != nil {
		return nil, fmt.Errorf("virtio-net: queue %d: descriptor table: %w", index, err)
	}
	if q.avail, err = dma.Alloc(ringHeaderLen+2*size+2, 64); err != nil {
		return nil, fmt.Errorf("virtio-net: queue %d: available ring: %w", index, err)
	}
	if q.used, err = dma.Alloc(ringHeaderLen+usedElemSize*size+2, 64); err != nil {
		return nil, fmt.Errorf("virtio-net: queue %d: used ring: %w", index, err)
	}
	if q.hdrs, err = dma.Alloc(int(q.slots)*hdrLen, 64); err != nil {
		return nil, fmt.Errorf("virtio-net: queue %d: headers: %w", index, err)
	}
	q.cells, q.phys = make([]rref.RRef[idl.Packet], q.slots), make([]uint64, q.slots)
	for j := range q.cells {
		c, ok := pool.Get(heap)
		if !ok {
			return nil, fmt.Errorf("%w: queue %d needs %d cells, the pool ran out after %d (grant a larger pool)", ErrPool, index, q.slots, j)
		}
		q.cells[j] = c
		if q.phys[j], ok = pool.Phys(c, dataOff); !ok {
			return nil, fmt.Errorf("%w: the pool's cell has no bus address", ErrPool)
		}
	}
	q.free = make([]uint16, 0, q.slots)
	q.reset()
	return q, nil
}

// dataOff is the offset of idl.Packet's Data in the payload of its cell:
// after Len, a uint16 (the tests check it against QEMU's device).
const dataOff = 2

// reset empties the queue: every descriptor free, pointing at its buffer,
// the rings zero, and the device asked not to interrupt.
func (q *queue) reset() {
	q.desc.Zero(0, q.desc.Len())
	q.avail.Zero(0, q.avail.Len())
	q.used.Zero(0, q.used.Len())
	var flags uint16
	if q.write {
		flags = descWrite
	}
	for i, b := range q.bufs {
		b.Zero(0, hdrLen) // a transmit header is all zeroes: no offloads
		off := i * descSize
		q.desc.Put64(off, b.Phys())
		q.desc.Put32(off+8, bufSize)
		q.desc.Put16(off+12, flags)
	}
	if q.cells != nil {
		q.hdrs.Zero(0, q.hdrs.Len())
		for j := range int(q.slots) {
			off := 2 * j * descSize
			q.desc.Put64(off, q.hdrs.PhysAt(j*hdrLen))
			q.desc.Put32(off+8, hdrLen)
			q.desc.Put16(off+12, flags|descNext)
			q.desc.Put16(off+14, uint16(2*j+1))
			q.desc.Put64(off+descSize, q.phys[j])
			q.desc.Put32(off+descSize+8, idl.PacketSize)
			q.desc.Put16(off+descSize+12, flags)
		}
	}
	q.avail.Put16(0, availNoIntr)
	q.next, q.published, q.lastUsed, q.seenUsed = 0, 0, 0, 0
	q.free = q.free[:0]
	for i := int(q.slots) - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
}

// room is the longest frame a receive buffer takes.
func (q *queue) room() int {
	if q.cells != nil {
		return idl.PacketSize
	}
	return bufSize - hdrLen
}

// post gives receive buffer j back to the device, whole.
func (q *queue) post(j uint16) {
	if q.cells != nil {
		q.addCell(j, idl.PacketSize)
	} else {
		q.add(j, bufSize)
	}
}

// addCell makes slot j's chain available to the device with frame bytes
// of its cell (the whole Data on receive), at the cell's current address.
func (q *queue) addCell(j uint16, frame int) {
	off := (2*int(j) + 1) * descSize
	q.desc.Put64(off, q.phys[j])
	q.desc.Put32(off+8, uint32(frame))
	q.avail.Put16(ringHeaderLen+2*int(q.next&(q.size-1)), 2*j)
	q.next++
}

// slotOf is the slot a used entry's id names, if it names one.
func (q *queue) slotOf(id uint32) (uint16, bool) {
	if q.cells != nil {
		if id&1 != 0 || id >= uint32(q.size) {
			return 0, false
		}
		return uint16(id / 2), true
	}
	return uint16(id), id < uint32(q.size)
}

// frameLen is the frame length slot j was made available with.
func (q *queue) frameLen(j uint16) int {
	if q.cells != nil {
		return int(q.desc.Get32((2*int(j)+1)*descSize + 8))
	}
	return q.descLen(j) - hdrLen
}

// exchange puts slot j's cell in place of element k of d and takes that
// element in its place (hw.Exchange); false, changing nothing, if the
// element is not a cell of the pool and the pool has none to take its
// place. A caller's heap buffer replaced by a cell of the pool is dropped,
// its first frame bytes copied into the cell first (a frame to send).
func (q *queue) exchange(j uint16, d rref.Deque[idl.Packet], k int, frame int) bool {
	x, ph, old, ok := hw.Exchange(q.pool, q.heap, d, k, q.cells[j], dataOff)
	q.cells[j] = x // the cell taken, or the slot's own back, with a new handle
	if !ok {
		return false
	}
	q.phys[j] = ph
	if old.Valid() {
		if frame > 0 {
			copy(x.Get().Data[:frame], old.Get().Data[:frame])
		}
		old.Drop()
	}
	return true
}

// take pops a free descriptor.
func (q *queue) take() (uint16, bool) {
	if len(q.free) == 0 {
		return 0, false
	}
	id := q.free[len(q.free)-1]
	q.free = q.free[:len(q.free)-1]
	return id, true
}

// release pushes descriptor id back on the free stack.
func (q *queue) release(id uint16) { q.free = append(q.free, id) }

// add makes descriptor id, with n bytes of its buffer, available to the
// device; publish tells the device.
func (q *queue) add(id uint16, n int) {
	q.desc.Put32(int(id)*descSize+8, uint32(n))
	q.avail.Put16(ringHeaderLen+2*int(q.next&(q.size-1)), id)
	q.next++
}

// publish writes the available index, after the entries it covers, and
// reports whether the device should be notified: something new was
// published and the device did not say it is polling.
//
// The device must see the entries before the index. amd64 keeps stores in
// program order and the Go compiler does not reorder them; a weakly
// ordered CPU (arm64) would need a release store here, which hw.Buffer
// does not offer yet (under QEMU's TCG on an amd64 host the guest's stores
// are the host's, in order).
func (q *queue) publish() bool {
	if q.next == q.published {
		return false
	}
	q.avail.Put16(2, q.next)
	q.published = q.next
	return q.used.Load32(0)&usedNoNotify == 0
}

// nextUsed consumes the next used entry: the descriptor the device is done
// with and the bytes it wrote to it. It reads used.idx (one atomic load of
// the ring's first word) only when the entries seen last are consumed.
func (q *queue) nextUsed() (id uint32, n uint32, ok bool) {
	if q.lastUsed == q.seenUsed {
		q.seenUsed = uint16(q.used.Load32(0) >> 16)
		if q.lastUsed == q.seenUsed {
			return 0, 0, false
		}
	}
	off := ringHeaderLen + usedElemSize*int(q.lastUsed&(q.size-1))
	q.lastUsed++
	return q.used.Get32(off), q.used.Get32(off + 4), true
}

// inFlight is the number of buffers (slots) the device holds.
func (q *queue) inFlight() int { return int(q.slots) - len(q.free) }

// descLen is the length written into descriptor id.
func (q *queue) descLen(id uint16) int { return int(q.desc.Get32(int(id)*descSize + 8)) }
