//rl:domain

// Package wal is the write-ahead log of the Rv6 file system, the layer
// above the buffer cache: it makes each file-system operation atomic with
// respect to crashes, and commits concurrent operations together (group
// commit).
//
// An operation brackets its changes with Begin and End and hands every
// block it changes to Op.Write (after changing the cached copy). The
// changed blocks stay pinned in the buffer cache until their transaction
// is committed:
//
//  1. the logged copies and the header (home block numbers and a CRC-32C
//     over header and copies) are written to the log area in one batch,
//     then Flush: the transaction is committed (durable) when this Flush
//     returns;
//  2. the blocks are written to their homes (installed), then Flush;
//  3. an empty header is written, without a Flush of its own (the next
//     commit's or unmount's Flush makes it durable).
//
// Recovery (Open) reads the header: if the CRC matches the logged copies,
// it installs them again (installing is idempotent); if not, the commit
// never completed step 1 and is discarded. Why skipping the Flush between
// the copies and the header, and after the empty header, is safe: a device
// may persist un-flushed writes in any order, so a header can reach the
// disk without its copies; the CRC catches that. A stale header of an
// already installed transaction can meet copies of the next one only after
// that transaction's install Flush (step 2), so a mismatch then means
// "installed already": discarding it is right, and replaying it when no new
// copy landed is harmless.
//
// A transaction holds at most Capacity blocks (log blocks minus the
// header). Each operation reserves the blocks it may write at Begin; Begin
// waits while the open transaction cannot take the reservation, committing
// it when no operation is left in it. Op.Room tells an operation how much
// of its reservation is left, so long writes and truncations split
// themselves across operations.
//
// Durability (Mode): with SyncEachOp (the default) End returns only when
// the operation's transaction is committed: whatever an operation did is
// durable once it returns. Operations running at the same time share one
// commit: each ending operation waits, new ones wait to begin, and the last
// one out commits for all. With SyncOnDemand End returns at once; a
// transaction commits when Sync is called, when the log fills, or at
// Close. Either way a commit never splits an operation, so after a crash
// the file system is as it was after some prefix of the operations, and
// contains at least every operation whose End (SyncEachOp) or a later Sync
// returned nil.
//
// A device error while committing is sticky: the log refuses all further
// operations with errno.EIO (the cached state may be ahead of the disk).
//
// Lock order: Log.mu is taken after inode and buffer locks, and before the
// buffer cache's lock. Begin must not be called while holding an inode lock
// (it may wait for a commit, which waits for operations that may need that
// lock), and an operation must not Begin another.
package wal

