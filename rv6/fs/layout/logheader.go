package layout

import (
	"encoding/binary"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// LogMagic identifies a log header ("rvlg").
const LogMagic = 0x72766c67

// logHeaderFixed is the size of the header's fixed part; the block numbers
// follow it.
const logHeaderFixed = 24

// MaxLogEntries is how many blocks one transaction can log.
const MaxLogEntries = (BlockSize - logHeaderFixed) / 4

// A LogHeader is the log's header block: the home block numbers of the
// blocks logged after it, in order, and a CRC-32C over the header and those
// logged blocks. Len(Blocks) == 0 means the log is empty.
//
// On disk: magic (4), count (4), sequence (8), CRC (4), reserved (4), block
// numbers (4 each).
type LogHeader struct {
	Seq    uint64 // commit sequence number, for diagnostics
	Blocks []uint32
	CRC    uint32 // as stored; see Sum
}

// Encode writes h into b with h.CRC as the checksum.
func (h *LogHeader) Encode(b *blockdev.Block) {
	*b = blockdev.Block{}
	le := binary.LittleEndian
	le.PutUint32(b[0:], LogMagic)
	le.PutUint32(b[4:], uint32(len(h.Blocks)))
	le.PutUint64(b[8:], h.Seq)
	le.PutUint32(b[16:], h.CRC)
	for i, a := range h.Blocks {
		le.PutUint32(b[logHeaderFixed+4*i:], a)
	}
}

// Seal computes h.CRC over h and the logged blocks (data[i] is the logged
// copy of Blocks[i]) and encodes h into b.
func (h *LogHeader) Seal(b *blockdev.Block, data []*blockdev.Block) {
	h.CRC = 0
	h.Encode(b)
	h.CRC = sum(b, len(h.Blocks), data)
	binary.LittleEndian.PutUint32(b[16:], h.CRC)
}

// Sum computes the checksum of the header with the given logged blocks,
// to compare with CRC.
func (h *LogHeader) Sum(data []*blockdev.Block) uint32 {
	var b blockdev.Block
	h2 := LogHeader{Seq: h.Seq, Blocks: h.Blocks}
	h2.Encode(&b)
	return sum(&b, len(h.Blocks), data)
}

// sum is the CRC-32C of an encoded header's fields but the CRC (magic,
// count, sequence, block numbers) followed by the logged blocks.
func sum(b *blockdev.Block, n int, data []*blockdev.Block) uint32 {
	crc := checksum(0, b[:16])
	crc = checksum(crc, b[logHeaderFixed:logHeaderFixed+4*n])
	for _, d := range data {
		crc = checksum(crc, d[:])
	}
	return crc
}

// DecodeLogHeader decodes and validates the log header in b. It does not
// check the CRC (that needs the logged blocks: see Sum) nor the block
// numbers against the geometry (see CheckBlocks).
func DecodeLogHeader(b *blockdev.Block) (LogHeader, error) {
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != LogMagic {
		return LogHeader{}, errno.Corrupt("log header: magic %#x, want %#x", m, LogMagic)
	}
	n := le.Uint32(b[4:])
	if n > MaxLogEntries {
		return LogHeader{}, errno.Corrupt("log header: %d blocks, at most %d fit", n, MaxLogEntries)
	}
	h := LogHeader{Seq: le.Uint64(b[8:]), CRC: le.Uint32(b[16:])}
	if n > 0 {
		h.Blocks = make([]uint32, n)
		for i := range h.Blocks {
			h.Blocks[i] = le.Uint32(b[logHeaderFixed+4*i:])
		}
	}
	return h, nil
}

// CheckBlocks checks the header against the geometry of sb: it must fit in
// the log, and name each home block once, none of them in the log or
// before the superblock.
func (h *LogHeader) CheckBlocks(sb *Superblock) error {
	if len(h.Blocks) > int(sb.NLog)-1 {
		return errno.Corrupt("log header: %d blocks do not fit in a log of %d", len(h.Blocks), sb.NLog)
	}
	seen := make(map[uint32]bool, len(h.Blocks))
	for _, a := range h.Blocks {
		switch {
		case a < SuperBlock || a >= sb.Size:
			return errno.Corrupt("log header: home block %d is outside the file system (%d blocks)", a, sb.Size)
		case a >= LogStart && a < LogStart+sb.NLog:
			return errno.Corrupt("log header: home block %d is inside the log", a)
		case seen[a]:
			return errno.Corrupt("log header: home block %d is logged twice", a)
		}
		seen[a] = true
	}
	return nil
}
