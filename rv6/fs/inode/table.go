//rl:domain

// Package inode is the inode layer of the Rv6 file system, above the log:
// in-memory inodes, block and inode allocation, and reading, writing and
// truncating the contents of an inode through its block map (direct,
// singly- and doubly-indirect blocks; see package layout).
//
// A Table holds the inodes in use. Get returns a referenced Inode (loaded
// and validated from disk); Put drops the reference. An Inode is in the
// Table only while referenced: its dinode is written to the buffer cache
// (through the log) on every change, so a later Get loads it afresh.
//
// Freeing: when the last reference to an inode with no links is Put, its
// blocks are freed and its dinode cleared, in as many operations as that
// takes (a large file does not fit in one transaction). An inode that is
// allocated and has no links is an orphan: an open file that was unlinked,
// or one whose freeing a crash interrupted. ReclaimOrphans frees the
// orphans after an unclean shutdown; a file system that was unmounted
// cleanly has none.
//
// Locking. Each Inode has:
//   - mu (Lock/RLock): guards the dinode and the inode's data, directory
//     and indirect blocks. Readers take it shared.
//   - wmu (LockWriter): serializes writers of the contents (write, append,
//     truncate), which span several operations, so that they do not
//     interleave. It is taken before the log's Begin.
//
// Lock order: Inode.wmu, then wal.Begin, then Inode.mu (a directory before
// the inodes it names; see package fs for renames), then the allocators'
// mutexes (bmu, imu), then Buf locks, then Table.mu and the log's and the
// cache's mutexes (leaves). Put and Free may begin operations: they must be
// called with no operation open and no inode lock held.
package inode

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// A Table is the inode layer of one mounted file system.
type Table struct {
	sb    layout.Superblock // the geometry (its State is not kept up to date)
	cache *bcache.Cache
	log   *wal.Log
	now   func() int64

	mu sync.Mutex
	m  map[uint32]*Inode

	bmu        sync.Mutex // block allocator
	bhint      uint32     // where the next block search starts
	freeBlocks int64

	imu        sync.Mutex // inode allocator
	ihint      uint32
	freeInodes int64 // -1 until counted
}

// NewTable returns the inode layer over cache and log for the file system
// sb, with now as the clock for timestamps (Unix nanoseconds). It counts
// the free blocks (reading the bitmap).
func NewTable(cache *bcache.Cache, log *wal.Log, sb *layout.Superblock, now func() int64) (*Table, error) {
	t := &Table{sb: *sb, cache: cache, log: log, now: now, m: make(map[uint32]*Inode), freeInodes: -1, bhint: sb.DataStart()}
	n, err := t.countFreeBlocks()
	if err != nil {
		return nil, err
	}
	t.freeBlocks = n
	return t, nil
}

// Superblock returns the geometry of the file system.
func (t *Table) Superblock() *layout.Superblock { return &t.sb }

// Log returns the log under the table.
func (t *Table) Log() *wal.Log { return t.log }

// Now returns the clock's time.
func (t *Table) Now() int64 { return t.now() }

// Inode states.
const (
	loading int32 = iota
	loaded
	failed
)

// An Inode is an in-memory inode.
type Inode struct {
	t    *Table
	Inum uint32

	ref int // guarded by t.mu

	load    sync.Mutex // held while loading; see Get
	state   atomic.Int32
	loadErr error

	mu  sync.RWMutex
	d   layout.Dinode // guarded by mu
	wmu sync.Mutex
}

// Get returns inode inum, referenced. It fails with an error wrapping
// errno.EUCLEAN if inum is out of range, the inode is free or its dinode
// is invalid.
func (t *Table) Get(inum uint32) (*Inode, error) {
	if inum == 0 || inum >= t.sb.NInodes {
		return nil, errno.Corrupt("inode number %d is outside 1..%d", inum, t.sb.NInodes-1)
	}
	t.mu.Lock()
	if ip := t.m[inum]; ip != nil {
		ip.ref++
		t.mu.Unlock()
		if ip.state.Load() != loaded {
			ip.load.Lock()
			err := ip.loadErr
			ip.load.Unlock()
			if err != nil {
				t.drop(ip)
				return nil, err
			}
		}
		return ip, nil
	}
	ip := &Inode{t: t, Inum: inum, ref: 1}
	ip.load.Lock()
	t.m[inum] = ip
	t.mu.Unlock()

	d, err := t.readDinode(inum)
	if err == nil && d.Type == layout.TypeFree {
		err = errno.Corrupt("inode %d is free but in use", inum)
	}
	if err != nil {
		ip.loadErr = err
		ip.state.Store(failed)
		ip.load.Unlock()
		t.drop(ip)
		return nil, err
	}
	ip.d = d
	ip.state.Store(loaded)
	ip.load.Unlock()
	return ip, nil
}

