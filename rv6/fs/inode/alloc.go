package inode

import (
	"encoding/binary"
	"math/bits"

	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// Block allocation: a next-fit search of the bitmap from where the last
// one ended, so that a file written sequentially gets contiguous blocks.
// Only blocks of the data region are ever handed out, whatever the bitmap
// says of the others.

// FreeBlocks returns the number of free data blocks.
func (t *Table) FreeBlocks() int64 {
	t.bmu.Lock()
	defer t.bmu.Unlock()
	return t.freeBlocks
}

// allocBlock allocates a data block, in op. The caller zeroes it (the
// cache's Fresh) before using it.
func (t *Table) allocBlock(op *wal.Op) (uint32, error) {
	t.bmu.Lock()
	defer t.bmu.Unlock()
	if t.freeBlocks <= 0 {
		return 0, errno.ENOSPC
	}
	sb := &t.sb
	startBlk, _ := sb.BitmapBlock(t.bhint)
	first := startBlk - sb.BitmapStart()
	for i := uint32(0); i <= sb.NBitmap; i++ {
		bi := (first + i) % sb.NBitmap
		buf, err := t.cache.Read(uint64(sb.BitmapStart() + bi))
		if err != nil {
			return 0, err
		}
		buf.Lock()
		base := bi * layout.BitsPerBlock
		found := uint32(0)
		for w := 0; w < layout.BlockSize/8 && found == 0; w++ {
			word := binary.LittleEndian.Uint64(buf.Data[8*w:])
			for free := ^word; free != 0; free &= free - 1 {
				bit := bits.TrailingZeros64(free)
				b := base + uint32(64*w+bit)
				if sb.IsData(b) {
					binary.LittleEndian.PutUint64(buf.Data[8*w:], word|1<<bit)
					found = b
					break
				}
			}
		}
		if found != 0 {
			op.Write(buf)
		}
		buf.Unlock()
		t.cache.Release(buf)
		if found != 0 {
			t.freeBlocks--
			t.bhint = found + 1
			if t.bhint >= sb.Size {
				t.bhint = sb.DataStart()
			}
			return found, nil
		}
	}
	// The count said there was a free block but the bitmap has none.
	t.freeBlocks = 0
	return 0, errno.ENOSPC
}

// freeBlock frees data block b, in op.
func (t *Table) freeBlock(op *wal.Op, b uint32) error {
	if !t.sb.IsData(b) {
		return errno.Corrupt("freeing block %d, which is not a data block", b)
	}
	t.bmu.Lock()
	defer t.bmu.Unlock()
	blk, bit := t.sb.BitmapBlock(b)
	buf, err := t.cache.Read(uint64(blk))
	if err != nil {
		return err
	}
	buf.Lock()
	defer t.cache.Release(buf)
	defer buf.Unlock()
	if buf.Data[bit/8]&(1<<(bit%8)) == 0 {
		return errno.Corrupt("freeing block %d, which is free already", b)
	}
	buf.Data[bit/8] &^= 1 << (bit % 8)
	op.Write(buf)
	t.freeBlocks++
	return nil
}

// countFreeBlocks counts the clear bits of the data region.
func (t *Table) countFreeBlocks() (int64, error) {
	sb := &t.sb
	blks := make([]uint64, sb.NBitmap)
	for i := range blks {
		blks[i] = uint64(sb.BitmapStart() + uint32(i))
	}
	var n int64
	for len(blks) > 0 {
		k := min(len(blks), 64)
		bufs, err := t.cache.ReadBatch(blks[:k])
		if err != nil {
			return 0, err
		}
		for _, buf := range bufs {
			base := uint32(buf.Block()-uint64(sb.BitmapStart())) * layout.BitsPerBlock
			buf.Lock()
			for w := 0; w < layout.BlockSize/8; w++ {
				word := binary.LittleEndian.Uint64(buf.Data[8*w:])
				lo := uint64(base) + uint64(64*w)
				if lo >= uint64(sb.Size) {
					break // padding
				}
				if lo >= uint64(sb.DataStart()) && lo+64 <= uint64(sb.Size) {
					n += int64(64 - bits.OnesCount64(word))
					continue
				}
				for bit := range 64 {
					if b := uint32(lo) + uint32(bit); word&(1<<bit) == 0 && sb.IsData(b) {
						n++
					}
				}
			}
			buf.Unlock()
			t.cache.Release(buf)
		}
		blks = blks[k:]
	}
	return n, nil
}

// Alloc allocates an inode of type typ, in op, and returns it referenced
// and unlocked, with no links: the caller links it (SetNlink) in the same
// operation.
func (t *Table) Alloc(op *wal.Op, typ layout.FileType) (*Inode, error) {
	inum, err := t.allocInode(op, typ)
	if err != nil {
		return nil, err
	}
	return t.Get(inum)
}

func (t *Table) allocInode(op *wal.Op, typ layout.FileType) (uint32, error) {
	t.imu.Lock()
	defer t.imu.Unlock()
	if t.freeInodes == 0 {
		return 0, errno.ENOSPC
	}
	sb := &t.sb
	now := t.now()
	firstBlk := t.ihint / layout.InodesPerBlock
	for i := uint32(0); i < sb.NInodeBlocks; i++ {
		bi := (firstBlk + i) % sb.NInodeBlocks
		buf, err := t.cache.Read(uint64(sb.InodeStart() + bi))
		if err != nil {
			return 0, err
		}
		buf.Lock()
		found := uint32(0)
		for s := range uint32(layout.InodesPerBlock) {
			inum := bi*layout.InodesPerBlock + s
			raw := buf.Data[s*layout.InodeSize : (s+1)*layout.InodeSize]
			if inum == 0 || inum >= sb.NInodes || layout.PeekType(raw) != layout.TypeFree || t.inUse(inum) {
				continue
			}
			d := layout.Dinode{Type: typ, Mtime: now, Ctime: now}
			d.Encode(raw)
			op.Write(buf)
			found = inum
			break
		}
		buf.Unlock()
		t.cache.Release(buf)
		if found != 0 {
			t.ihint = found + 1
			if t.freeInodes > 0 {
				t.freeInodes--
			}
			return found, nil
		}
	}
	t.freeInodes = 0
	return 0, errno.ENOSPC
}

// inUse reports whether inode inum is in the table (a safety net: a free
// dinode's inode is never there).
func (t *Table) inUse(inum uint32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[inum] != nil
}

// FreeInodes counts the free inodes the first time (reading the inode
// table) and keeps the count from then on.
func (t *Table) FreeInodes() (int64, error) {
	t.imu.Lock()
	defer t.imu.Unlock()
	if t.freeInodes >= 0 {
		return t.freeInodes, nil
	}
	var n int64
	err := t.scanInodes(func(_ uint32, raw []byte) error {
		if layout.PeekType(raw) == layout.TypeFree {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	t.freeInodes = n
	return n, nil
}
