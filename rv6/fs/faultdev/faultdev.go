//rl:domain

// Package faultdev is a block device that crashes: a RAM disk that stops
// at a chosen write, and remembers which writes were flushed, so that a
// test can build the disk image a power cut would leave and check that the
// file system recovers from it.
//
// The model: a Write changes what Reads return at once, but reaches the
// medium only at the next Flush; un-flushed writes may reach it or not,
// in any order (each block whole or not at all). At the crash point the
// device fails that write and every request after it; Image then builds
// the medium's contents from the flushed writes plus a chosen subset of
// the un-flushed ones.
//
// A Disk is copy-on-write over a base RAM disk, which it never writes and
// which must not change while the Disk is in use: many Disks (one per
// crash point of a test) share one base.
package faultdev

import (
	"errors"
	"maps"
	"math/rand/v2"
	"sync"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// ErrCrashed is what every request returns after the crash.
var ErrCrashed = errors.New("faultdev: the device crashed (simulated power loss)")

// ErrIO is what a request chosen by FailWrite or FailFlush returns: an I/O
// error after which the device goes on working.
var ErrIO = errors.New("faultdev: I/O error (injected)")

// Never is the crash point of a device that does not crash.
const Never = -1

type write struct {
	lba  uint64
	data *blockdev.Block // never changed: each write has its own copy
}

// A Disk is a crashing RAM disk.
type Disk struct {
	base *blockdev.MemDisk

	mu      sync.Mutex
	cur     map[uint64]*blockdev.Block // what reads see, over base
	durable map[uint64]*blockdev.Block // what has been flushed, over base
	pending []write                    // written since the last flush, in order
	writes  int
	flushes int
	crashAt int
	crashed bool

	failWrite, failFlush int  // the write and flush that fail with ErrIO, or Never
	failed               bool // one of them has failed
}

// New returns a device with base's contents that crashes at block write
// number crashAt (counting from 0, each block of a batch counting one),
// or never (Never).
func New(base *blockdev.MemDisk, crashAt int) *Disk {
	return &Disk{base: base, cur: map[uint64]*blockdev.Block{}, durable: map[uint64]*blockdev.Block{}, crashAt: crashAt, failWrite: Never, failFlush: Never}
}

// FailWrite makes block write number n (counted as crash points are) fail
// with ErrIO, once: the blocks of its batch before it are written, it and
// those after it are not, and the device goes on working.
func (d *Disk) FailWrite(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failWrite = n
}

// FailFlush makes flush number n (from 0) fail with ErrIO, once: the
// writes it would have made durable stay pending.
func (d *Disk) FailFlush(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failFlush = n
}

// Failed reports whether a write or flush chosen by FailWrite or FailFlush
// has failed.
func (d *Disk) Failed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// NumBlocks is the size of the disk.
func (d *Disk) NumBlocks() uint64 { return d.base.NumBlocks() }

// Read reads the latest contents.
func (d *Disk) Read(reqs []blockdev.Req) error {
	if err := blockdev.CheckRange(reqs, d.base.NumBlocks()); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashed {
		return ErrCrashed
	}
	for i, r := range reqs {
		if b := d.cur[r.LBA]; b != nil {
			*r.Data = *b
		} else if err := d.base.Read(reqs[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// Write writes blocks in order until the crash point.
func (d *Disk) Write(reqs []blockdev.Req) error {
	if err := blockdev.CheckRange(reqs, d.base.NumBlocks()); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashed {
		return ErrCrashed
	}
	for _, r := range reqs {
		if d.writes == d.crashAt {
			d.crashed = true
			return ErrCrashed
		}
		if d.writes == d.failWrite {
			d.writes++ // the failed write counts, as an attempt
			d.failed = true
			return ErrIO
		}
		b := new(blockdev.Block)
		*b = *r.Data
		d.cur[r.LBA] = b
		d.pending = append(d.pending, write{lba: r.LBA, data: b})
		d.writes++
	}
	return nil
}

// Flush makes the pending writes durable.
func (d *Disk) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashed {
		return ErrCrashed
	}
	if d.flushes == d.failFlush {
		d.flushes++
		d.failed = true
		return ErrIO
	}
	for _, w := range d.pending {
		d.durable[w.lba] = w.data
	}
	d.pending = d.pending[:0]
	d.flushes++
	return nil
}

// Crash crashes the device now.
func (d *Disk) Crash() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.crashed = true
}

// Crashed reports whether the device has crashed.
func (d *Disk) Crashed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.crashed
}

// Writes returns the number of block writes so far.
func (d *Disk) Writes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writes
}

// Flushes returns the number of flushes so far.
func (d *Disk) Flushes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushes
}

// Pending returns the number of writes not flushed.
func (d *Disk) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending)
}

// A Survival says which un-flushed writes reach the medium in Image.
type Survival int

const (
	// AllPending: every write before the crash point, in order (the
	// device simply stopped).
	AllPending Survival = iota
	// NonePending: only what was flushed.
	NonePending
	// RandomPending: each un-flushed write independently, with
	// probability 1/2 (reordering: a later write may land without an
	// earlier one).
	RandomPending
)

// Image returns the medium after a crash, as a new Disk (that does not
// crash, over the same base): the flushed writes and the un-flushed ones
// that s (and rng, for RandomPending) lets through.
func (d *Disk) Image(s Survival, rng *rand.Rand) *Disk {
	d.mu.Lock()
	defer d.mu.Unlock()
	img := maps.Clone(d.durable)
	for _, w := range d.pending {
		switch s {
		case NonePending:
			continue
		case RandomPending:
			if rng.IntN(2) == 0 {
				continue
			}
		}
		img[w.lba] = w.data
	}
	return &Disk{base: d.base, cur: img, durable: maps.Clone(img), crashAt: Never, failWrite: Never, failFlush: Never}
}

// Snapshot returns the current contents as a MemDisk.
func (d *Disk) Snapshot() *blockdev.MemDisk {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.base.Clone()
	for lba, b := range d.cur {
		m.Write([]blockdev.Req{{LBA: lba, Data: b}})
	}
	return m
}

// Fork returns a new Disk over the same base whose contents (all durable)
// are d's current ones, crashing at crashAt: to crash the recovery of an
// image.
func (d *Disk) Fork(crashAt int) *Disk {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &Disk{base: d.base, cur: maps.Clone(d.cur), durable: maps.Clone(d.cur), crashAt: crashAt, failWrite: Never, failFlush: Never}
}