// drop drops a reference to an inode that failed to load.
func (t *Table) drop(ip *Inode) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ip.ref--
	if ip.ref == 0 && t.m[ip.Inum] == ip {
		delete(t.m, ip.Inum)
	}
}

// Dup adds a reference to ip.
func (t *Table) Dup(ip *Inode) *Inode {
	t.mu.Lock()
	defer t.mu.Unlock()
	ip.ref++
	return ip
}

// Put drops a reference to ip. The last reference to an inode with no
// links frees it. Put must be called with no operation open and no inode
// lock held.
func (t *Table) Put(ip *Inode) error {
	t.mu.Lock()
	ip.ref--
	if ip.ref < 0 {
		t.mu.Unlock()
		panic(fmt.Sprintf("inode: Put of unreferenced inode %d", ip.Inum))
	}
	last := ip.ref == 0
	if last && t.m[ip.Inum] == ip {
		delete(t.m, ip.Inum)
	}
	t.mu.Unlock()
	if !last || ip.state.Load() != loaded || t.log.ReadOnly() {
		return nil
	}
	// Nobody else can reach ip now: it is out of the table, and an
	// inode with no links has no name to look it up by.
	ip.mu.RLock()
	orphan := ip.d.Nlink == 0
	ip.mu.RUnlock()
	if !orphan {
		return nil
	}
	return t.free(ip)
}

// Orphans returns the referenced inodes with no links (open but unlinked
// files): they are freed when their last reference is Put.
func (t *Table) Orphans() int {
	// Collect first: t.mu is a leaf, no inode lock may be taken under it.
	t.mu.Lock()
	ips := make([]*Inode, 0, len(t.m))
	for _, ip := range t.m {
		if ip.state.Load() == loaded {
			ips = append(ips, ip)
		}
	}
	t.mu.Unlock()
	n := 0
	for _, ip := range ips {
		ip.mu.RLock()
		if ip.d.Nlink == 0 {
			n++
		}
		ip.mu.RUnlock()
	}
	return n
}

// free frees an unreferenced inode with no links: its blocks, then its
// dinode, one operation at a time.
func (t *Table) free(ip *Inode) error {
	for {
		op, err := t.log.Begin(t.log.Capacity() / 2)
		if err != nil {
			return err
		}
		ip.mu.Lock()
		done, err := ip.Truncate(op, 0)
		if err == nil && done {
			// Clear the dinode and count it free together, so that
			// FreeInodes's scan (under imu) sees both or neither.
			t.imu.Lock()
			ip.d = layout.Dinode{}
			if err = ip.update(op); err == nil && t.freeInodes >= 0 {
				t.freeInodes++
			}
			t.imu.Unlock()
		}
		ip.mu.Unlock()
		if e := op.End(); err == nil {
			err = e
		}
		if err != nil {
			t.log.Fail(fmt.Errorf("freeing inode %d: %w", ip.Inum, err))
			return err
		}
		if done {
			return nil
		}
	}
}

