//rl:domain

// Package nvme is the NVMe driver domain: it brings up an NVMe controller
// it was granted (an hw.PCIDevice, under GrantPCI), creates its I/O queue
// pairs, and serves one namespace as an idl.BlockDevice.
//
// Bring-up is safe from any state firmware (or a dead instance of this
// driver) left the controller in: CC.EN=0 and CSTS.RDY=0 first. Requests
// move in batches: a batch's commands are written to the submission queue
// and the doorbell is rung once; completions are polled from memory (phase
// bit) and the completion doorbell written once per reap. Data moves
// through per-slot DMA bounce buffers, allocated at bring-up: nothing is
// allocated per I/O. Large transfers (Controller.Transfer) use PRP lists.
//
// Nothing hangs: a command that does not complete within Config.Timeout, or
// a controller that reports fatal status, resets the controller and is
// reported (ErrTimeout, ErrFatal; commands lost to a reset get ErrReset),
// with bus mastering switched off named as the likely cause
// (hw.ErrNoBusMaster). Behind a shadow (kernel/shadow), a dead instance is
// replaced by one that resets the controller and serves the retried batch.
package nvme

import (
	"fmt"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name the driver registers under.
const Kind = "nvme"

// Grant names.
const (
	GrantPCI    = "pci"        // the controller, an hw.PCIDevice (required)
	GrantConfig = "config"     // a Config (optional)
	GrantFaults = faults.Grant // a faults.Device (optional)
)

func init() {
	domain.Register(Kind, New)
}

// Disk implements idl.BlockDevice over one namespace of a Controller.
type Disk struct {
	ctx    *domain.Context
	c      *Controller
	ns     Namespace
	per    uint64 // logical blocks per idl.BlockSize block
	faults faults.Device
}

// New is the constructor of the domain: it brings up the controller it was
// granted.
func New(ctx *domain.Context) (idl.BlockDevice, error) {
	dev, err := domain.Device[hw.PCIDevice](ctx, GrantPCI)
	if err != nil || dev == nil {
		return nil, ErrNoDevice
	}
	cfg, _ := domain.Device[Config](ctx, GrantConfig)
	c, err := Open(dev, cfg, Hooks{Check: ctx.Check, Sleep: ctx.Sleep})
	if err != nil {
		return nil, err
	}
	return NewDisk(ctx, c, cfg.NSID)
}

// NewDisk serves namespace nsid of c (0: the first active namespace).
func NewDisk(ctx *domain.Context, c *Controller, nsid uint32) (*Disk, error) {
	if len(c.ns) == 0 {
		return nil, fmt.Errorf("nvme: %s has no active namespace", c.dev.Addr())
	}
	ns := c.ns[0]
	if nsid != 0 {
		var err error
		if ns, err = c.Namespace(nsid); err != nil {
			return nil, err
		}
	}
	if ns.BlockSize > idl.BlockSize || idl.BlockSize%ns.BlockSize != 0 {
		return nil, fmt.Errorf("nvme: namespace %d has %d-byte blocks; the block device needs a divisor of %d", ns.ID, ns.BlockSize, idl.BlockSize)
	}
	d := &Disk{ctx: ctx, c: c, ns: ns, per: uint64(idl.BlockSize / ns.BlockSize)}
	if ctx != nil {
		d.faults = faults.From(ctx)
	}
	return d, nil
}

func (d *Disk) point() {
	if d.faults != nil {
		d.faults.Point(d.ctx)
	}
}

// Controller is the disk's controller.
func (d *Disk) Controller() *Controller { return d.c }

// BlockSize is idl.BlockSize.
func (d *Disk) BlockSize() (uint32, error) {
	d.point()
	return idl.BlockSize, nil
}

// NumBlocks is the namespace's size in idl.BlockSize blocks.
func (d *Disk) NumBlocks() (uint64, error) {
	d.point()
	return d.ns.Blocks / d.per, nil
}

// Read fills each request of batch from its block.
func (d *Disk) Read(batch rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	d.point()
	return batch, d.do(OpRead, batch)
}

// Write writes each request of batch to its block.
func (d *Disk) Write(batch rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	d.point()
	return batch, d.do(OpWrite, batch)
}

// Flush makes the completed writes durable.
func (d *Disk) Flush() error {
	d.point()
	return d.c.Flush(d.ns.ID)
}

// do runs a batch on one I/O queue pair, in windows of as many requests as
// the queue has free command ids: each window is written to the SQ, the
// doorbell rung once, and its completions reaped. Nothing here allocates.
//
// The requests stay in the batch: the driver reaches them in place
// (rref.Deque.At) and the window keeps only pointers. So if the domain dies
// (a panic, or a kill that closes its heap under the call) the whole batch
// is in the deque the proxy hands back to the caller (rref.RescueDeque),
// and a shadow can retry it.
func (d *Disk) do(op uint8, batch rref.Deque[idl.BlockReq]) error {
	q, err := d.c.takeQueue()
	if err != nil {
		failAll(batch, 0)
		return err
	}
	defer d.c.putQueue(q)
	blocks := d.ns.Blocks / d.per
	total := batch.Len()
	for left := total; left > 0; {
		k := 0
		for ; left > 0 && !q.full() && k < len(q.win); left-- {
			req := batch.At(total - left)
			q.win[k], q.winCID[k] = req, -1
			k++
			if req.LBA >= blocks {
				req.Status = idl.BlockOutOfRange
				continue
			}
			cid := q.freeIDs[len(q.freeIDs)-1]
			buf := q.data[cid]
			if op == OpWrite {
				buf.CopyIn(0, req.Data[:])
			}
			slba := req.LBA * d.per
			q.winCID[k-1] = int32(q.push(&command{opcode: op, nsid: d.ns.ID, prp1: buf.Phys(),
				cdw10: uint32(slba), cdw11: uint32(slba >> 32), cdw12: uint32(d.per - 1)}))
		}
		q.ring()
		err := q.waitAll(d.c.cfg.Timeout)
		for i := range k {
			req := q.win[i]
			q.win[i] = nil
			cid := q.winCID[i]
			switch {
			case cid < 0:
			case err != nil:
				req.Status = idl.BlockIOError
			default:
				st, _ := q.release(uint16(cid))
				switch {
				case st == 0:
					req.Status = idl.BlockOK
					if op == OpRead {
						q.data[cid].CopyOut(req.Data[:], 0)
					}
				case st&0xff == SCLBAOutOfRange && st>>8&7 == 0:
					req.Status = idl.BlockOutOfRange
				default:
					req.Status = idl.BlockIOError
				}
			}
		}
		if err != nil {
			failAll(batch, total-left)
			return d.c.ioFailed(q, err)
		}
	}
	return nil
}

// failAll marks the requests of batch from index first on failed.
func failAll(batch rref.Deque[idl.BlockReq], first int) {
	for i := first; i < batch.Len(); i++ {
		batch.At(i).Status = idl.BlockIOError
	}
}
