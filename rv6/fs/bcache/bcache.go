//rl:domain

// Package bcache is the buffer cache of the Rv6 file system, the layer
// above the block device: it keeps recently used blocks in memory, makes
// sure each block has at most one copy in memory, and batches the reads it
// sends to the device.
//
// A Buf is a cached block. Callers get a referenced Buf (Read, ReadBatch,
// Fresh, ForOverwrite) and must Release it; a referenced Buf stays in the
// cache with valid contents. The log (package wal) Pins the Bufs of the
// open transaction so they stay cached until they are installed: until
// then the cache holds the only up-to-date copy of those blocks, so a
// pinned Buf is never evicted. Unreferenced, unpinned Bufs are kept in LRU
// order and evicted when the cache is over capacity. Capacity is a soft
// limit: when every Buf is referenced or pinned, the cache grows rather
// than fail, and shrinks back as Bufs are released.
//
// The cache writes nothing: writing is the log's business.
//
// Who guards a Buf's Data: the cache guards it while loading it; after
// that, the caller. Blocks shared by several inodes (inode table blocks,
// bitmap blocks, the superblock) are read and changed under the Buf's own
// lock (Lock/Unlock); data, directory and indirect blocks belong to one
// inode and are guarded by that inode's lock instead.
//
// Lock order: Buf.Lock before Cache.mu (which is a leaf: the cache never
// waits on anything while holding it). A Buf's load mutex is held only by
// the goroutine loading it, which takes no other lock while it does.
package bcache

import (
	"sync"
	"sync/atomic"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// Buf states.
const (
	loading int32 = iota
	valid
	failed
)

// A Buf is a cached block.
type Buf struct {
	block uint64
	Data  *blockdev.Block

	mu sync.Mutex // see Lock

	// load is held by the goroutine that loads the block from the device,
	// from before the Buf is published in the map until state leaves
	// loading; others wait by taking it. state is read without it on the
	// fast path.
	load  sync.Mutex
	state atomic.Int32
	err   error // why the load failed; written before state becomes failed

	// Guarded by Cache.mu.
	ref        int
	pins       int
	gone       bool // removed from the map after a failed load
	prev, next *Buf // LRU list links, when unreferenced and unpinned
}

// Block returns the block number of b.
func (b *Buf) Block() uint64 { return b.block }

// Lock locks the contents of b, for blocks shared by several inodes.
func (b *Buf) Lock() { b.mu.Lock() }

// Unlock unlocks the contents of b.
func (b *Buf) Unlock() { b.mu.Unlock() }

// A Cache is a buffer cache over one device.
type Cache struct {
	dev blockdev.Device
	cap int

	mu    sync.Mutex
	bufs  map[uint64]*Buf
	lru   Buf // sentinel of the LRU list: lru.next is the most recently used
	spare []*blockdev.Block
	stats Stats
}

// Stats are counters of a cache.
type Stats struct {
	Capacity int   // soft limit, in blocks
	Resident int   // blocks in memory
	Pinned   int   // blocks pinned by the log
	Hits     int64 // lookups found in the cache
	Misses   int64 // lookups read from the device
}

// Bytes is the memory holding block contents.
func (s Stats) Bytes() int64 { return int64(s.Resident) * blockdev.BlockSize }

// New returns a cache of capacity blocks (at least 16) over dev.
func New(dev blockdev.Device, capacity int) *Cache {
	c := &Cache{dev: dev, cap: max(capacity, 16), bufs: make(map[uint64]*Buf)}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Device returns the device under the cache, for the log's own writes.
func (c *Cache) Device() blockdev.Device { return c.dev }

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Capacity, s.Resident = c.cap, len(c.bufs)
	for _, b := range c.bufs {
		if b.pins > 0 {
			s.Pinned++
		}
	}
	return s
}

// Read returns block blk, referenced and valid.
func (c *Cache) Read(blk uint64) (*Buf, error) {
	c.mu.Lock()
	b, isNew := c.getLocked(blk)
	c.mu.Unlock()
	if isNew {
		c.load([]*Buf{b})
	}
	if err := c.wait(b); err != nil {
		c.Release(b)
		return nil, err
	}
	return b, nil
}

// ReadBatch returns blocks blks (in that order), referenced and valid. The
// blocks not cached are read from the device in one batch.
func (c *Cache) ReadBatch(blks []uint64) ([]*Buf, error) {
	bufs := make([]*Buf, len(blks))
	var toLoad []*Buf
	c.mu.Lock()
	for i, blk := range blks {
		b, isNew := c.getLocked(blk)
		bufs[i] = b
		if isNew {
			toLoad = append(toLoad, b)
		}
	}
	c.mu.Unlock()
	if len(toLoad) > 0 {
		c.load(toLoad)
	}
	var err error
	for _, b := range bufs {
		if e := c.wait(b); e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		for _, b := range bufs {
			c.Release(b)
		}
		return nil, err
	}
	return bufs, nil
}

// Fresh returns block blk, referenced, valid and zeroed, without reading
// it: for a block just allocated, whose old contents are garbage.
func (c *Cache) Fresh(blk uint64) *Buf {
	return c.noRead(blk, true)
}

// ForOverwrite returns block blk, referenced and valid, without reading it
// if it is not cached: for a block the caller overwrites entirely before
// releasing it (and before anyone else may read it: the caller holds the
// lock that guards the block). Its contents until then are garbage.
func (c *Cache) ForOverwrite(blk uint64) *Buf {
	return c.noRead(blk, false)
}

func (c *Cache) noRead(blk uint64, zero bool) *Buf {
	for {
		c.mu.Lock()
		b, isNew := c.getLocked(blk)
		c.mu.Unlock()
		if isNew {
			if zero {
				*b.Data = blockdev.Block{}
			}
			b.state.Store(valid)
			b.load.Unlock()
			return b
		}
		if c.wait(b) == nil {
			if zero {
				*b.Data = blockdev.Block{}
			}
			return b
		}
		// Someone else's load of it failed and removed it: try again, as
		// a new Buf that needs no read.
		c.Release(b)
	}
}

// Overlay puts data in the cache as block blk, pinned for good: for a
// read-only mount, which shows the blocks of a committed but uninstalled
// log transaction without writing them.
func (c *Cache) Overlay(blk uint64, data *blockdev.Block) {
	b := c.noRead(blk, false)
	*b.Data = *data
	c.Pin(b)
	c.Release(b)
}

// Release drops a reference to b.
func (c *Cache) Release(b *Buf) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b.ref--
	if b.ref < 0 {
		panic("bcache: Release of an unreferenced Buf")
	}
	c.idleLocked(b)
}