// ReclaimOrphans frees every allocated inode with no links, as after a
// crash; no inode may be in use. It returns how many it freed.
func (t *Table) ReclaimOrphans() (int, error) {
	var orphans []uint32
	err := t.scanInodes(func(inum uint32, raw []byte) error {
		if layout.PeekType(raw) == layout.TypeFree {
			return nil
		}
		d, err := layout.DecodeDinode(raw)
		if err != nil {
			return fmt.Errorf("inode %d: %w", inum, err)
		}
		if d.Nlink == 0 {
			orphans = append(orphans, inum)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, inum := range orphans {
		ip, err := t.Get(inum)
		if err != nil {
			return 0, err
		}
		if err := t.Put(ip); err != nil {
			return 0, err
		}
	}
	return len(orphans), nil
}

// scanInodes calls f for every inode number but 0 with its raw dinode,
// reading the inode blocks in batches.
func (t *Table) scanInodes(f func(inum uint32, raw []byte) error) error {
	const batch = 64
	start := t.sb.InodeStart()
	for b := uint32(0); b < t.sb.NInodeBlocks; b += batch {
		n := min(batch, t.sb.NInodeBlocks-b)
		blks := make([]uint64, n)
		for i := range blks {
			blks[i] = uint64(start + b + uint32(i))
		}
		bufs, err := t.cache.ReadBatch(blks)
		if err != nil {
			return err
		}
		for i, buf := range bufs {
			buf.Lock()
			for s := range layout.InodesPerBlock {
				inum := (b+uint32(i))*layout.InodesPerBlock + uint32(s)
				if inum == 0 || inum >= t.sb.NInodes {
					continue
				}
				if err == nil {
					err = f(inum, buf.Data[s*layout.InodeSize:(s+1)*layout.InodeSize])
				}
			}
			buf.Unlock()
			t.cache.Release(buf)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readDinode reads and validates inode inum's dinode.
func (t *Table) readDinode(inum uint32) (layout.Dinode, error) {
	blk, off := t.sb.InodeBlock(inum)
	buf, err := t.cache.Read(uint64(blk))
	if err != nil {
		return layout.Dinode{}, err
	}
	buf.Lock()
	d, err := layout.DecodeDinode(buf.Data[off : off+layout.InodeSize])
	buf.Unlock()
	t.cache.Release(buf)
	if err != nil {
		return layout.Dinode{}, fmt.Errorf("inode %d: %w", inum, err)
	}
	for i, a := range d.Addrs {
		if a != 0 && !t.sb.IsData(a) {
			return layout.Dinode{}, errno.Corrupt("inode %d: address %d (slot %d) is outside the data blocks %d..%d", inum, a, i, t.sb.DataStart(), t.sb.Size-1)
		}
	}
	return d, nil
}

// update writes ip's dinode to its inode block, in op. ip.mu is held.
func (ip *Inode) update(op *wal.Op) error {
	t := ip.t
	blk, off := t.sb.InodeBlock(ip.Inum)
	buf, err := t.cache.Read(uint64(blk))
	if err != nil {
		return err
	}
	buf.Lock()
	ip.d.Encode(buf.Data[off : off+layout.InodeSize])
	op.Write(buf)
	buf.Unlock()
	t.cache.Release(buf)
	return nil
}

// Lock locks ip for changing it. Unlock unlocks it.
func (ip *Inode) Lock()   { ip.mu.Lock() }
func (ip *Inode) Unlock() { ip.mu.Unlock() }

// RLock locks ip for reading it. RUnlock unlocks it.
func (ip *Inode) RLock()   { ip.mu.RLock() }
func (ip *Inode) RUnlock() { ip.mu.RUnlock() }

// LockWriter serializes writers of ip's contents; it is taken before the
// operation begins. UnlockWriter releases it.
func (ip *Inode) LockWriter()   { ip.wmu.Lock() }
func (ip *Inode) UnlockWriter() { ip.wmu.Unlock() }

// The accessors below need ip locked (shared is enough).

// Type is the inode's type.
func (ip *Inode) Type() layout.FileType { return ip.d.Type }

// Nlink is the inode's link count.
func (ip *Inode) Nlink() uint16 { return ip.d.Nlink }

// Size is the size of the contents in bytes.
func (ip *Inode) Size() int64 { return int64(ip.d.Size) }

// Dinode returns a copy of the dinode.
func (ip *Inode) Dinode() layout.Dinode { return ip.d }

// SetNlink sets the link count, in op. ip is locked.
func (ip *Inode) SetNlink(op *wal.Op, n uint16) error {
	ip.d.Nlink = n
	ip.d.Ctime = ip.t.now()
	return ip.update(op)
}

// Touch sets the change and modification times to now, in op. ip is
// locked.
func (ip *Inode) Touch(op *wal.Op) error {
	ip.d.Mtime = ip.t.now()
	ip.d.Ctime = ip.d.Mtime
	return ip.update(op)
}
