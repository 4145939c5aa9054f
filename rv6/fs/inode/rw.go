package inode

import (
	"io"

	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// readBatch is the most blocks one device read of ReadAt asks for.
const readBatch = 256

// WriteRoom is the room a write needs in its operation for one more block:
// in the worst case the data block, a singly-indirect and the
// doubly-indirect block and the bitmap block of each (written as they are
// allocated), and the inode block. Operations that write reserve at least
// this.
const WriteRoom = 7

// ReadAt reads len(p) bytes at offset off, following io.ReaderAt: it
// returns io.EOF with fewer bytes at the end of the contents. Holes read
// as zeros. ip is locked (shared is enough).
func (ip *Inode) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errno.EINVAL
	}
	size := int64(ip.d.Size)
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), size-off))
	done := 0
	for done < want {
		pos := off + int64(done)
		first := pos / layout.BlockSize
		last := (off + int64(want) - 1) / layout.BlockSize
		n := int(min(last-first+1, readBatch))
		addrs, err := ip.mapRange(first, n)
		if err != nil {
			return done, err
		}
		var blks []uint64
		for _, a := range addrs {
			if a != 0 {
				blks = append(blks, uint64(a))
			}
		}
		var bufs []*bcache.Buf
		if len(blks) > 0 {
			if bufs, err = ip.t.cache.ReadBatch(blks); err != nil {
				return done, err
			}
		}
		k := 0
		for _, a := range addrs {
			pos := off + int64(done)
			bo := int(pos % layout.BlockSize)
			m := min(layout.BlockSize-bo, want-done)
			if a == 0 {
				clear(p[done : done+m])
			} else {
				copy(p[done:done+m], bufs[k].Data[bo:])
				k++
			}
			done += m
		}
		for _, b := range bufs {
			ip.t.cache.Release(b)
		}
	}
	if want < len(p) {
		return want, io.EOF
	}
	return want, nil
}

// WriteAt writes p at offset off, in op, as far as op has room for
// (WriteRoom per block): it returns the bytes written, which may be fewer
// than len(p) with a nil error; the caller continues in a new operation.
// Writing past the end extends the file (a hole if off is past it). ip is
// locked.
func (ip *Inode) WriteAt(op *wal.Op, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errno.EINVAL
	}
	var tooBig bool
	if off+int64(len(p)) > layout.MaxFileSize {
		if off >= layout.MaxFileSize {
			return 0, errno.EFBIG
		}
		p, tooBig = p[:layout.MaxFileSize-off], true
	}
	t := ip.t
	n := 0
	var err error
	for n < len(p) && op.Room() >= WriteRoom {
		pos := off + int64(n)
		bo := int(pos % layout.BlockSize)
		m := min(layout.BlockSize-bo, len(p)-n)
		var a uint32
		var fresh bool
		if a, fresh, err = ip.bmapAlloc(op, pos/layout.BlockSize); err != nil {
			break
		}
		var buf *bcache.Buf
		switch {
		case fresh:
			buf = t.cache.Fresh(uint64(a))
		case m == layout.BlockSize:
			buf = t.cache.ForOverwrite(uint64(a))
		default:
			buf, err = t.cache.Read(uint64(a))
		}
		if err != nil || buf == nil {
			break
		}
		copy(buf.Data[bo:], p[n:n+m])
		op.Write(buf)
		t.cache.Release(buf)
		n += m
	}
	if n > 0 {
		if end := off + int64(n); end > int64(ip.d.Size) {
			ip.d.Size = uint64(end)
		}
		ip.d.Mtime = t.now()
		ip.d.Ctime = ip.d.Mtime
	}
	// The block map may have changed even if nothing was written (an
	// indirect block allocated before the data block ran out of space).
	if uerr := ip.update(op); err == nil {
		err = uerr
	}
	if err == nil && tooBig && n == len(p) {
		err = errno.EFBIG
	}
	return n, err
}
