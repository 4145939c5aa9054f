package inode

import (
	"encoding/binary"

	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// The block map: file block number -> disk block number.
//
//	0 .. NDirect-1                       Addrs[bn]
//	NDirect .. +NIndirect-1              singly-indirect block Addrs[Indirect]
//	NDirect+NIndirect .. MaxFileBlocks-1 doubly-indirect block Addrs[DoubleIndirect]:
//	                                     entry i names a singly-indirect block
//
// Every address read from disk is checked to be 0 or a data block before it
// is used, so a corrupt block map gives errno.EUCLEAN, not a read of the
// log or the inode table.

const (
	singleStart = int64(layout.NDirect)
	doubleStart = singleStart + layout.NIndirect
	maxBlocks   = int64(layout.MaxFileBlocks)
)

// An addrTable is an indirect block held in the cache while mapRange
// reads entries from it (nil: a hole, all zeros).
type addrTable struct {
	ip  *Inode
	a   uint32
	buf *bcache.Buf
}

// openTable reads indirect block a (0: a hole).
func (ip *Inode) openTable(a uint32) (addrTable, error) {
	if a == 0 {
		return addrTable{}, nil
	}
	buf, err := ip.t.cache.Read(uint64(a))
	if err != nil {
		return addrTable{}, err
	}
	return addrTable{ip: ip, a: a, buf: buf}, nil
}

// entry returns entry i, checked.
func (tab addrTable) entry(i int64) (uint32, error) {
	if tab.buf == nil {
		return 0, nil
	}
	e := binary.LittleEndian.Uint32(tab.buf.Data[4*i:])
	if e != 0 && !tab.ip.t.sb.IsData(e) {
		return 0, errno.Corrupt("inode %d: indirect block %d names block %d, outside the data blocks", tab.ip.Inum, tab.a, e)
	}
	return e, nil
}

func (tab addrTable) close() {
	if tab.buf != nil {
		tab.ip.t.cache.Release(tab.buf)
	}
}

// mapRange returns the disk addresses of file blocks first..first+n-1
// (0 for holes), reading each indirect block once. ip is locked.
func (ip *Inode) mapRange(first int64, n int) ([]uint32, error) {
	out := make([]uint32, n)
	var single, root, l2 addrTable
	var haveSingle, haveRoot bool
	defer func() { single.close(); root.close(); l2.close() }()
	l2i := int64(-1)
	var err error
	for k := range out {
		bn := first + int64(k)
		switch {
		case bn < singleStart:
			out[k] = ip.d.Addrs[bn]
		case bn < doubleStart:
			if !haveSingle {
				if single, err = ip.openTable(ip.d.Addrs[layout.Indirect]); err != nil {
					return nil, err
				}
				haveSingle = true
			}
			if out[k], err = single.entry(bn - singleStart); err != nil {
				return nil, err
			}
		case bn < maxBlocks:
			if !haveRoot {
				if root, err = ip.openTable(ip.d.Addrs[layout.DoubleIndirect]); err != nil {
					return nil, err
				}
				haveRoot = true
			}
			i, j := (bn-doubleStart)/layout.NIndirect, (bn-doubleStart)%layout.NIndirect
			if i != l2i {
				l2.close()
				l2 = addrTable{}
				a, err := root.entry(i)
				if err != nil {
					return nil, err
				}
				if l2, err = ip.openTable(a); err != nil {
					return nil, err
				}
				l2i = i
			}
			if out[k], err = l2.entry(j); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// bmapAlloc returns the disk address of file block bn, allocating it (and
// the indirect blocks on the way) if it is a hole, in op. fresh reports a
// newly allocated data block, which the caller must zero (cache.Fresh).
// ip is locked.
func (ip *Inode) bmapAlloc(op *wal.Op, bn int64) (a uint32, fresh bool, err error) {
	switch {
	case bn < singleStart:
		if a := ip.d.Addrs[bn]; a != 0 {
			return a, false, nil
		}
		if a, err = ip.t.allocBlock(op); err != nil {
			return 0, false, err
		}
		ip.d.Addrs[bn] = a
		ip.d.Blocks++
		return a, true, nil
	case bn < doubleStart:
		ind, err := ip.ensureIndirect(op, &ip.d.Addrs[layout.Indirect])
		if err != nil {
			return 0, false, err
		}
		return ip.entry(op, ind, int(bn-singleStart), false)
	case bn < maxBlocks:
		root, err := ip.ensureIndirect(op, &ip.d.Addrs[layout.DoubleIndirect])
		if err != nil {
			return 0, false, err
		}
		i, j := (bn-doubleStart)/layout.NIndirect, (bn-doubleStart)%layout.NIndirect
		l2, _, err := ip.entry(op, root, int(i), true)
		if err != nil {
			return 0, false, err
		}
		return ip.entry(op, l2, int(j), false)
	}
	return 0, false, errno.EFBIG
}

// ensureIndirect returns the indirect block at *slot, allocating a zeroed
// one if it is 0.
func (ip *Inode) ensureIndirect(op *wal.Op, slot *uint32) (uint32, error) {
	if *slot != 0 {
		return *slot, nil
	}
	a, err := ip.allocZeroed(op)
	if err != nil {
		return 0, err
	}
	*slot = a
	return a, nil
}

// allocZeroed allocates a block for an indirect table and writes it zeroed.
func (ip *Inode) allocZeroed(op *wal.Op) (uint32, error) {
	a, err := ip.t.allocBlock(op)
	if err != nil {
		return 0, err
	}
	buf := ip.t.cache.Fresh(uint64(a))
	op.Write(buf)
	ip.t.cache.Release(buf)
	ip.d.Blocks++
	return a, nil
}

// entry returns entry i of indirect block tab, allocating a block for it if
// it is 0: a zeroed indirect block if table, else a data block (fresh).
func (ip *Inode) entry(op *wal.Op, tab uint32, i int, table bool) (a uint32, fresh bool, err error) {
	buf, err := ip.t.cache.Read(uint64(tab))
	if err != nil {
		return 0, false, err
	}
	defer ip.t.cache.Release(buf)
	if a = binary.LittleEndian.Uint32(buf.Data[4*i:]); a != 0 {
		if !ip.t.sb.IsData(a) {
			return 0, false, errno.Corrupt("inode %d: indirect block %d names block %d, outside the data blocks", ip.Inum, tab, a)
		}
		return a, false, nil
	}
	if table {
		a, err = ip.allocZeroed(op)
	} else {
		a, err = ip.t.allocBlock(op)
		ip.d.Blocks++
	}
	if err != nil {
		if !table {
			ip.d.Blocks--
		}
		return 0, false, err
	}
	binary.LittleEndian.PutUint32(buf.Data[4*i:], a)
	op.Write(buf)
	return a, !table, nil
}

// getEntry returns entry i of indirect block tab, checked.
func (ip *Inode) getEntry(tab uint32, i int) (uint32, error) {
	buf, err := ip.t.cache.Read(uint64(tab))
	if err != nil {
		return 0, err
	}
	a := binary.LittleEndian.Uint32(buf.Data[4*i:])
	ip.t.cache.Release(buf)
	if a != 0 && !ip.t.sb.IsData(a) {
		return 0, errno.Corrupt("inode %d: indirect block %d names block %d, outside the data blocks", ip.Inum, tab, a)
	}
	return a, nil
}

// setEntry sets entry i of indirect block tab to v and returns the old
// value.
func (ip *Inode) setEntry(op *wal.Op, tab uint32, i int, v uint32) (uint32, error) {
	buf, err := ip.t.cache.Read(uint64(tab))
	if err != nil {
		return 0, err
	}
	defer ip.t.cache.Release(buf)
	old := binary.LittleEndian.Uint32(buf.Data[4*i:])
	if old != v {
		binary.LittleEndian.PutUint32(buf.Data[4*i:], v)
		op.Write(buf)
	}
	return old, nil
}
