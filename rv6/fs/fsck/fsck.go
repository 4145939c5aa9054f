//rl:domain

// Package fsck checks an Rv6 file system on a block device without
// changing it, and reports what is wrong.
//
// It reads the disk directly (not through the file system's layers) and
// checks, in order: the superblock; the log (a committed transaction that
// recovery has not installed yet is laid over the disk, so what is checked
// is what the next mount will see); every inode (type, size, block
// addresses in the data region, no block mapped past the size, the Blocks
// count, zero bytes past the size); that no block is claimed twice; every
// directory (entries decode, "." and ".." first and right, names unique,
// entries name allocated inodes of the right type, no holes, each
// directory named once); that every inode is reachable from the root;
// link counts against the entries naming each inode; and the bitmap
// against the blocks in use (leaked blocks and blocks in use but free).
//
// After an unclean shutdown an inode with no links and no name is an
// orphan that the next mount frees: that is a note, not a problem. On a
// cleanly unmounted file system it is a problem.
package fsck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// A Kind is a kind of problem.
type Kind string

// The kinds of problems.
const (
	Superblock   Kind = "superblock"    // the superblock is unreadable or invalid
	Log          Kind = "log"           // the log header is invalid
	BadInode     Kind = "inode"         // a dinode does not decode (type, size)
	BadBlock     Kind = "block-range"   // a block address outside the data region
	DupBlock     Kind = "dup-block"     // a block claimed twice
	Size         Kind = "size"          // blocks past the size, a wrong Blocks count, data past the size
	BadDirent    Kind = "dirent"        // an entry that does not decode, dangling, of the wrong type, or a duplicate name
	DirStructure Kind = "dir-structure" // ".", ".." wrong, a directory named twice, holes in a directory
	Unreachable  Kind = "unreachable"   // an inode with links but no path from the root
	LinkCount    Kind = "link-count"    // nlink differs from the entries naming the inode
	Bitmap       Kind = "bitmap"        // bitmap differs from the blocks in use
	Orphan       Kind = "orphan"        // an inode with no links on a cleanly unmounted file system
)

// A Problem is one thing wrong.
type Problem struct {
	Kind Kind
	Msg  string
}

func (p Problem) String() string { return string(p.Kind) + ": " + p.Msg }

// maxPerKind bounds the problems listed of one kind; the rest are counted.
const maxPerKind = 50

// A Report is the outcome of a check.
type Report struct {
	Problems []Problem
	Omitted  map[Kind]int // problems not listed, past maxPerKind
	Notes    []string     // states that are consistent but worth knowing
	Files    int
	Dirs     int
	Blocks   int64 // data blocks in use
}

// OK reports whether the file system is consistent.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Has reports whether the report has a problem of kind k.
func (r *Report) Has(k Kind) bool {
	return slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Kind == k }) || r.Omitted[k] > 0
}