import (
	"fmt"
	"slices"
	"sync"

	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// Mode says when an operation's changes become durable.
type Mode int

const (
	// SyncEachOp commits before End returns (group commit for operations
	// that overlap).
	SyncEachOp Mode = iota
	// SyncOnDemand commits at Sync, when the log fills, and at Close.
	SyncOnDemand
)

// A Log is the write-ahead log of one mounted file system.
type Log struct {
	cache    *bcache.Cache
	dev      blockdev.Device
	nlog     uint32
	capacity int
	mode     Mode
	readOnly bool
	hdr      *blockdev.Block // the header block being written

	mu          sync.Mutex
	cond        sync.Cond
	outstanding int       // operations between Begin and End
	reserved    int       // what outstanding operations reserved and have not used
	committing  bool      // a commit's I/O is in progress (mu released)
	wantCommit  bool      // someone waits for a commit: new operations wait to begin
	queue       []*waiter // Begins waiting to be admitted, in arrival order
	tx          []*bcache.Buf
	inTx        map[uint64]bool
	gen         uint64 // the open transaction's generation
	committed   uint64 // the last committed generation
	seq         uint64 // the next header's sequence number
	err         error  // sticky commit error
	stats       Stats
}

// Stats are counters of a log.
type Stats struct {
	Commits int64 // transactions committed (empty ones not counted)
	Blocks  int64 // blocks logged
	Ops     int64 // operations ended
}

// Open recovers the log of the file system described by sb on the cache's
// device and returns it. Nothing of the file system may have been read
// through the cache before (recovery writes the device directly).
//
// A read-only log recovers without writing: the blocks of a committed
// transaction are laid over the device in the cache instead, and Begin
// fails with errno.EROFS.
func Open(cache *bcache.Cache, sb *layout.Superblock, mode Mode, readOnly bool) (*Log, error) {
	l := &Log{
		cache:     cache,
		dev:       cache.Device(),
		nlog:      sb.NLog,
		capacity:  min(int(sb.NLog)-1, layout.MaxLogEntries),
		mode:      mode,
		readOnly:  readOnly,
		inTx:      make(map[uint64]bool),
		hdr:       new(blockdev.Block),
		gen:       1,
		committed: 0,
	}
	l.cond.L = &l.mu
	st, err := ReadState(l.dev, sb)
	if err != nil {
		return nil, err
	}
	l.seq = st.Header.Seq + 1
	switch {
	case readOnly:
		for i, a := range st.Header.Blocks {
			if st.Committed {
				cache.Overlay(uint64(a), st.Data[i])
			}
		}
	case st.Committed:
		if err := l.install(st.Header.Blocks, st.Data); err != nil {
			return nil, fmt.Errorf("wal: replaying the log: %w", err)
		}
		fallthrough
	case len(st.Header.Blocks) > 0:
		err := l.writeHeader(l.seq)
		if err == nil {
			err = l.dev.Flush()
		}
		if err != nil {
			return nil, fmt.Errorf("wal: clearing the log: %w", err)
		}
	}
	return l, nil
}

// A State is what the log on a device holds.
type State struct {
	Header    layout.LogHeader
	Committed bool              // the header's CRC matches: recovery installs Data
	Data      []*blockdev.Block // the logged copies, Data[i] of Header.Blocks[i]
}

// ReadState reads the log of the file system sb on dev without changing
// anything (recovery and fsck use it). A header that names blocks but whose
// CRC does not match is an uncommitted transaction (Committed false); a
// header that cannot be one the log wrote is an error wrapping
// errno.EUCLEAN.
func ReadState(dev blockdev.Device, sb *layout.Superblock) (State, error) {
	hb, err := blockdev.ReadBlock(dev, layout.LogStart)
	if err != nil {
		return State{}, fmt.Errorf("wal: reading the log header: %w", err)
	}
	h, err := layout.DecodeLogHeader(hb)
	if err != nil {
		return State{}, err
	}
	st := State{Header: h}
	n := len(h.Blocks)
	if n == 0 {
		return st, nil
	}
	if n > int(sb.NLog)-1 {
		return State{}, errno.Corrupt("log header: %d blocks do not fit in a log of %d", n, sb.NLog)
	}
	st.Data = make([]*blockdev.Block, n)
	reqs := make([]blockdev.Req, n)
	for i := range reqs {
		st.Data[i] = new(blockdev.Block)
		reqs[i] = blockdev.Req{LBA: uint64(layout.LogStart + 1 + i), Data: st.Data[i]}
	}
	if err := dev.Read(reqs); err != nil {
		return State{}, fmt.Errorf("wal: reading the log: %w", err)
	}
	if h.Sum(st.Data) != h.CRC {
		return st, nil // never committed: discard
	}
	if err := h.CheckBlocks(sb); err != nil {
		return State{}, err
	}
	st.Committed = true
	return st, nil
}

// Capacity is the most blocks one transaction can hold.
func (l *Log) Capacity() int { return l.capacity }

// ReadOnly reports whether the log refuses operations.
func (l *Log) ReadOnly() bool { return l.readOnly }

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Err returns the sticky error, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Fail makes err the sticky error (for a layer above that finds the file
// system in a state it cannot continue from), unless one is set already.
func (l *Log) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = fmt.Errorf("file system failed: %v: %w", err, errno.EIO)
		l.cond.Broadcast()
	}
}

