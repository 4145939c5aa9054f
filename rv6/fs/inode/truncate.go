package inode

import (
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// truncRoom is the room freeing one more block needs in the worst case:
// the bitmap blocks of the data block, of a singly-indirect block and of
// the doubly-indirect block that become empty, the two indirect blocks
// whose entries are cleared, and the inode block.
const truncRoom = 6

// Truncate sets the size to size, in op. Growing leaves a hole. Shrinking
// frees the blocks past the new end, from the last one down, as far as op
// has room for, and zeroes the rest of the last block kept (the bytes past
// the size of a block are always zero). It reports whether it is done; if
// not, the size is cut to what is left and the caller calls again in a new
// operation. ip is locked.
func (ip *Inode) Truncate(op *wal.Op, size int64) (done bool, err error) {
	switch {
	case size < 0:
		return false, errno.EINVAL
	case size > layout.MaxFileSize:
		return false, errno.EFBIG
	}
	cur := int64(ip.d.Size)
	now := ip.t.now()
	ip.d.Mtime, ip.d.Ctime = now, now
	if size >= cur {
		ip.d.Size = uint64(size)
		return true, ip.update(op)
	}
	keep := (size + layout.BlockSize - 1) / layout.BlockSize
	bn := (cur+layout.BlockSize-1)/layout.BlockSize - 1
	for bn >= keep && err == nil {
		if op.Room() < truncRoom {
			break
		}
		bn, err = ip.freeAt(op, bn)
	}
	if err == nil && bn < keep && op.Room() >= 2 {
		if size%layout.BlockSize != 0 {
			err = ip.zeroTail(op, size)
		}
		done = err == nil
	}
	if done {
		ip.d.Size = uint64(size)
	} else {
		ip.d.Size = uint64(min(cur, (bn+1)*layout.BlockSize))
	}
	if uerr := ip.update(op); err == nil {
		err = uerr
	}
	return done, err
}

// zeroTail zeroes the bytes of the block holding offset size past it.
func (ip *Inode) zeroTail(op *wal.Op, size int64) error {
	addrs, err := ip.mapRange(size/layout.BlockSize, 1)
	if err != nil || addrs[0] == 0 {
		return err
	}
	buf, err := ip.t.cache.Read(uint64(addrs[0]))
	if err != nil {
		return err
	}
	clear(buf.Data[size%layout.BlockSize:])
	op.Write(buf)
	ip.t.cache.Release(buf)
	return nil
}

// freeAt frees file block bn if it is mapped, and the indirect blocks that
// become empty with it (blocks above bn are free already), and returns the
// next block number to look at: bn-1, or lower when a whole indirect block
// is a hole.
func (ip *Inode) freeAt(op *wal.Op, bn int64) (int64, error) {
	d := &ip.d
	switch {
	case bn < singleStart:
		if a := d.Addrs[bn]; a != 0 {
			if err := ip.release(op, a); err != nil {
				return bn, err
			}
			d.Addrs[bn] = 0
		}
		return bn - 1, nil
	case bn < doubleStart:
		ia := d.Addrs[layout.Indirect]
		if ia == 0 {
			return singleStart - 1, nil
		}
		j := int(bn - singleStart)
		if err := ip.clearEntry(op, ia, j); err != nil {
			return bn, err
		}
		if j == 0 {
			if err := ip.release(op, ia); err != nil {
				return bn, err
			}
			d.Addrs[layout.Indirect] = 0
		}
		return bn - 1, nil
	default:
		ra := d.Addrs[layout.DoubleIndirect]
		if ra == 0 {
			return doubleStart - 1, nil
		}
		i, j := int((bn-doubleStart)/layout.NIndirect), int((bn-doubleStart)%layout.NIndirect)
		l2, err := ip.getEntry(ra, i)
		if err != nil {
			return bn, err
		}
		next := bn - 1
		if l2 == 0 {
			next = doubleStart + int64(i)*layout.NIndirect - 1
		} else {
			if err := ip.clearEntry(op, l2, j); err != nil {
				return bn, err
			}
			if j == 0 {
				if err := ip.release(op, l2); err != nil {
					return bn, err
				}
				if _, err := ip.setEntry(op, ra, i, 0); err != nil {
					return bn, err
				}
			}
		}
		if next < doubleStart {
			if err := ip.release(op, ra); err != nil {
				return bn, err
			}
			d.Addrs[layout.DoubleIndirect] = 0
		}
		return next, nil
	}
}

// clearEntry frees the block entry i of indirect block tab names, if any.
func (ip *Inode) clearEntry(op *wal.Op, tab uint32, i int) error {
	old, err := ip.setEntry(op, tab, i, 0)
	if err != nil || old == 0 {
		return err
	}
	return ip.release(op, old)
}

// release frees block a of ip.
func (ip *Inode) release(op *wal.Op, a uint32) error {
	if err := ip.t.freeBlock(op, a); err != nil {
		return err
	}
	if ip.d.Blocks > 0 {
		ip.d.Blocks--
	}
	return nil
}
