//rl:domain

// Package idldev adapts a block device domain to the file system: a
// blockdev.Device over an idl.BlockDevice capability. The Rv6 domain mounts
// its disk through it; kernel code (an NVMe root file system) can do the
// same with the kernel's heap account.
//
// It is a package of its own, not part of blockdev, so that the host tools
// built on the file system (mkfs, fsck) do not link the domain kernel.
package idldev

import (
	"fmt"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// A Device is a blockdev.Device over an idl.BlockDevice capability: a driver
// domain (the RAM disk, NVMe) seen by the file system. Each Read or Write
// moves the requests to the driver in batches of at most
// idl.BlockDeviceBatch, as a deque of RRef'd requests allocated from the
// holder's heap account, and copies the data between the file system's
// buffers and the requests (the file system keeps its buffers; the cells
// cross the boundary without a copy).
//
// Batches are reused: a Device keeps a free list of batches (a deque
// and its request cells), one per call in flight at the most, so that
// I/O allocates nothing in steady state. It is safe for concurrent use;
// calls in flight at once use batches of their own.
//
// The device may give the requests of a batch back in any order: each
// request is matched to its block number (the file system never has two
// requests for the same block in one batch).
type Device struct {
	dev  idl.BlockDevice
	heap *rref.Account
	n    uint64

	mu   sync.Mutex
	free []*idlBatch // idle batches, most recently used last
}

// idlBatch is one batch's worth of shared-heap state: an empty deque and
// the request cells, owned by the holder between calls.
type idlBatch struct {
	q     rref.Deque[idl.BlockReq]
	cells []rref.RRef[idl.BlockReq]
}

// New returns a blockdev.Device over dev, allocating its batches from
// heap: the account of the domain holding dev (a domain's Context.Heap(),
// or the kernel's heap for kernel code). It fails if dev's blocks are not
// blockdev.BlockSize bytes.
func New(dev idl.BlockDevice, heap *rref.Account) (*Device, error) {
	bs, err := dev.BlockSize()
	if err != nil {
		return nil, fmt.Errorf("blockdev: block size: %w", err)
	}
	if bs != blockdev.BlockSize {
		return nil, fmt.Errorf("blockdev: the device has %d-byte blocks, the file system needs %d: %w", bs, blockdev.BlockSize, errno.EINVAL)
	}
	n, err := dev.NumBlocks()
	if err != nil {
		return nil, fmt.Errorf("blockdev: size: %w", err)
	}
	return &Device{dev: dev, heap: heap, n: n}, nil
}

// NumBlocks is the size of the device in blocks, as it was when the
// Device was made.
func (d *Device) NumBlocks() uint64 { return d.n }

// Read fills the Data of each request from the device.
func (d *Device) Read(reqs []blockdev.Req) error { return d.do(reqs, false) }

// Write writes the Data of each request to the device.
func (d *Device) Write(reqs []blockdev.Req) error { return d.do(reqs, true) }

// Flush returns when every completed write is durable.
func (d *Device) Flush() error {
	if err := d.dev.Flush(); err != nil {
		return fmt.Errorf("blockdev: flush: %w: %w", errno.EIO, err)
	}
	return nil
}

// Close drops the idle batches' cells. Calls after Close still work,
// allocating batches again.
func (d *Device) Close() {
	d.mu.Lock()
	free := d.free
	d.free = nil
	d.mu.Unlock()
	for _, b := range free {
		b.drop()
	}
}

func (d *Device) do(reqs []blockdev.Req, write bool) error {
	if err := blockdev.CheckRange(reqs, d.n); err != nil {
		return err
	}
	if len(reqs) == 0 {
		return nil
	}
	b := d.get()
	defer d.put(b)
	for len(reqs) > 0 {
		m := min(len(reqs), idl.BlockDeviceBatch)
		if err := d.batch(b, reqs[:m], write); err != nil {
			return err
		}
		reqs = reqs[m:]
	}
	return nil
}

// batch moves one batch of at most idl.BlockDeviceBatch requests through
// the device.
func (d *Device) batch(b *idlBatch, reqs []blockdev.Req, write bool) error {
	if !b.q.Valid() {
		b.q = rref.NewDeque[idl.BlockReq](d.heap, idl.BlockDeviceBatch)
	}
	for len(b.cells) < len(reqs) {
		b.cells = append(b.cells, rref.New(d.heap, idl.BlockReq{}))
	}
	for i, r := range reqs {
		c := b.cells[i]
		if !c.Valid() { // lost in a failed call
			c = rref.New(d.heap, idl.BlockReq{})
		}
		req := c.Get()
		req.LBA, req.Status = r.LBA, idl.BlockIOError
		if write {
			req.Data = *r.Data
		}
		b.q.PushBack(c)
		b.cells[i] = rref.RRef[idl.BlockReq]{}
	}
	op := "read"
	sent := b.q
	var got rref.Deque[idl.BlockReq]
	var err error
	if write {
		op = "write"
		got, err = d.dev.Write(sent)
	} else {
		got, err = d.dev.Read(sent)
	}
	switch {
	case got.Valid():
		b.q = got
	case sent.Valid(): // a failed call gave the batch back
		b.q = sent
	default: // lost with the device: the cells go with it
		b.q = rref.Deque[idl.BlockReq]{}
	}
	var first error
	if err != nil {
		first = fmt.Errorf("blockdev: %s of %d blocks at %d: %w: %w", op, len(reqs), reqs[0].LBA, errno.EIO, err)
	}
	// Take the cells back, matching each to its request.
	i := 0
	for b.q.Valid() {
		c, ok := b.q.PopFront()
		if !ok {
			break
		}
		req := c.Get()
		j := i
		if j >= len(reqs) || reqs[j].LBA != req.LBA {
			j = indexLBA(reqs, req.LBA)
		}
		if j < 0 || b.cells[j].Valid() {
			c.Drop() // not one of ours: a device that invents requests
			if first == nil {
				first = fmt.Errorf("blockdev: %s: the device returned a request for block %d it was not given: %w", op, req.LBA, errno.EIO)
			}
			continue
		}
		b.cells[j] = c
		i = j + 1
		if first != nil {
			continue
		}
		switch req.Status {
		case idl.BlockOK:
			if !write {
				*reqs[j].Data = req.Data
			}
		case idl.BlockOutOfRange:
			first = &blockdev.RangeError{LBA: req.LBA, NumBlocks: d.n}
		default:
			first = fmt.Errorf("blockdev: %s of block %d: %w", op, req.LBA, errno.EIO)
		}
	}
	if first == nil {
		for j := range reqs {
			if !b.cells[j].Valid() {
				first = fmt.Errorf("blockdev: %s: the device did not return the request for block %d: %w", op, reqs[j].LBA, errno.EIO)
				break
			}
		}
	}
	return first
}

func indexLBA(reqs []blockdev.Req, lba uint64) int {
	for j := range reqs {
		if reqs[j].LBA == lba {
			return j
		}
	}
	return -1
}

func (d *Device) get() *idlBatch {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.free); n > 0 {
		b := d.free[n-1]
		d.free = d.free[:n-1]
		return b
	}
	return &idlBatch{}
}

func (d *Device) put(b *idlBatch) {
	d.mu.Lock()
	d.free = append(d.free, b)
	d.mu.Unlock()
}

func (b *idlBatch) drop() {
	for _, c := range b.cells {
		if c.Valid() {
			c.Drop()
		}
	}
	b.cells = nil
	if b.q.Valid() {
		b.q.Drop()
	}
}
