//rl:domain

// Package ramdisk is the RAM-disk driver of the booted system: a domain that
// implements idl.BlockDevice over memory the kernel grants it.
//
// The memory is a device, not the driver's state: the kernel creates it and
// grants it (domain.GrantDevice(ramdisk.GrantMemory, mem)), and the driver
// only reads and writes blocks through it. So, as a disk's contents survive a
// crash of its driver, the RAM disk's contents survive the driver's death:
// the instance a shadow (or the kernel) re-creates is granted the same
// memory and serves the same blocks. (The memory must not have a Reset
// method, which the kernel calls on a dead domain's devices: that would wipe
// the disk with every restart.)
//
// The driver is fault-injectable: it calls the Point of the fault injector
// it was granted (package kernel/faults, optional) at the entry of every IDL
// method.
//
// It is derived from internal/testdomains/ramdisk, which keeps its
// blocks in its own heap and loses them when it dies.
package ramdisk

import (
	"errors"
	"fmt"
	"io"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name the driver registers under.
const Kind = "ramdisk"

// Grant names.
const (
	GrantMemory = "memory"     // its Memory (required)
	GrantFaults = faults.Grant // its faults.Device (optional)
)

// Memory is the storage the kernel grants the driver: Size bytes, read and
// written at byte offsets. The kernel's implementation must be safe for
// concurrent use (a thread of a dead instance may still be in it while the
// next instance starts) and must not have a Reset method.
type Memory interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
}

// ErrNoMemory is the constructor's error when the driver was granted no
// usable Memory.
var ErrNoMemory = errors.New("ramdisk: no memory granted (grant a ramdisk.Memory under \"memory\")")

func init() {
	domain.Register(Kind, New)
}

// Disk implements idl.BlockDevice.
type Disk struct {
	ctx    *domain.Context
	mem    Memory
	blocks uint64
	faults faults.Device
}

// New is the constructor: it takes the memory it was granted, and the fault
// injector if it was granted one.
func New(ctx *domain.Context) (idl.BlockDevice, error) {
	mem, err := domain.Device[Memory](ctx, GrantMemory)
	if err != nil || mem == nil {
		return nil, ErrNoMemory
	}
	blocks := uint64(mem.Size()) / idl.BlockSize
	if mem.Size() <= 0 || blocks == 0 {
		return nil, fmt.Errorf("ramdisk: the memory granted holds %d bytes, less than one block", mem.Size())
	}
	return &Disk{ctx: ctx, mem: mem, blocks: blocks, faults: faults.From(ctx)}, nil
}

// BlockSize is idl.BlockSize.
func (d *Disk) BlockSize() (uint32, error) {
	d.faults.Point(d.ctx)
	return idl.BlockSize, nil
}

// NumBlocks is the disk's size in blocks.
func (d *Disk) NumBlocks() (uint64, error) {
	d.faults.Point(d.ctx)
	return d.blocks, nil
}

// Read fills each request from its block.
func (d *Disk) Read(batch rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	d.faults.Point(d.ctx)
	d.each(batch, func(r *idl.BlockReq) error {
		_, err := d.mem.ReadAt(r.Data[:], d.offset(r.LBA))
		return err
	})
	return batch, nil
}

// Write stores each request in its block.
func (d *Disk) Write(batch rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	d.faults.Point(d.ctx)
	d.each(batch, func(r *idl.BlockReq) error {
		_, err := d.mem.WriteAt(r.Data[:], d.offset(r.LBA))
		return err
	})
	return batch, nil
}

// Flush has nothing to do: every write is in the memory when Write returns.
func (d *Disk) Flush() error {
	d.faults.Point(d.ctx)
	return nil
}

func (d *Disk) offset(lba uint64) int64 { return int64(lba * idl.BlockSize) }

// each applies do to every request of batch in range, and sets every
// status: out of range, an I/O error if do failed, OK otherwise. The
// requests stay in the batch (reached in place), so a failure in the middle
// leaves the whole batch with the caller.
func (d *Disk) each(batch rref.Deque[idl.BlockReq], do func(*idl.BlockReq) error) {
	for i := range batch.Len() {
		req := batch.At(i)
		switch {
		case req.LBA >= d.blocks:
			req.Status = idl.BlockOutOfRange
		case do(req) != nil:
			req.Status = idl.BlockIOError
		default:
			req.Status = idl.BlockOK
		}
	}
}
