//rl:domain

// Package dir is the directory layer of the Rv6 file system, above the
// inode layer: a directory is an inode whose contents are an array of
// layout.Dirent entries.
//
// Invariants (fsck checks them): entry 0 is "." (the directory itself) and
// entry 1 is ".." (its parent; the root's is itself); no other entry is
// "." or ".."; names are unique within a directory; a directory's size is a
// whole number of blocks, with no holes, up to layout.MaxDirSize; an
// entry's type is its inode's. A directory never shrinks: removing an entry
// frees its slot for a later Add.
//
// Every function needs the directory's inode locked by the caller: shared
// for reading functions, exclusive for those that take an operation.
package dir

import (
	"errors"
	"fmt"

	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// scanBlocks is how many directory blocks scan reads at once.
const scanBlocks = 16

// scan calls f with each entry of dp and its offset, in order, until f
// returns false. Free slots are passed too (Inum 0).
func scan(dp *inode.Inode, f func(e layout.Dirent, off int64) bool) error {
	if dp.Type() != layout.TypeDir {
		return errno.ENOTDIR
	}
	size := dp.Size()
	buf := make([]byte, min(size, scanBlocks*layout.BlockSize))
	for off := int64(0); off < size; off += int64(len(buf)) {
		n, err := dp.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && n == 0 {
			return err
		}
		for i := 0; i+layout.DirentSize <= n; i += layout.DirentSize {
			e, err := layout.DecodeDirent(buf[i:])
			if err != nil {
				return errno.Corrupt("directory %d at offset %d: %v", dp.Inum, off+int64(i), err)
			}
			if !f(e, off+int64(i)) {
				return nil
			}
		}
	}
	return nil
}

// Lookup finds name in dp and returns its entry and offset. It returns
// errno.ENOENT if there is none.
func Lookup(dp *inode.Inode, name string) (layout.Dirent, int64, error) {
	if err := layout.CheckName(name); err != nil {
		return layout.Dirent{}, 0, err
	}
	var found layout.Dirent
	var at int64 = -1
	err := scan(dp, func(e layout.Dirent, off int64) bool {
		if e.Inum != 0 && e.Name == name {
			found, at = e, off
			return false
		}
		return true
	})
	if err != nil {
		return layout.Dirent{}, 0, err
	}
	if at < 0 {
		return layout.Dirent{}, 0, errno.ENOENT
	}
	return found, at, nil
}

// List returns the entries of dp, "." and ".." included, in directory
// order.
func List(dp *inode.Inode) ([]layout.Dirent, error) {
	var es []layout.Dirent
	err := scan(dp, func(e layout.Dirent, _ int64) bool {
		if e.Inum != 0 {
			es = append(es, e)
		}
		return true
	})
	return es, err
}

// IsEmpty reports whether dp has no entries but "." and "..".
func IsEmpty(dp *inode.Inode) (bool, error) {
	empty := true
	err := scan(dp, func(e layout.Dirent, _ int64) bool {
		if e.Inum != 0 && e.Name != "." && e.Name != ".." {
			empty = false
		}
		return empty
	})
	return empty, err
}

// NameOf returns the name of inode inum in dp (other than "." and ".."),
// or errno.ENOENT.
func NameOf(dp *inode.Inode, inum uint32) (string, error) {
	name := ""
	err := scan(dp, func(e layout.Dirent, _ int64) bool {
		if e.Inum == inum && e.Name != "." && e.Name != ".." {
			name = e.Name
			return false
		}
		return true
	})
	if err == nil && name == "" {
		err = errno.ENOENT
	}
	return name, err
}

// Add adds the entry name -> inum (of type typ) to dp, in op: in the first
// free slot, or in a new block at the end. It returns errno.EEXIST if name
// is taken, errno.ENOSPC if the directory is full.
func Add(op *wal.Op, dp *inode.Inode, name string, inum uint32, typ layout.FileType) error {
	if err := layout.CheckName(name); err != nil {
		return err
	}
	free := int64(-1)
	exists := false
	err := scan(dp, func(e layout.Dirent, off int64) bool {
		if e.Inum == 0 {
			if free < 0 {
				free = off
			}
		} else if e.Name == name {
			exists = true
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case exists:
		return errno.EEXIST
	}
	e := layout.Dirent{Inum: inum, Type: typ, Name: name}
	if free >= 0 {
		return put(op, dp, free, e)
	}
	if dp.Size()+layout.BlockSize > layout.MaxDirSize {
		return errno.ENOSPC
	}
	// Grow by a whole block, so that the directory has no partial block.
	var blk [layout.BlockSize]byte
	e.Encode(blk[:])
	return write(op, dp, blk[:], dp.Size())
}

// Remove clears the entry at offset off of dp, in op.
func Remove(op *wal.Op, dp *inode.Inode, off int64) error {
	return put(op, dp, off, layout.Dirent{})
}

// Replace makes the entry at offset off of dp name inode inum of type typ,
// keeping its name, in op (rename over an existing name).
func Replace(op *wal.Op, dp *inode.Inode, off int64, inum uint32, typ layout.FileType) error {
	var raw [layout.DirentSize]byte
	if n, err := dp.ReadAt(raw[:], off); n != len(raw) {
		return errors.Join(errno.Corrupt("directory %d: no entry at offset %d", dp.Inum, off), err)
	}
	e, err := layout.DecodeDirent(raw[:])
	if err != nil {
		return err
	}
	e.Inum, e.Type = inum, typ
	return put(op, dp, off, e)
}

// Init writes the "." and ".." entries of the new, empty directory dp,
// in op.
func Init(op *wal.Op, dp *inode.Inode, parent uint32) error {
	if dp.Size() != 0 {
		return errno.Corrupt("directory %d: initializing a directory of %d bytes", dp.Inum, dp.Size())
	}
	var blk [layout.BlockSize]byte
	dot := layout.Dirent{Inum: dp.Inum, Type: layout.TypeDir, Name: "."}
	dotdot := layout.Dirent{Inum: parent, Type: layout.TypeDir, Name: ".."}
	dot.Encode(blk[0:])
	dotdot.Encode(blk[layout.DirentSize:])
	return write(op, dp, blk[:], 0)
}

// SetParent makes the ".." entry of dp name parent, in op (a directory
// renamed to another parent).
func SetParent(op *wal.Op, dp *inode.Inode, parent uint32) error {
	return Replace(op, dp, layout.DirentSize, parent, layout.TypeDir)
}

// Parent returns the inode number in the ".." entry of dp.
func Parent(dp *inode.Inode) (uint32, error) {
	e, _, err := Lookup(dp, "..")
	return e.Inum, err
}

func put(op *wal.Op, dp *inode.Inode, off int64, e layout.Dirent) error {
	var raw [layout.DirentSize]byte
	e.Encode(raw[:])
	return write(op, dp, raw[:], off)
}

// write writes p at off in dp, all of it in op.
func write(op *wal.Op, dp *inode.Inode, p []byte, off int64) error {
	n, err := dp.WriteAt(op, p, off)
	if err == nil && n != len(p) {
		// The operation's reservation was too small: a bug above.
		err = fmt.Errorf("directory %d: entry write did not fit in its operation: %w", dp.Inum, errno.EIO)
	}
	return err
}
