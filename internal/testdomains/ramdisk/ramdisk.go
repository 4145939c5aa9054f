//rl:domain

// Package ramdisk is a block device in memory (idl.BlockDevice): the sample
// driver of the IDL's batched, zero-copy block interface, and a stand-in for
// a disk in tests.
package ramdisk

import (
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name ramdisk registers under.
const Kind = "ramdisk"

// GrantConfig is the grant name of its Config (optional).
const GrantConfig = "config"

// Config configures a ramdisk.
type Config struct {
	Blocks uint64 // default 256 (1 MiB)
}

func init() {
	domain.Register(Kind, New)
}

// Disk implements idl.BlockDevice.
type Disk struct {
	mu     sync.RWMutex
	blocks []idl.Block
}

// New is the constructor.
func New(ctx *domain.Context) (idl.BlockDevice, error) {
	cfg, _ := domain.Device[Config](ctx, GrantConfig)
	if cfg.Blocks == 0 {
		cfg.Blocks = 256
	}
	return &Disk{blocks: make([]idl.Block, cfg.Blocks)}, nil
}

// BlockSize is idl.BlockSize.
func (d *Disk) BlockSize() (uint32, error) { return idl.BlockSize, nil }

// NumBlocks is the disk's size in blocks.
func (d *Disk) NumBlocks() (uint64, error) { return uint64(len(d.blocks)), nil }

// Read fills each request from its block.
func (d *Disk) Read(batch rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.each(batch, func(r *idl.BlockReq) { r.Data = d.blocks[r.LBA] })
	return batch, nil
}

// Write stores each request in its block.
func (d *Disk) Write(batch rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.each(batch, func(r *idl.BlockReq) { d.blocks[r.LBA] = r.Data })
	return batch, nil
}

// Flush has nothing to do: memory is as durable as it gets.
func (d *Disk) Flush() error { return nil }

// each applies do to every request of batch in range, and sets every
// status. It pops each request and pushes it back, so the batch keeps its
// order.
func (d *Disk) each(batch rref.Deque[idl.BlockReq], do func(*idl.BlockReq)) {
	for range batch.Len() {
		r, _ := batch.PopFront()
		req := r.Get()
		if req.LBA >= uint64(len(d.blocks)) {
			req.Status = idl.BlockOutOfRange
		} else {
			do(req)
			req.Status = idl.BlockOK
		}
		batch.PushBack(r)
	}
}