// Pin keeps b in the cache until Unpin, referenced or not. Pins nest.
func (c *Cache) Pin(b *Buf) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.pins == 0 && b.ref == 0 {
		c.unlinkLocked(b)
	}
	b.pins++
}

// Unpin undoes a Pin.
func (c *Cache) Unpin(b *Buf) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b.pins--
	if b.pins < 0 {
		panic("bcache: Unpin of an unpinned Buf")
	}
	c.idleLocked(b)
}

// getLocked finds or makes the Buf of blk and references it. A new Buf is
// returned with its load mutex held and state loading: the caller loads it
// (or marks it valid) and unlocks the mutex.
func (c *Cache) getLocked(blk uint64) (b *Buf, isNew bool) {
	if b := c.bufs[blk]; b != nil {
		if b.ref == 0 && b.pins == 0 {
			c.unlinkLocked(b)
		}
		b.ref++
		c.stats.Hits++
		return b, false
	}
	c.stats.Misses++
	b = &Buf{block: blk, ref: 1}
	if len(c.bufs) >= c.cap {
		c.evictLocked(len(c.bufs) - c.cap + 1)
	}
	if n := len(c.spare); n > 0 {
		b.Data, c.spare = c.spare[n-1], c.spare[:n-1]
	} else {
		b.Data = new(blockdev.Block)
	}
	b.load.Lock()
	c.bufs[blk] = b
	return b, true
}

// load reads new Bufs (from getLocked) from the device in one batch and
// publishes the outcome.
func (c *Cache) load(bufs []*Buf) {
	reqs := make([]blockdev.Req, len(bufs))
	for i, b := range bufs {
		reqs[i] = blockdev.Req{LBA: b.block, Data: b.Data}
	}
	err := c.dev.Read(reqs)
	if err != nil {
		c.mu.Lock()
		for _, b := range bufs {
			delete(c.bufs, b.block)
			b.gone = true
		}
		c.mu.Unlock()
	}
	for _, b := range bufs {
		if err != nil {
			b.err = err
			b.state.Store(failed)
		} else {
			b.state.Store(valid)
		}
		b.load.Unlock()
	}
}

// wait returns once b is loaded, with the error of a failed load.
func (c *Cache) wait(b *Buf) error {
	if b.state.Load() == valid {
		return nil
	}
	b.load.Lock()
	defer b.load.Unlock()
	if b.state.Load() == failed {
		return b.err
	}
	return nil
}

// idleLocked puts b on the LRU list if nobody needs it any more, and
// evicts if the cache is over capacity.
func (c *Cache) idleLocked(b *Buf) {
	if b.ref > 0 || b.pins > 0 || b.gone {
		return
	}
	b.next, b.prev = c.lru.next, &c.lru
	b.next.prev, c.lru.next = b, b
	if len(c.bufs) > c.cap {
		c.evictLocked(len(c.bufs) - c.cap)
	}
}

// evictLocked drops up to n least recently used idle Bufs.
func (c *Cache) evictLocked(n int) {
	for ; n > 0 && c.lru.prev != &c.lru; n-- {
		b := c.lru.prev
		c.unlinkLocked(b)
		delete(c.bufs, b.block)
		c.spare = append(c.spare, b.Data)
		b.Data = nil
	}
	// Keep a few spare arrays for the next misses, not an unbounded pile.
	if len(c.spare) > 64 {
		clear(c.spare[64:])
		c.spare = c.spare[:64]
	}
}

func (c *Cache) unlinkLocked(b *Buf) {
	if b.next == nil {
		return
	}
	b.prev.next, b.next.prev = b.next, b.prev
	b.next, b.prev = nil, nil
}