func (r *Report) add(k Kind, format string, args ...any) {
	n := 0
	for _, p := range r.Problems {
		if p.Kind == k {
			n++
		}
	}
	if n >= maxPerKind {
		if r.Omitted == nil {
			r.Omitted = map[Kind]int{}
		}
		r.Omitted[k]++
		return
	}
	r.Problems = append(r.Problems, Problem{Kind: k, Msg: fmt.Sprintf(format, args...)})
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// An inodeInfo is what the check gathered about one allocated inode.
type inodeInfo struct {
	d      layout.Dinode
	refs   int      // entries naming it, "." and ".." included
	names  int      // entries naming it other than "." and ".."
	parent uint32   // for a directory: the directory that names it (first seen)
	data   []uint32 // for a directory: its data blocks by file block number
}

// A checker holds one check's state.
type checker struct {
	dev     blockdev.Device
	sb      layout.Superblock
	overlay map[uint32]*blockdev.Block
	r       *Report
	inodes  map[uint32]*inodeInfo
	owner   []uint32 // per block: the inode that claims it (metadata: ^0)
}

const metaOwner = ^uint32(0)

// Check checks the file system on dev. It returns an error only if the
// device cannot be read; everything wrong with the file system is in the
// report.
func Check(dev blockdev.Device) (*Report, error) {
	r := &Report{}
	c := &checker{dev: dev, r: r, inodes: map[uint32]*inodeInfo{}}
	if dev.NumBlocks() <= layout.LogStart {
		r.add(Superblock, "the device has only %d blocks", dev.NumBlocks())
		return r, nil
	}
	b, err := blockdev.ReadBlock(dev, layout.SuperBlock)
	if err != nil {
		return nil, err
	}
	sb, err := layout.DecodeSuperblock(b)
	if err != nil {
		r.add(Superblock, "%v", err)
		return r, nil
	}
	if uint64(sb.Size) > dev.NumBlocks() {
		r.add(Superblock, "the file system has %d blocks, the device only %d", sb.Size, dev.NumBlocks())
		return r, nil
	}
	c.sb = sb
	if err := c.checkLog(); err != nil {
		return nil, err
	}
	c.owner = make([]uint32, c.sb.Size)
	for a := range c.sb.DataStart() {
		c.owner[a] = metaOwner
	}
	if err := c.checkInodes(); err != nil {
		return nil, err
	}
	if err := c.checkDirs(); err != nil {
		return nil, err
	}
	c.checkLinks()
	if err := c.checkBitmap(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkLog reads the log, lays a committed transaction over the disk and
// re-reads the superblock from it.
func (c *checker) checkLog() error {
	st, err := wal.ReadState(c.dev, &c.sb)
	if err != nil {
		if errors.Is(err, errno.EUCLEAN) {
			c.r.add(Log, "%v", err)
			return nil
		}
		return err
	}
	n := len(st.Header.Blocks)
	switch {
	case n > 0 && st.Committed:
		c.r.note("the log holds a committed transaction of %d blocks (sequence %d) that the next mount installs; checked as installed", n, st.Header.Seq)
		c.overlay = map[uint32]*blockdev.Block{}
		for i, a := range st.Header.Blocks {
			c.overlay[a] = st.Data[i]
		}
	case n > 0:
		c.r.note("the log holds an uncommitted transaction of %d blocks that the next mount discards", n)
	}
	if b := c.overlay[layout.SuperBlock]; b != nil {
		sb, err := layout.DecodeSuperblock(b)
		if err != nil || sb.Size != c.sb.Size || sb.NInodes != c.sb.NInodes || sb.NLog != c.sb.NLog {
			c.r.add(Superblock, "the superblock in the log does not match the one on disk: %v", err)
		} else {
			c.sb = sb
		}
	}
	if c.sb.State == layout.StateMounted {
		c.r.note("the file system was not unmounted cleanly")
	}
	return nil
}

// read reads blocks through the overlay.
func (c *checker) read(blks []uint32) ([]*blockdev.Block, error) {
	out := make([]*blockdev.Block, len(blks))
	var reqs []blockdev.Req
	for i, a := range blks {
		if b := c.overlay[a]; b != nil {
			out[i] = b
			continue
		}
		out[i] = new(blockdev.Block)
		reqs = append(reqs, blockdev.Req{LBA: uint64(a), Data: out[i]})
	}
	for len(reqs) > 0 {
		k := min(len(reqs), 256)
		if err := c.dev.Read(reqs[:k]); err != nil {
			return nil, err
		}
		reqs = reqs[k:]
	}
	return out, nil
}

func (c *checker) read1(a uint32) (*blockdev.Block, error) {
	bs, err := c.read([]uint32{a})
	if err != nil {
		return nil, err
	}
	return bs[0], nil
}

// claim records that inode inum uses block a; it reports whether a is a
// valid, unclaimed data block.
func (c *checker) claim(inum, a uint32, what func() string) bool {
	if !c.sb.IsData(a) {
		c.r.add(BadBlock, "inode %d: %s names block %d, outside the data blocks %d..%d", inum, what(), a, c.sb.DataStart(), c.sb.Size-1)
		return false
	}
	if o := c.owner[a]; o != 0 {
		if o == inum {
			c.r.add(DupBlock, "inode %d: block %d is mapped twice (%s)", inum, a, what())
		} else {
			c.r.add(DupBlock, "block %d is claimed by inode %d and inode %d (%s)", a, o, inum, what())
		}
		return false
	}
	c.owner[a] = inum
	c.r.Blocks++
	return true
}

// checkInodes decodes every dinode and walks the block map of each
// allocated one.
func (c *checker) checkInodes() error {
	const batch = 64
	for b := uint32(0); b < c.sb.NInodeBlocks; b += batch {
		n := min(batch, c.sb.NInodeBlocks-b)
		blks := make([]uint32, n)
		for i := range blks {
			blks[i] = c.sb.InodeStart() + b + uint32(i)
		}
		data, err := c.read(blks)
		if err != nil {
			return err
		}
		for i, blk := range data {
			for s := range uint32(layout.InodesPerBlock) {
				inum := (b+uint32(i))*layout.InodesPerBlock + s
				if inum == 0 || inum >= c.sb.NInodes {
					continue
				}
				raw := blk[s*layout.InodeSize : (s+1)*layout.InodeSize]
				if layout.PeekType(raw) == layout.TypeFree {
					continue
				}
				d, err := layout.DecodeDinode(raw)
				if err != nil {
					c.r.add(BadInode, "inode %d: %v", inum, err)
					continue
				}
				info := &inodeInfo{d: d}
				c.inodes[inum] = info
				if err := c.walkBlocks(inum, info); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// walkBlocks claims the blocks of one inode and checks them against its
// size and Blocks count.
func (c *checker) walkBlocks(inum uint32, info *inodeInfo) error {
	d := &info.d
	nblocks := (int64(d.Size) + layout.BlockSize - 1) / layout.BlockSize
	isDir := d.Type == layout.TypeDir
	if isDir {
		info.data = make([]uint32, nblocks)
	}
	var count uint32
	var last uint32 // the data block holding the last byte, if mapped
	mapped := func(bn int64, a uint32) {
		if a == 0 {
			return
		}
		if !c.claim(inum, a, func() string { return fmt.Sprintf("file block %d", bn) }) {
			return
		}
		count++
		if bn >= nblocks {
			c.r.add(Size, "inode %d: block %d is mapped at file block %d, past the size %d", inum, a, bn, d.Size)
			return
		}
		if isDir {
			info.data[bn] = a
		}
		if bn == nblocks-1 {
			last = a
		}
	}
	for i := range layout.NDirect {
		mapped(int64(i), d.Addrs[i])
	}
	// table reads a claimed indirect block's addresses (nil if invalid).
	table := func(a uint32, what func() string) ([]uint32, error) {
		if a == 0 || !c.claim(inum, a, what) {
			return nil, nil
		}
		count++
		blk, err := c.read1(a)
		if err != nil {
			return nil, err
		}
		t := make([]uint32, layout.NIndirect)
		for i := range t {
			t[i] = binary.LittleEndian.Uint32(blk[4*i:])
		}
		return t, nil
	}
	single, err := table(d.Addrs[layout.Indirect], func() string { return "the indirect block" })
	if err != nil {
		return err
	}
	for i, a := range single {
		mapped(layout.NDirect+int64(i), a)
	}
	root, err := table(d.Addrs[layout.DoubleIndirect], func() string { return "the doubly-indirect block" })
	if err != nil {
		return err
	}
	base := int64(layout.NDirect + layout.NIndirect)
	for i, l2a := range root {
		l2, err := table(l2a, func() string { return fmt.Sprintf("indirect block %d of the doubly-indirect block", i) })
		if err != nil {
			return err
		}
		if l2 == nil && l2a != 0 {
			continue
		}
		if l2a != 0 && base+int64(i)*layout.NIndirect >= nblocks {
			c.r.add(Size, "inode %d: indirect block %d covers only file blocks past the size %d", inum, l2a, d.Size)
		}
		for j, a := range l2 {
			mapped(base+int64(i)*layout.NIndirect+int64(j), a)
		}
	}
	if count != d.Blocks {
		c.r.add(Size, "inode %d: its Blocks count is %d, it maps %d", inum, d.Blocks, count)
	}
	if last != 0 && d.Size%layout.BlockSize != 0 {
		blk, err := c.read1(last)
		if err != nil {
			return err
		}
		for _, x := range blk[d.Size%layout.BlockSize:] {
			if x != 0 {
				c.r.add(Size, "inode %d: non-zero bytes past the size %d in its last block %d", inum, d.Size, last)
				break
			}
		}
	}
	if isDir {
		c.r.Dirs++
		for bn, a := range info.data {
			if a == 0 {
				c.r.add(DirStructure, "directory %d: hole at block %d", inum, bn)
				break
			}
		}
	} else {
		c.r.Files++
	}
	return nil
}

// checkDirs checks every directory's entries and counts the references to
// each inode.
func (c *checker) checkDirs() error {
	inums := make([]uint32, 0, len(c.inodes))
	for inum, info := range c.inodes {
		if info.d.Type == layout.TypeDir {
			inums = append(inums, inum)
		}
	}
	slices.Sort(inums)
	for _, inum := range inums {
		if c.inodes[inum].d.Nlink == 0 {
			// A removed directory whose freeing was cut short: its
			// "." and ".." name nothing any more (see checkLinks).
			continue
		}
		if err := c.checkDir(inum, c.inodes[inum]); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) checkDir(inum uint32, info *inodeInfo) error {
	names := map[string]bool{}
	slot := 0
	for _, a := range info.data {
		if a == 0 {
			slot += layout.DirentsPerBlock
			continue
		}
		blk, err := c.read1(a)
		if err != nil {
			return err
		}
		for i := 0; i < layout.BlockSize; i, slot = i+layout.DirentSize, slot+1 {
			e, err := layout.DecodeDirent(blk[i:])
			if err != nil {
				c.r.add(BadDirent, "directory %d, slot %d: %v", inum, slot, err)
				continue
			}
			c.checkEntry(inum, slot, e, names)
		}
	}
	if slot < 2 || !names["."] || !names[".."] {
		c.r.add(DirStructure, "directory %d: missing \".\" or \"..\"", inum)
	}
	return nil
}

// checkEntry checks entry e at slot of directory inum.
func (c *checker) checkEntry(inum uint32, slot int, e layout.Dirent, names map[string]bool) {
	switch {
	case slot == 0 && (e.Name != "." || e.Inum != inum):
		c.r.add(DirStructure, "directory %d: first entry is %q -> %d, want \".\" -> %d", inum, e.Name, e.Inum, inum)
	case slot == 1 && e.Name != "..":
		c.r.add(DirStructure, "directory %d: second entry is %q, want \"..\"", inum, e.Name)
	case slot > 1 && (e.Name == "." || e.Name == ".."):
		c.r.add(DirStructure, "directory %d: %q at slot %d", inum, e.Name, slot)
	}
	if e.Inum == 0 {
		return
	}
	if names[e.Name] {
		c.r.add(BadDirent, "directory %d: name %q appears twice", inum, e.Name)
	}
	names[e.Name] = true
	target := c.inodes[e.Inum]
	if target == nil {
		c.r.add(BadDirent, "directory %d: entry %q names inode %d, which is free or invalid", inum, e.Name, e.Inum)
		return
	}
	target.refs++
	if target.d.Type != e.Type {
		c.r.add(BadDirent, "directory %d: entry %q says %v, inode %d is a %v", inum, e.Name, e.Type, e.Inum, target.d.Type)
	}
	switch e.Name {
	case ".":
	case "..":
		if target.d.Type != layout.TypeDir {
			c.r.add(DirStructure, "directory %d: \"..\" names inode %d, not a directory", inum, e.Inum)
		}
	default:
		target.names++
		if target.d.Type == layout.TypeDir {
			if target.names > 1 {
				c.r.add(DirStructure, "directory %d is named twice (again in directory %d as %q)", e.Inum, inum, e.Name)
			} else {
				target.parent = inum
			}
		}
	}
}

// checkLinks checks reachability, ".." and link counts.
func (c *checker) checkLinks() {
	root := c.inodes[layout.RootInum]
	if root == nil || root.d.Type != layout.TypeDir {
		c.r.add(DirStructure, "the root inode %d is not an allocated directory", layout.RootInum)
		return
	}
	root.parent = layout.RootInum
	// Reachability: from the root through names.
	reached := map[uint32]bool{layout.RootInum: true}
	queue := []uint32{layout.RootInum}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, e := range c.entries(d) {
			if e.Name == "." || e.Name == ".." || reached[e.Inum] || c.inodes[e.Inum] == nil {
				continue
			}
			reached[e.Inum] = true
			if c.inodes[e.Inum].d.Type == layout.TypeDir {
				queue = append(queue, e.Inum)
			}
		}
	}
	inums := make([]uint32, 0, len(c.inodes))
	for inum := range c.inodes {
		inums = append(inums, inum)
	}
	slices.Sort(inums)
	for _, inum := range inums {
		info := c.inodes[inum]
		if info.d.Type == layout.TypeDir && inum != layout.RootInum && info.names > 0 {
			if dd := c.dotdot(inum); dd != info.parent {
				c.r.add(DirStructure, "directory %d: \"..\" names %d, but directory %d names it", inum, dd, info.parent)
			}
		}
		if inum == layout.RootInum {
			if dd := c.dotdot(inum); dd != layout.RootInum {
				c.r.add(DirStructure, "the root's \"..\" names %d, not itself", dd)
			}
		}
		switch {
		case !reached[inum] && info.d.Nlink == 0 && info.refs == 0:
			if c.sb.State == layout.StateMounted {
				c.r.note("inode %d is an orphan (no links): the next mount frees it", inum)
			} else {
				c.r.add(Orphan, "inode %d has no links and no name on a cleanly unmounted file system", inum)
			}
			continue
		case !reached[inum]:
			c.r.add(Unreachable, "inode %d (%v, %d links) cannot be reached from the root", inum, info.d.Type, info.d.Nlink)
		}
		if int(info.d.Nlink) != info.refs {
			c.r.add(LinkCount, "inode %d (%v): link count %d, but %d entries name it", inum, info.d.Type, info.d.Nlink, info.refs)
		}
	}
}

// entries returns the valid entries of directory inum (re-read: the
// check keeps no directory contents in memory).
func (c *checker) entries(inum uint32) []layout.Dirent {
	info := c.inodes[inum]
	var out []layout.Dirent
	for _, a := range info.data {
		if a == 0 {
			continue
		}
		blk, err := c.read1(a)
		if err != nil {
			return out
		}
		for i := 0; i < layout.BlockSize; i += layout.DirentSize {
			if e, err := layout.DecodeDirent(blk[i:]); err == nil && e.Inum != 0 {
				out = append(out, e)
			}
		}
	}
	return out
}

// dotdot returns what ".." of directory inum names (0 if none).
func (c *checker) dotdot(inum uint32) uint32 {
	for _, e := range c.entries(inum) {
		if e.Name == ".." {
			return e.Inum
		}
	}
	return 0
}

// checkBitmap compares the bitmap with the blocks in use, a word at a
// time.
func (c *checker) checkBitmap() error {
	blks := make([]uint32, c.sb.NBitmap)
	for i := range blks {
		blks[i] = c.sb.BitmapStart() + uint32(i)
	}
	data, err := c.read(blks)
	if err != nil {
		return err
	}
	for i, blk := range data {
		for w := range layout.BlockSize / 8 {
			have := binary.LittleEndian.Uint64(blk[8*w:])
			base := uint64(i)*layout.BitsPerBlock + uint64(64*w)
			want := ^uint64(0) // past the end: padding, always set
			if base >= uint64(c.sb.Size) {
				if have != want {
					c.r.add(Bitmap, "padding bits %d..%d (past the end) are not all set", base, base+63)
				}
				continue
			}
			want = 0
			for bit := range uint64(64) {
				if b := base + bit; b >= uint64(c.sb.Size) || c.owner[b] != 0 {
					want |= 1 << bit
				}
			}
			if have == want {
				continue
			}
			for bit := range uint64(64) {
				b, set := base+bit, have&(1<<bit) != 0
				if set == (want&(1<<bit) != 0) {
					continue
				}
				switch {
				case b >= uint64(c.sb.Size):
					c.r.add(Bitmap, "padding bit %d (past the end) is clear", b)
				case c.owner[b] == metaOwner:
					c.r.add(Bitmap, "metadata block %d is marked free", b)
				case c.owner[b] != 0:
					c.r.add(Bitmap, "block %d is in use by inode %d but marked free", b, c.owner[b])
				default:
					c.r.add(Bitmap, "block %d is marked in use but nothing uses it (leaked)", b)
				}
			}
		}
	}
	return nil
}