// An Op is one operation: a set of changes that reach the disk together.
// An Op is used by one goroutine.
type Op struct {
	l       *Log
	reserve int
	used    int // blocks this op added to the transaction
	wrote   bool
	gen     uint64
}

// A waiter is a Begin waiting to be admitted into the transaction.
type waiter struct {
	n        int
	admitted bool
	gen      uint64
}

// Begin starts an operation that will add at most n blocks to the
// transaction (blocks it writes that are in the transaction already do not
// count). It waits while a commit is in progress or due, or while the
// transaction has no room for n more blocks.
//
// Waiters are admitted in order, in a batch, by whoever makes room (the
// end of a commit, the end of an operation): so the operations that
// arrive during a commit all join the next transaction and share its
// commit, rather than the fastest goroutine committing alone again and
// again.
func (l *Log) Begin(n int) (*Op, error) {
	if l.readOnly {
		return nil, errno.EROFS
	}
	if n <= 0 || n > l.capacity {
		return nil, fmt.Errorf("wal: an operation of %d blocks does not fit in a transaction of %d: %w", n, l.capacity, errno.EINVAL)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := &waiter{n: n}
	l.queue = append(l.queue, w)
	for {
		if l.err != nil {
			l.queue = slices.DeleteFunc(l.queue, func(x *waiter) bool { return x == w })
			return nil, l.err
		}
		l.admitLocked()
		if w.admitted {
			return &Op{l: l, reserve: n, gen: w.gen}, nil
		}
		if !l.committing && l.outstanding == 0 {
			// Nobody is left to commit the transaction that keeps the
			// head of the queue out: do it now.
			l.commitLocked()
			continue
		}
		if !l.committing && l.headBlockedLocked() {
			l.wantCommit = true // drain the transaction
		}
		l.cond.Wait()
	}
}

// admitLocked admits waiters from the head of the queue while they fit
// and no commit is in progress or due.
func (l *Log) admitLocked() {
	admitted := false
	for len(l.queue) > 0 && !l.committing && !l.wantCommit {
		w := l.queue[0]
		if len(l.tx)+l.reserved+w.n > l.capacity {
			break
		}
		l.queue[0] = nil
		l.queue = l.queue[1:]
		w.admitted, w.gen = true, l.gen
		l.outstanding++
		l.reserved += w.n
		admitted = true
	}
	if admitted {
		l.cond.Broadcast()
	}
}

// headBlockedLocked reports whether the head of the queue waits for room.
func (l *Log) headBlockedLocked() bool {
	return len(l.queue) > 0 && len(l.tx)+l.reserved+l.queue[0].n > l.capacity
}

// Room is how many more blocks op may add to the transaction.
func (op *Op) Room() int { return op.reserve - op.used }

// Write records that op changed the cached block b: b joins the
// transaction (once; later writes of it are absorbed) and stays pinned in
// the cache until installed. Write panics if the transaction would exceed
// the log's capacity: that is a bug in a reservation, and committing such
// a transaction is impossible.
func (op *Op) Write(b *bcache.Buf) {
	l := op.l
	l.mu.Lock()
	defer l.mu.Unlock()
	op.wrote = true
	if l.inTx[b.Block()] {
		return
	}
	if op.used < op.reserve {
		l.reserved--
	} else if len(l.tx)+l.reserved+1 > l.capacity {
		panic(fmt.Sprintf("wal: operation exceeds its reservation of %d blocks and the log's capacity of %d", op.reserve, l.capacity))
	}
	op.used++
	l.inTx[b.Block()] = true
	l.tx = append(l.tx, b)
	l.cache.Pin(b)
}

// End ends the operation. With SyncEachOp it returns when the operation's
// changes are committed; an error means they may be lost.
func (op *Op) End() error {
	l := op.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outstanding--
	l.reserved -= max(op.reserve-op.used, 0)
	l.stats.Ops++
	due := l.wantCommit || l.mode == SyncEachOp && len(l.tx) > 0 || l.headBlockedLocked()
	if l.outstanding == 0 && !l.committing && due {
		l.commitLocked()
	} else {
		l.admitLocked() // the unused reservation may let someone in
	}
	if l.mode == SyncEachOp && op.wrote {
		for l.committed < op.gen && l.err == nil {
			l.wantCommit = true
			l.cond.Wait()
		}
	}
	if l.err != nil && l.committed < op.gen {
		return l.err
	}
	return nil
}

// Sync commits every operation that has ended, and returns when they are
// durable.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	target := l.gen
	if len(l.tx) == 0 && !l.committing {
		return l.err
	}
	for l.committed < target && l.err == nil {
		if !l.committing && l.outstanding == 0 {
			l.commitLocked()
			continue
		}
		l.wantCommit = true
		l.cond.Wait()
	}
	return l.err
}

