package layout

import (
	"encoding/binary"
	"fmt"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Magic identifies an Rv6 superblock ("rv6f"); Version is the format's.
const (
	Magic   = 0x72763666
	Version = 1
)

// Superblock states. A file system is StateMounted from the first
// transaction of a read-write mount until a clean unmount: finding it so at
// mount time means a crash, so the mount frees orphaned inodes (allocated,
// with no links; see package inode).
const (
	StateClean   = 0
	StateMounted = 1
)

// Limits on the geometry.
const (
	MinLogBlocks = 33                // header and 32 blocks: the largest single operation fits
	MaxLogBlocks = 1 + MaxLogEntries // what one header can name
	sbSize       = 64                // encoded bytes, CRC last
)

// A Superblock describes a file system's geometry and state. The regions
// are contiguous and in order: log, inodes, bitmap, data.
type Superblock struct {
	Size         uint32 // blocks in the file system
	NInodes      uint32 // inodes, including the unused inode 0
	NLog         uint32 // log blocks, header included
	NInodeBlocks uint32
	NBitmap      uint32
	State        uint32 // StateClean or StateMounted
	Created      int64  // mkfs time, Unix nanoseconds
}

// LogStart etc. are computed from the sizes, so that a decoded superblock
// cannot describe overlapping regions.

// InodeStart is the first inode block.
func (sb *Superblock) InodeStart() uint32 { return LogStart + sb.NLog }

// BitmapStart is the first bitmap block.
func (sb *Superblock) BitmapStart() uint32 { return sb.InodeStart() + sb.NInodeBlocks }

// DataStart is the first data block.
func (sb *Superblock) DataStart() uint32 { return sb.BitmapStart() + sb.NBitmap }

// IsData reports whether a is a block number in the data region.
func (sb *Superblock) IsData(a uint32) bool { return a >= sb.DataStart() && a < sb.Size }

// InodeBlock returns the block and byte offset of inode inum.
func (sb *Superblock) InodeBlock(inum uint32) (block uint32, off int) {
	return sb.InodeStart() + inum/InodesPerBlock, int(inum%InodesPerBlock) * InodeSize
}

// BitmapBlock returns the bitmap block and the bit in it for block b.
func (sb *Superblock) BitmapBlock(b uint32) (block uint32, bit int) {
	return sb.BitmapStart() + b/BitsPerBlock, int(b % BitsPerBlock)
}

// NewSuperblock plans a file system of size blocks with (about) ninodes
// inodes and nlog log blocks; zero asks for the defaults (one inode per 16
// blocks, at least 64; a log of size/32 blocks within the limits).
func NewSuperblock(size uint64, ninodes, nlog uint32) (Superblock, error) {
	if size > MaxBlocks {
		return Superblock{}, fmt.Errorf("layout: %d blocks is more than the %d a file system can hold: %w", size, uint64(MaxBlocks), errno.EINVAL)
	}
	if ninodes == 0 {
		ninodes = uint32(max(size/16, 64))
	}
	if nlog == 0 {
		nlog = uint32(min(max(size/32, MinLogBlocks), MaxLogBlocks))
	}
	if nlog < MinLogBlocks || nlog > MaxLogBlocks {
		return Superblock{}, fmt.Errorf("layout: a log of %d blocks is outside %d..%d: %w", nlog, MinLogBlocks, MaxLogBlocks, errno.EINVAL)
	}
	// Round the inodes up to whole blocks: the spare slots are free anyway.
	nib := (uint64(ninodes) + InodesPerBlock - 1) / InodesPerBlock
	sb := Superblock{
		Size:         uint32(size),
		NInodes:      uint32(min(nib*InodesPerBlock, 1<<32-InodesPerBlock)),
		NLog:         nlog,
		NInodeBlocks: uint32(nib),
		NBitmap:      uint32((size + BitsPerBlock - 1) / BitsPerBlock),
	}
	// The root directory needs one data block.
	if uint64(LogStart)+uint64(nlog)+nib+uint64(sb.NBitmap)+1 > size {
		return Superblock{}, fmt.Errorf("layout: %d blocks cannot hold a log of %d blocks, %d inode blocks, %d bitmap blocks and a root directory: %w",
			size, nlog, nib, sb.NBitmap, errno.ENOSPC)
	}
	return sb, sb.validate()
}

// Encode writes sb into block b (the rest of b is zeroed).
func (sb *Superblock) Encode(b *blockdev.Block) {
	*b = blockdev.Block{}
	le := binary.LittleEndian
	le.PutUint32(b[0:], Magic)
	le.PutUint32(b[4:], Version)
	le.PutUint32(b[8:], BlockSize)
	le.PutUint32(b[12:], sb.State)
	le.PutUint32(b[16:], sb.Size)
	le.PutUint32(b[20:], sb.NInodes)
	le.PutUint32(b[24:], sb.NLog)
	le.PutUint32(b[28:], sb.NInodeBlocks)
	le.PutUint32(b[32:], sb.NBitmap)
	le.PutUint64(b[36:], uint64(sb.Created))
	le.PutUint32(b[sbSize-4:], checksum(0, b[:sbSize-4]))
}

// DecodeSuperblock decodes and validates the superblock in b.
func DecodeSuperblock(b *blockdev.Block) (Superblock, error) {
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != Magic {
		return Superblock{}, errno.Corrupt("superblock: magic %#x is not an Rv6 file system's (%#x)", m, Magic)
	}
	if sum, want := le.Uint32(b[sbSize-4:]), checksum(0, b[:sbSize-4]); sum != want {
		return Superblock{}, errno.Corrupt("superblock: checksum %#x, want %#x", sum, want)
	}
	if v := le.Uint32(b[4:]); v != Version {
		return Superblock{}, errno.Corrupt("superblock: format version %d, want %d", v, Version)
	}
	if bs := le.Uint32(b[8:]); bs != BlockSize {
		return Superblock{}, errno.Corrupt("superblock: block size %d, want %d", bs, BlockSize)
	}
	sb := Superblock{
		State:        le.Uint32(b[12:]),
		Size:         le.Uint32(b[16:]),
		NInodes:      le.Uint32(b[20:]),
		NLog:         le.Uint32(b[24:]),
		NInodeBlocks: le.Uint32(b[28:]),
		NBitmap:      le.Uint32(b[32:]),
		Created:      int64(le.Uint64(b[36:])),
	}
	return sb, sb.validate()
}

// validate checks that the geometry is one NewSuperblock could have made.
func (sb *Superblock) validate() error {
	switch {
	case sb.State != StateClean && sb.State != StateMounted:
		return errno.Corrupt("superblock: unknown state %d", sb.State)
	case sb.NLog < MinLogBlocks || sb.NLog > MaxLogBlocks:
		return errno.Corrupt("superblock: log of %d blocks is outside %d..%d", sb.NLog, MinLogBlocks, MaxLogBlocks)
	case sb.NInodes < 2 || uint64(sb.NInodeBlocks) != (uint64(sb.NInodes)+InodesPerBlock-1)/InodesPerBlock:
		return errno.Corrupt("superblock: %d inodes do not fill %d inode blocks", sb.NInodes, sb.NInodeBlocks)
	case uint64(sb.NBitmap) != (uint64(sb.Size)+BitsPerBlock-1)/BitsPerBlock:
		return errno.Corrupt("superblock: %d bitmap blocks for %d blocks, want %d", sb.NBitmap, sb.Size, (uint64(sb.Size)+BitsPerBlock-1)/BitsPerBlock)
	case uint64(LogStart)+uint64(sb.NLog)+uint64(sb.NInodeBlocks)+uint64(sb.NBitmap) >= uint64(sb.Size):
		return errno.Corrupt("superblock: metadata (%d log, %d inode, %d bitmap blocks) leaves no data blocks in %d", sb.NLog, sb.NInodeBlocks, sb.NBitmap, sb.Size)
	}
	return nil
}
