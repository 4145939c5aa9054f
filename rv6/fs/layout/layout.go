//rl:domain

// Package layout is the on-disk format of the Rv6 file system: where things
// are on the disk and how each structure is encoded. It decodes untrusted
// bytes: every Decode function validates what it returns and reports a
// corrupt structure as an error wrapping errno.EUCLEAN, never a panic.
//
// The disk is an array of 4 KiB blocks:
//
//	[ boot | super | log header | log blocks | inodes | bitmap | data ]
//	  0      1       2            3...
//
// All integers are little-endian. Block numbers on disk are 32 bits, so a
// file system holds up to 2^32-1 blocks (16 TiB).
//
//   - Superblock (block 1): the geometry, the clean/mounted state and a
//     CRC-32C of itself.
//   - Log (blocks LogStart..LogStart+NLog-1): a header block naming up to
//     MaxLogEntries home block numbers, followed by the logged copies of
//     those blocks. The header's CRC covers the header and every logged
//     block, so a header whose blocks did not all reach the disk is detected
//     and discarded (see package wal).
//   - Inodes: InodeSize-byte dinodes, InodesPerBlock per block. Inode 0 is
//     never used (0 marks a free directory entry); inode 1 is the root.
//     A dinode maps file block numbers to disk blocks through NDirect direct
//     addresses, one singly-indirect block (NIndirect addresses) and one
//     doubly-indirect block (NIndirect singly-indirect blocks): files up to
//     MaxFileSize (just over 4 GiB). Address 0 is a hole (reads as zeros).
//   - Bitmap: one bit per block of the disk, set when the block is in use.
//     Bits of the metadata blocks (0..DataStart-1) and of the padding past
//     the end of the disk are always set.
//   - Data: file contents, directory contents and indirect blocks.
//     A directory's contents are DirentSize-byte entries; a directory has
//     no holes and its size is a whole number of blocks.
package layout

import (
	"hash/crc32"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// The geometry of every Rv6 file system.
const (
	BlockSize       = blockdev.BlockSize
	SuperBlock      = 1 // block number of the superblock
	LogStart        = 2 // block number of the log header
	RootInum        = 1 // inode number of the root directory
	InodeSize       = 128
	InodesPerBlock  = BlockSize / InodeSize
	NDirect         = 12
	NIndirect       = BlockSize / 4 // addresses per indirect block
	MaxFileBlocks   = NDirect + NIndirect + NIndirect*NIndirect
	MaxFileSize     = int64(MaxFileBlocks) * BlockSize
	BitsPerBlock    = BlockSize * 8
	DirentSize      = 64
	DirentsPerBlock = BlockSize / DirentSize
	NameMax         = DirentSize - 6 // longest file name, in bytes
	MaxBlocks       = 1<<32 - 1      // largest file system, in blocks
	MaxDirSize      = 64 << 20       // largest directory, in bytes (about a million entries)
	MaxLinks        = 1<<16 - 1      // most links to one inode
)

// A FileType says what an inode is.
type FileType uint8

// File types. TypeFree marks an unused inode.
const (
	TypeFree FileType = 0
	TypeDir  FileType = 1
	TypeFile FileType = 2
)

func (t FileType) String() string {
	switch t {
	case TypeFree:
		return "free"
	case TypeDir:
		return "dir"
	case TypeFile:
		return "file"
	}
	return "type?"
}

// checksum is the CRC-32C (Castagnoli) of data, continuing from crc.
func checksum(crc uint32, data []byte) uint32 {
	// MakeTable returns the package's cached table for Castagnoli, so
	// calling it every time costs nothing and keeps no table of our own.
	return crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), data)
}
