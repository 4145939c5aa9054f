package layout

import (
	"encoding/binary"

	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Indices into Dinode.Addrs of the two indirect blocks.
const (
	Indirect       = NDirect     // singly-indirect block
	DoubleIndirect = NDirect + 1 // doubly-indirect block
	NAddrs         = NDirect + 2
)

// A Dinode is an inode as stored on disk.
//
// Invariants of an allocated dinode (checked by fsck, relied on by package
// inode): no block is mapped at a file block number at or past
// ceil(Size/BlockSize); the bytes of the last block past Size are zero;
// Blocks counts the data and indirect blocks mapped; Nlink counts the
// directory entries naming the inode ("." and ".." included).
type Dinode struct {
	Type   FileType
	Nlink  uint16
	Size   uint64
	Blocks uint32 // blocks allocated to the inode, indirect blocks included
	Mtime  int64  // last change of the contents, Unix nanoseconds
	Ctime  int64  // last change of the inode
	Addrs  [NAddrs]uint32
}

// Encode writes d into dst[:InodeSize].
func (d *Dinode) Encode(dst []byte) {
	dst = dst[:InodeSize]
	clear(dst)
	le := binary.LittleEndian
	le.PutUint16(dst[0:], uint16(d.Type))
	le.PutUint16(dst[2:], d.Nlink)
	le.PutUint64(dst[8:], d.Size)
	le.PutUint32(dst[16:], d.Blocks)
	le.PutUint64(dst[24:], uint64(d.Mtime))
	le.PutUint64(dst[32:], uint64(d.Ctime))
	for i, a := range d.Addrs {
		le.PutUint32(dst[40+4*i:], a)
	}
}

// PeekType returns the type field of the dinode in src without decoding
// the rest (the allocator's scan).
func PeekType(src []byte) FileType {
	return FileType(binary.LittleEndian.Uint16(src[0:2]))
}

// DecodeDinode decodes and validates the dinode in src[:InodeSize]. It
// checks what can be checked without the superblock; the caller checks the
// addresses against the data region (Superblock.IsData).
func DecodeDinode(src []byte) (Dinode, error) {
	if len(src) < InodeSize {
		return Dinode{}, errno.Corrupt("dinode: %d bytes, want %d", len(src), InodeSize)
	}
	le := binary.LittleEndian
	t := le.Uint16(src[0:])
	if t > uint16(TypeFile) {
		return Dinode{}, errno.Corrupt("dinode: unknown type %d", t)
	}
	d := Dinode{
		Type:   FileType(t),
		Nlink:  le.Uint16(src[2:]),
		Size:   le.Uint64(src[8:]),
		Blocks: le.Uint32(src[16:]),
		Mtime:  int64(le.Uint64(src[24:])),
		Ctime:  int64(le.Uint64(src[32:])),
	}
	for i := range d.Addrs {
		d.Addrs[i] = le.Uint32(src[40+4*i:])
	}
	if d.Size > uint64(MaxFileSize) {
		return Dinode{}, errno.Corrupt("dinode: size %d exceeds the largest file (%d)", d.Size, MaxFileSize)
	}
	if d.Type == TypeDir && (d.Size%BlockSize != 0 || d.Size > MaxDirSize) {
		return Dinode{}, errno.Corrupt("dinode: directory size %d is not a whole number of blocks up to %d", d.Size, MaxDirSize)
	}
	return d, nil
}
