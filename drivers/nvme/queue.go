package nvme

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/hw"
)

// A queuePair is a submission queue and its completion queue. One goroutine
// at a time uses it (the admin pair under Controller.adminMu, I/O pairs
// taken from Controller.free).
//
// Invariants: at most depth-1 commands are outstanding, so the SQ is never
// full and the CQ never overflows, and the SQ head the controller reports
// need not be tracked; a command's id is its slot, taken from freeIDs and
// returned when its completion is consumed.
type queuePair struct {
	c      *Controller
	id     uint16
	depth  int
	sq, cq *hw.Buffer
	sqDB   int // SQ tail doorbell offset
	cqDB   int // CQ head doorbell offset

	sqTail int
	cqHead int
	phase  uint32 // the phase bit of new completions

	slots   []slot
	freeIDs []uint16 // stack of free command ids
	pending int      // submitted, not yet completed
	gen     uint64   // the controller generation the queue was set up in

	// Per-slot DMA memory for I/O pairs: a 4 KiB bounce buffer (block
	// requests) and a PRP list page (large transfers).
	data []*hw.Buffer
	prp  []*hw.Buffer

	// The window of block requests in flight (Disk.do) and their command
	// ids (-1: not submitted).
	win    []*idl.BlockReq // in the batch: see Disk.do
	winCID []int32
}

type slot struct {
	busy   bool
	done   bool
	opcode uint8
	status uint16
	dw0    uint32
}

func (c *Controller) newQueuePair(id uint16, depth int, withData bool) (*queuePair, error) {
	q := &queuePair{c: c, id: id, depth: depth}
	var err error
	if q.sq, err = c.dma.Alloc(depth*sqeSize, pageSize); err != nil {
		return nil, fmt.Errorf("nvme: queue %d: SQ: %w", id, err)
	}
	if q.cq, err = c.dma.Alloc(depth*cqeSize, pageSize); err != nil {
		return nil, fmt.Errorf("nvme: queue %d: CQ: %w", id, err)
	}
	stride := 4 << c.cap.dstrd
	q.sqDB = regDB + 2*int(id)*stride
	q.cqDB = regDB + (2*int(id)+1)*stride
	q.slots = make([]slot, depth)
	q.freeIDs = make([]uint16, 0, depth)
	if withData {
		q.data = make([]*hw.Buffer, depth)
		q.prp = make([]*hw.Buffer, depth)
		q.win = make([]*idl.BlockReq, depth)
		q.winCID = make([]int32, depth)
		for i := range depth {
			if q.data[i], err = c.dma.Alloc(pageSize, pageSize); err != nil {
				return nil, fmt.Errorf("nvme: queue %d: buffers: %w", id, err)
			}
			if q.prp[i], err = c.dma.Alloc(pageSize, pageSize); err != nil {
				return nil, fmt.Errorf("nvme: queue %d: PRP lists: %w", id, err)
			}
		}
	}
	q.reset()
	return q, nil
}

// reset empties the queue (after the controller was reset).
func (q *queuePair) reset() {
	q.sq.Zero(0, q.sq.Len())
	q.cq.Zero(0, q.cq.Len())
	q.sqTail, q.cqHead, q.phase, q.pending = 0, 0, 1, 0
	q.freeIDs = q.freeIDs[:0]
	for i := q.depth - 2; i >= 0; i-- { // depth-1 ids: never a full SQ
		q.freeIDs = append(q.freeIDs, uint16(i))
	}
	clear(q.slots)
	q.gen = q.c.gen.Load()
}

// full reports whether no command id is free.
func (q *queuePair) full() bool { return len(q.freeIDs) == 0 }

// A command is the fields of a submission entry the driver uses.
type command struct {
	opcode       uint8
	nsid         uint32
	prp1, prp2   uint64
	cdw10, cdw11 uint32
	cdw12        uint32
}

// push writes cmd into the SQ (the doorbell is rung by ring) and returns
// its id. The caller checked !full().
func (q *queuePair) push(cmd *command) uint16 {
	cid := q.freeIDs[len(q.freeIDs)-1]
	q.freeIDs = q.freeIDs[:len(q.freeIDs)-1]
	q.slots[cid] = slot{busy: true, opcode: cmd.opcode}
	off := q.sqTail * sqeSize
	q.sq.Zero(off, sqeSize)
	q.sq.Put32(off, uint32(cmd.opcode)|uint32(cid)<<16)
	q.sq.Put32(off+4, cmd.nsid)
	q.sq.Put64(off+24, cmd.prp1)
	q.sq.Put64(off+32, cmd.prp2)
	q.sq.Put32(off+40, cmd.cdw10)
	q.sq.Put32(off+44, cmd.cdw11)
	q.sq.Put32(off+48, cmd.cdw12)
	q.sqTail++
	if q.sqTail == q.depth {
		q.sqTail = 0
	}
	q.pending++
	return cid
}

// ring tells the controller about the entries pushed since the last ring:
// one doorbell write per batch.
func (q *queuePair) ring() { q.c.regs.Write32(q.sqDB, uint32(q.sqTail)) }

// reap consumes the completions that have arrived, marks their slots done
// and rings the CQ head doorbell once if it consumed any. It returns how
// many it consumed.
func (q *queuePair) reap() int {
	n := 0
	for {
		off := q.cqHead * cqeSize
		dw3 := q.cq.Load32(off + 12)
		if dw3>>16&1 != q.phase {
			break
		}
		cid := uint16(dw3)
		if int(cid) < len(q.slots) && q.slots[cid].busy && !q.slots[cid].done {
			s := &q.slots[cid]
			s.done = true
			s.status = uint16(dw3 >> 17)
			s.dw0 = q.cq.Get32(off)
			q.pending--
		}
		q.cqHead++
		if q.cqHead == q.depth {
			q.cqHead = 0
			q.phase ^= 1
		}
		n++
	}
	if n > 0 {
		q.c.regs.Write32(q.cqDB, uint32(q.cqHead))
	}
	return n
}

// release frees the id of a completed command and returns its status.
func (q *queuePair) release(cid uint16) (status uint16, dw0 uint32) {
	s := q.slots[cid]
	q.slots[cid] = slot{}
	q.freeIDs = append(q.freeIDs, cid)
	return s.status, s.dw0
}

// wait polls until command cid completed, the controller failed, or the
// timeout passed. Polling spins for a while (completions of a fast device
// come within microseconds), then sleeps between looks.
func (q *queuePair) wait(cid uint16, timeout time.Duration) error {
	return q.waitFor(func() bool { return q.slots[cid].done }, timeout)
}

// waitAll polls until no command is pending.
func (q *queuePair) waitAll(timeout time.Duration) error {
	return q.waitFor(func() bool { return q.pending == 0 }, timeout)
}

func (q *queuePair) waitFor(done func() bool, timeout time.Duration) error {
	q.reap()
	if done() {
		return nil
	}
	start := time.Now()
	lastCSTS := start
	for spins := 1; ; spins++ {
		q.reap()
		if done() {
			return nil
		}
		if spins%64 != 0 {
			continue
		}
		now := time.Now()
		if q.gen != q.c.gen.Load() {
			return ErrReset
		}
		q.c.check()
		if now.Sub(lastCSTS) > 5*time.Millisecond {
			lastCSTS = now
			if q.c.regs.Read32(regCSTS)&cstsCFS != 0 {
				return q.c.explain(ErrFatal)
			}
		}
		if now.Sub(start) > timeout {
			return q.c.explain(ErrTimeout)
		}
		if now.Sub(start) > q.c.cfg.Spin {
			q.c.sleep(20 * time.Microsecond)
		}
	}
}
