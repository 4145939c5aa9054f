package fs

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/namei"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// Durability says when operations become durable (see the package doc).
type Durability = wal.Mode

const (
	SyncEachOp   = wal.SyncEachOp   // an operation is durable when it returns
	SyncOnDemand = wal.SyncOnDemand // operations are durable after Sync
)

// Options configure a mount. The zero value is a read-write mount with
// SyncEachOp durability, the default cache and the system clock.
type Options struct {
	ReadOnly   bool
	Durability Durability
	// CacheBlocks is the buffer cache's capacity in blocks; 0 means
	// twice the log plus 1024 (about 12 MiB with the largest log).
	CacheBlocks int
	// Now is the clock for timestamps, in Unix nanoseconds; nil means
	// time.Now. A fixed clock makes images reproducible.
	Now func() int64
}

// fixedOp is the reservation of the operations on names: the most blocks
// any of them writes (a rename: four inode blocks, two directory blocks,
// a directory growing by a block with its indirect blocks and bitmap
// blocks, and a ".." entry), with room to spare.
const fixedOp = 24

// An FS is a mounted file system.
type FS struct {
	dev   blockdev.Device
	sb    layout.Superblock
	cache *bcache.Cache
	log   *wal.Log
	itab  *inode.Table
	root  *inode.Inode
	walk  namei.Walker
	ro    bool

	renameMu sync.Mutex // serializes renames (and Getwd), see package doc
	closed   atomic.Bool

	rootCwd Cwd // the FS's own path operations start at the root
}

// Mount mounts the file system on dev: it checks the superblock, recovers
// the log, and (read-write, after an unclean shutdown) frees the orphaned
// inodes. A corrupt file system gives an error wrapping errno.EUCLEAN.
func Mount(dev blockdev.Device, opts Options) (*FS, error) {
	sb, err := readSuperblock(dev)
	if err != nil {
		return nil, err
	}
	if uint64(sb.Size) > dev.NumBlocks() {
		return nil, fmt.Errorf("fs: mount: the file system has %d blocks, the device only %d: %w", sb.Size, dev.NumBlocks(), errno.EUCLEAN)
	}
	now := opts.Now
	if now == nil {
		now = func() int64 { return time.Now().UnixNano() }
	}
	capacity := opts.CacheBlocks
	if capacity <= 0 {
		capacity = 2*int(sb.NLog) + 1024
	}
	cache := bcache.New(dev, capacity)
	log, err := wal.Open(cache, &sb, opts.Durability, opts.ReadOnly)
	if err != nil {
		return nil, fmt.Errorf("fs: mount: %w", err)
	}
	// Recovery may have replayed a newer superblock.
	buf, err := cache.Read(layout.SuperBlock)
	if err != nil {
		return nil, fmt.Errorf("fs: mount: %w", err)
	}
	sb, err = layout.DecodeSuperblock(buf.Data)
	cache.Release(buf)
	if err != nil {
		return nil, fmt.Errorf("fs: mount: %w", err)
	}
	itab, err := inode.NewTable(cache, log, &sb, now)
	if err != nil {
		return nil, fmt.Errorf("fs: mount: %w", err)
	}
	f := &FS{dev: dev, sb: sb, cache: cache, log: log, itab: itab, ro: opts.ReadOnly}
	if !f.ro {
		if sb.State != layout.StateClean {
			if _, err := itab.ReclaimOrphans(); err != nil {
				return nil, fmt.Errorf("fs: mount: freeing orphaned inodes: %w", err)
			}
		}
		if err := f.setState(layout.StateMounted); err != nil {
			return nil, fmt.Errorf("fs: mount: %w", err)
		}
	}
	root, err := itab.Get(layout.RootInum)
	if err != nil {
		return nil, fmt.Errorf("fs: mount: root directory: %w", err)
	}
	root.RLock()
	typ := root.Type()
	root.RUnlock()
	if typ != layout.TypeDir {
		return nil, fmt.Errorf("fs: mount: the root inode is a %v: %w", typ, errno.EUCLEAN)
	}
	f.root = root
	f.walk = namei.Walker{T: itab, Root: root}
	f.rootCwd = Cwd{fs: f, ip: root}
	return f, nil
}

