package nvme

import (
	"errors"
	"fmt"

	"github.com/rlgo/redleaf/kernel/hw"
)

// maxListPages bounds a transfer when the controller sets no MDTS: one PRP
// list page holds 512 entries.
const maxListPages = 512

// maxTransfer is the most bytes one command moves.
func (c *Controller) maxTransfer() int {
	if c.info.MaxTransfer > 0 {
		return min(c.info.MaxTransfer, maxListPages*pageSize)
	}
	return maxListPages * pageSize
}

// prps fills the PRP entries of a transfer of n bytes at buf[off:] for
// command slot cid: PRP1 is the first byte; PRP2 is the second page, or a
// PRP list (the slot's list page) when the transfer spans more than two.
func (q *queuePair) prps(cid uint16, buf *hw.Buffer, off, n int) (prp1, prp2 uint64) {
	prp1 = buf.PhysAt(off)
	first := pageSize - int(prp1%pageSize)
	if n <= first {
		return prp1, 0
	}
	page := prp1&^(pageSize-1) + pageSize
	pages := (n - first + pageSize - 1) / pageSize
	if pages == 1 {
		return prp1, page
	}
	list := q.prp[cid]
	for i := range pages {
		list.Put64(8*i, page+uint64(i)*pageSize)
	}
	return prp1, list.Phys()
}

// Transfer reads (OpRead) or writes (OpWrite) n bytes of namespace nsid
// from logical block lba, into or from buf[0:n]: the buffer is DMA memory
// (hw.DMA). A transfer larger than the controller's MDTS goes as several
// commands, submitted together.
func (c *Controller) Transfer(op uint8, nsid uint32, lba uint64, buf *hw.Buffer, n int) error {
	ns, err := c.Namespace(nsid)
	if err != nil {
		return err
	}
	if op != OpRead && op != OpWrite {
		return fmt.Errorf("nvme: Transfer of opcode %#x: only reads and writes move data", op)
	}
	if n <= 0 || n%ns.BlockSize != 0 || n > buf.Len() {
		return fmt.Errorf("%w: %d bytes for a %d-byte buffer in blocks of %d", ErrRange, n, buf.Len(), ns.BlockSize)
	}
	q, err := c.takeQueue()
	if err != nil {
		return err
	}
	defer c.putQueue(q)
	chunk := c.maxTransfer() / ns.BlockSize * ns.BlockSize
	var first error
	for off := 0; off < n; {
		// Submit as many chunks as there are free ids, ring once, reap all.
		var cids [8]uint16
		k := 0
		for ; k < len(cids) && off < n && !q.full(); k++ {
			m := min(chunk, n-off)
			cid := q.freeIDs[len(q.freeIDs)-1]
			prp1, prp2 := q.prps(cid, buf, off, m)
			slba := lba + uint64(off/ns.BlockSize)
			cids[k] = q.push(&command{opcode: op, nsid: nsid, prp1: prp1, prp2: prp2,
				cdw10: uint32(slba), cdw11: uint32(slba >> 32), cdw12: uint32(m/ns.BlockSize - 1)})
			off += m
		}
		q.ring()
		if err := q.waitAll(c.cfg.Timeout); err != nil {
			return c.ioFailed(q, err)
		}
		for _, cid := range cids[:k] {
			st, _ := q.release(cid)
			if err := statusError(op, false, st); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Command runs one I/O command without data (flush, or anything a test
// wants to send) on namespace nsid and returns its status as an error.
func (c *Controller) Command(opcode uint8, nsid uint32, cdw10, cdw11, cdw12 uint32) error {
	q, err := c.takeQueue()
	if err != nil {
		return err
	}
	defer c.putQueue(q)
	cid := q.push(&command{opcode: opcode, nsid: nsid, cdw10: cdw10, cdw11: cdw11, cdw12: cdw12})
	q.ring()
	if err := q.wait(cid, c.cfg.Timeout); err != nil {
		return c.ioFailed(q, err)
	}
	st, _ := q.release(cid)
	return statusError(opcode, false, st)
}

// Flush makes every completed write to nsid durable.
func (c *Controller) Flush(nsid uint32) error { return c.Command(OpFlush, nsid, 0, 0, 0) }

// ioFailed handles a queue whose wait failed: a timeout or fatal status
// resets the controller (a reset by someone else already happened). The
// queue is re-created before its next use. It returns err, with the
// reset's failure if any.
func (c *Controller) ioFailed(q *queuePair, err error) error {
	q.gen = 0 // forces a re-creation in takeQueue
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrFatal) {
		if rerr := c.Reset(); rerr != nil {
			return fmt.Errorf("%w; the reset failed too: %w", err, rerr)
		}
	}
	return err
}
