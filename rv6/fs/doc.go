//rl:domain

// Package fs is the Rv6 file system: xv6's layered design with larger
// limits, for a RedLeaf-style OS of language-isolated domains. This package
// is the top layer, the API the syscall layer wraps; the layers under it
// are each a package that calls only the ones below:
//
//	fs        FS, Cwd, File: operations on paths and open files (this package)
//	namei     path names -> inodes
//	dir       directories: arrays of name -> inode entries
//	inode     inodes, block map (direct, indirect, doubly-indirect), allocation
//	wal       write-ahead log: atomic, durable operations, group commit
//	bcache    buffer cache: one cached copy per block, batched reads
//	blockdev  the block device interface (batches of 4 KiB blocks), RAM disk
//
// with layout (the on-disk format) and errno (POSIX error values) beside
// them, and fsck (the checker) reading the disk directly.
//
// # Limits
//
// 4 KiB blocks; up to 2^32-1 blocks (16 TiB) per file system; files up to
// layout.MaxFileSize (12 direct blocks + 1024 indirect + 1024*1024 doubly
// indirect: just over 4 GiB); names up to layout.NameMax (58) bytes; paths
// up to namei.PathMax bytes; directories up to layout.MaxDirSize; 65535
// links per inode. Files may have holes.
//
// # Durability
//
// Every operation that changes the disk is one or more logged
// transactions (package wal): a crash at any point leaves the file system
// as it was after some prefix of its transactions, and mounting recovers
// it (replaying or discarding the log, then freeing orphaned inodes).
// Operations that fit in one transaction are atomic: Create, Mkdir, Link,
// Unlink, Rmdir, Rename, and writes up to FS.MaxAtomicWrite (280 KiB with
// the largest log; in practice much more fits, as blocks already in the
// transaction count once). Longer writes and truncations, and the freeing
// of a large unlinked file, are split into several transactions, each
// leaving the file system consistent: a longer write is then durable
// piecewise, block by block in order, and a shrink from the end down.
//
// What "returned" guarantees, with the default Durability (SyncEachOp):
// when an operation returns nil, its changes are committed to the device
// (the device's Flush has returned): a crash after that never loses them.
// Operations running at the same time from several goroutines share
// commits (group commit). With SyncOnDemand, operations return once
// applied in memory and become durable together at the next FS.Sync or
// File.Sync (fsync: when it returns nil, every operation that returned
// before it is durable), when the log fills, or at Unmount; a crash loses a
// suffix of the operations since the last commit, never part of one.
//
// A device error during a commit makes the file system fail: every later
// operation returns errno.EIO until it is mounted again.
//
// # API
//
// Mount returns an FS; Format makes one. Paths are resolved by a Cwd (a
// working directory: the syscall layer keeps one per process, Clone for
// spawn); the FS's own methods resolve from the root. Open returns a File,
// which reads and writes at offsets (the file descriptor's offset, dup and
// O_APPEND's use of File.Append are the syscall layer's). Errors are
// errno values (ENOENT, EEXIST, ...) wrapped in *PathError or *LinkError,
// for errors.Is.
//
// # Concurrency
//
// FS, Cwd and File are safe for concurrent use. Lock order (each layer
// documents its part): FS.renameMu (renames and Getwd only), then
// Inode.wmu (one writer of a file's contents at a time), then wal.Begin,
// then inode locks: a directory before the inodes it names; for a rename
// the ancestor of the two directories first (by inode number if neither
// is), then the two named inodes by inode number; then allocators, buffer
// locks and the leaf mutexes of the table, log and cache.
//
// Domain rules: this package and the layers under it are domains
// (//rl:domain): safe Go, standard-library pure packages only, no
// goroutines of their own (the last operation of a group commits in its
// caller's goroutine), no mutable package state. Host-side code (a
// file-backed device, mkfs and fsck for image files) lives in hostdev and
// tools.
package fs
