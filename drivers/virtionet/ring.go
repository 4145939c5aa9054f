package virtionet

import (
	"fmt"

	"github.com/rlgo/redleaf/kernel/hw"
)

// Split virtqueue layout (virtio 1.2, section 2.7).
const (
	descSize      = 16 // addr u64, len u32, flags u16, next u16
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
// One goroutine at a time uses a queue (the Device's lock per direction).
type queue struct {
	index uint16 // the virtqueue number
	size  uint16
	write bool // the device writes the buffers (receive)

	desc, avail, used *hw.Buffer
	bufs              []*hw.Buffer

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
	q.avail.Put16(0, availNoIntr)
	q.next, q.published, q.lastUsed, q.seenUsed = 0, 0, 0, 0
	q.free = q.free[:0]
	for i := int(q.size) - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
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

// inFlight is the number of descriptors the device holds.
func (q *queue) inFlight() int { return int(q.size) - len(q.free) }

// descLen is the length written into descriptor id.
func (q *queue) descLen(id uint16) int { return int(q.desc.Get32(int(id)*descSize + 8)) }