func readSuperblock(dev blockdev.Device) (layout.Superblock, error) {
	if dev.NumBlocks() <= layout.LogStart {
		return layout.Superblock{}, fmt.Errorf("fs: a device of %d blocks holds no file system: %w", dev.NumBlocks(), errno.EINVAL)
	}
	b, err := blockdev.ReadBlock(dev, layout.SuperBlock)
	if err != nil {
		return layout.Superblock{}, fmt.Errorf("fs: reading the superblock: %w", err)
	}
	return layout.DecodeSuperblock(b)
}

// setState records the superblock's state, in an operation of its own.
func (f *FS) setState(state uint32) error {
	if f.sb.State == state {
		return nil
	}
	op, err := f.log.Begin(1)
	if err != nil {
		return err
	}
	buf, err := f.cache.Read(layout.SuperBlock)
	if err == nil {
		buf.Lock()
		f.sb.State = state
		f.sb.Encode(buf.Data)
		op.Write(buf)
		buf.Unlock()
		f.cache.Release(buf)
	}
	if e := op.End(); err == nil {
		err = e
	}
	return err
}

// Unmount commits everything, records a clean shutdown and flushes the
// device. Files still open become unusable; if some of them were unlinked,
// the file system is left marked unclean so the next mount frees them.
func (f *FS) Unmount() error {
	if f.closed.Swap(true) {
		return errno.EINVAL
	}
	if f.ro {
		return nil
	}
	if err := f.log.Sync(); err != nil {
		return fmt.Errorf("fs: unmount: %w", err)
	}
	if f.itab.Orphans() == 0 {
		if err := f.setState(layout.StateClean); err != nil {
			return fmt.Errorf("fs: unmount: %w", err)
		}
	}
	if err := f.log.Close(); err != nil {
		return fmt.Errorf("fs: unmount: %w", err)
	}
	return nil
}

// Sync commits every operation that has returned, and returns when they
// are durable.
func (f *FS) Sync() error {
	if f.ro {
		return nil
	}
	return f.log.Sync()
}

// Statfs describes a file system's size and use.
type Statfs struct {
	BlockSize   int
	Blocks      int64 // data blocks
	FreeBlocks  int64
	Inodes      int64 // usable inodes
	FreeInodes  int64
	LogBlocks   int64 // the log's size, header included
	Transaction int   // the most blocks one transaction holds
}

// Statfs returns the file system's size and use. The first call counts the
// free inodes (a read of the inode table).
func (f *FS) Statfs() (Statfs, error) {
	fi, err := f.itab.FreeInodes()
	if err != nil {
		return Statfs{}, err
	}
	return Statfs{
		BlockSize:   layout.BlockSize,
		Blocks:      int64(f.sb.Size - f.sb.DataStart()),
		FreeBlocks:  f.itab.FreeBlocks(),
		Inodes:      int64(f.sb.NInodes - 1),
		FreeInodes:  fi,
		LogBlocks:   int64(f.sb.NLog),
		Transaction: f.log.Capacity(),
	}, nil
}

// Stats are the internal counters of a mounted file system.
type Stats struct {
	Cache bcache.Stats
	Log   wal.Stats
}

// Stats returns the buffer cache's and the log's counters.
func (f *FS) Stats() Stats { return Stats{Cache: f.cache.Stats(), Log: f.log.Stats()} }

// MaxAtomicWrite is the largest write (File.WriteAt, Append) that is
// always one transaction, so atomic with respect to crashes; longer ones
// are split (see the package doc). It depends on the log's size: 280 KiB
// with the largest log.
func (f *FS) MaxAtomicWrite() int {
	return max(0, (f.log.Capacity()/2-1)/inode.WriteRoom-2) * layout.BlockSize
}

// writeReserve is the reservation of one operation of a write of n bytes:
// the worst case (inode.WriteRoom) for each block the bytes may span, and
// the inode block, up to half the log, so that two large writers can share
// a transaction.
func (f *FS) writeReserve(n int64) int {
	blocks := n/layout.BlockSize + 2
	return int(min(inode.WriteRoom*blocks+1, int64(f.log.Capacity()/2)))
}

// begin starts an operation of n blocks.
func (f *FS) begin(n int) (*wal.Op, error) {
	if f.closed.Load() {
		return nil, errUnmounted
	}
	return f.log.Begin(n)
}

var errUnmounted = fmt.Errorf("the file system is unmounted: %w", errno.EIO)