// Close commits what is left and flushes the device. The Log must not be
// used afterwards.
func (l *Log) Close() error {
	if l.readOnly {
		return nil
	}
	if err := l.Sync(); err != nil {
		return err
	}
	// Make the last empty header durable, so the log is clean on disk.
	return l.dev.Flush()
}

// commitLocked commits the open transaction. l.mu is held, no operation
// is outstanding and no commit in progress; l.mu is released during the
// I/O, while committing keeps operations from beginning, so no one changes
// the transaction's blocks while they are written.
func (l *Log) commitLocked() {
	tx := l.tx
	if len(tx) > 0 && l.err == nil {
		l.committing = true
		l.tx = nil
		clear(l.inTx)
		seq := l.seq
		l.seq++
		l.mu.Unlock()
		err := l.commit(seq, tx)
		l.mu.Lock()
		l.committing = false
		for _, b := range tx {
			l.cache.Unpin(b)
		}
		if err != nil {
			l.err = fmt.Errorf("wal: commit failed, the file system is read-only until remounted: %v: %w", err, errno.EIO)
		} else {
			l.stats.Commits++
			l.stats.Blocks += int64(len(tx))
		}
	}
	if l.err == nil {
		l.committed = l.gen
	}
	l.gen++
	l.wantCommit = false
	l.admitLocked()
	l.cond.Broadcast()
}

// commit writes, installs and clears one transaction (steps 1-3 above).
func (l *Log) commit(seq uint64, tx []*bcache.Buf) error {
	h := layout.LogHeader{Seq: seq, Blocks: make([]uint32, len(tx))}
	data := make([]*blockdev.Block, len(tx))
	reqs := make([]blockdev.Req, 0, len(tx)+1)
	for i, b := range tx {
		h.Blocks[i] = uint32(b.Block())
		data[i] = b.Data
		reqs = append(reqs, blockdev.Req{LBA: uint64(layout.LogStart + 1 + i), Data: b.Data})
	}
	hb := l.hdr // only one commit runs at a time
	h.Seal(hb, data)
	reqs = append(reqs, blockdev.Req{LBA: layout.LogStart, Data: hb})
	if err := l.dev.Write(reqs); err != nil {
		return err
	}
	if err := l.dev.Flush(); err != nil {
		return err
	}
	if err := l.install(h.Blocks, data); err != nil {
		return err
	}
	return l.writeHeader(seq)
}

// install writes logged blocks to their homes and flushes.
func (l *Log) install(homes []uint32, data []*blockdev.Block) error {
	reqs := make([]blockdev.Req, len(homes))
	for i, a := range homes {
		reqs[i] = blockdev.Req{LBA: uint64(a), Data: data[i]}
	}
	if err := l.dev.Write(reqs); err != nil {
		return err
	}
	return l.dev.Flush()
}

// writeHeader writes the empty log's header (from Open or a commit: never
// two at once).
func (l *Log) writeHeader(seq uint64) error {
	h := layout.LogHeader{Seq: seq}
	h.Seal(l.hdr, nil)
	return blockdev.WriteBlock(l.dev, layout.LogStart, l.hdr)
}
