package fs

import (
	"fmt"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// FormatOptions shape a new file system. Zero values mean the defaults.
type FormatOptions struct {
	Blocks    uint64 // size in blocks; 0: the whole device
	Inodes    uint32 // 0: one per 16 blocks (64 KiB), at least 64
	LogBlocks uint32 // 0: a 32nd of the disk, within 33..layout.MaxLogBlocks
	Time      int64  // mkfs time and the root's timestamps, Unix nanoseconds (0 is fine: reproducible)
}

// formatBatch is how many blocks Format writes at once.
const formatBatch = 256

// Format writes an empty file system (a root directory only) on dev. It
// writes the superblock, an empty log header, zeroed inode blocks, the
// bitmap and the root directory; the log's blocks and the data blocks are
// left as they are.
func Format(dev blockdev.Device, opts FormatOptions) error {
	n := opts.Blocks
	if n == 0 {
		n = dev.NumBlocks()
	}
	if n > dev.NumBlocks() {
		return fmt.Errorf("fs: format: %d blocks on a device of %d: %w", n, dev.NumBlocks(), errno.EINVAL)
	}
	sb, err := layout.NewSuperblock(n, opts.Inodes, opts.LogBlocks)
	if err != nil {
		return fmt.Errorf("fs: format: %w", err)
	}
	sb.Created = opts.Time
	rootBlock := sb.DataStart()

	blocks := map[uint32]*blockdev.Block{}
	put := func(a uint32) *blockdev.Block {
		b := new(blockdev.Block)
		blocks[a] = b
		return b
	}
	put(0) // the boot block, zeroed
	sb.Encode(put(layout.SuperBlock))
	empty := layout.LogHeader{}
	empty.CRC = empty.Sum(nil)
	empty.Encode(put(layout.LogStart))

	// The root directory: inode 1, with "." and ".." in its first block.
	root := layout.Dinode{Type: layout.TypeDir, Nlink: 2, Size: layout.BlockSize, Blocks: 1, Mtime: opts.Time, Ctime: opts.Time}
	root.Addrs[0] = rootBlock
	ib, off := sb.InodeBlock(layout.RootInum)
	root.Encode(put(ib)[off:])
	rb := put(rootBlock)
	dot := layout.Dirent{Inum: layout.RootInum, Type: layout.TypeDir, Name: "."}
	dotdot := layout.Dirent{Inum: layout.RootInum, Type: layout.TypeDir, Name: ".."}
	dot.Encode(rb[0:])
	dotdot.Encode(rb[layout.DirentSize:])

	// The bitmap: metadata, the root's block and the padding past the end
	// are in use.
	for i := range sb.NBitmap {
		bm := put(sb.BitmapStart() + i)
		base := uint64(i) * layout.BitsPerBlock
		for bit := range uint64(layout.BitsPerBlock) {
			if b := base + bit; b <= uint64(rootBlock) || b >= uint64(sb.Size) {
				bm[bit/8] |= 1 << (bit % 8)
			}
		}
	}

	// Write it all in order, the inode blocks zeroed but for the root's.
	zero := new(blockdev.Block)
	var reqs []blockdev.Req
	flush := func() error {
		err := dev.Write(reqs)
		reqs = reqs[:0]
		return err
	}
	emit := func(a uint32) error {
		b := blocks[a]
		if b == nil {
			b = zero
		}
		reqs = append(reqs, blockdev.Req{LBA: uint64(a), Data: b})
		if len(reqs) == formatBatch {
			return flush()
		}
		return nil
	}
	for _, a := range []uint32{0, layout.SuperBlock, layout.LogStart} {
		if err := emit(a); err != nil {
			return fmt.Errorf("fs: format: %w", err)
		}
	}
	for a := sb.InodeStart(); a <= rootBlock; a++ {
		if err := emit(a); err != nil {
			return fmt.Errorf("fs: format: %w", err)
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("fs: format: %w", err)
	}
	if err := dev.Flush(); err != nil {
		return fmt.Errorf("fs: format: %w", err)
	}
	return nil
}
