package fs

import (
	"slices"

	"github.com/rlgo/redleaf/rv6/fs/dir"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/namei"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// maxDepth bounds walks up the tree through "..": no path can name a
// deeper directory, so deeper means a loop, which only corruption makes.
const maxDepth = namei.PathMax / 2

// ancestors returns the inode numbers from dp up to the root, both
// included, following "..". renameMu is held, so the tree's shape above
// existing directories does not change meanwhile.
func (f *FS) ancestors(dp *inode.Inode) ([]uint32, error) {
	chain := []uint32{dp.Inum}
	ip := f.itab.Dup(dp)
	defer func() { f.put(ip) }()
	for ip.Inum != layout.RootInum {
		if len(chain) > maxDepth {
			return nil, errno.Corrupt("directory %d: no root within %d levels of \"..\"", dp.Inum, maxDepth)
		}
		ip.RLock()
		parent, err := dir.Parent(ip)
		ip.RUnlock()
		if err != nil {
			return nil, err
		}
		next, err := f.itab.Get(parent)
		if err != nil {
			return nil, err
		}
		f.put(ip)
		ip = next
		chain = append(chain, ip.Inum)
	}
	return chain, nil
}

// rename renames oldpath to newpath, replacing what newpath names if it is
// compatible (a file by a file, an empty directory by a directory).
func (f *FS) rename(start *inode.Inode, oldpath, newpath string) error {
	f.renameMu.Lock()
	defer f.renameMu.Unlock()
	sdp, sname, sDirOnly, err := f.walk.WalkParent(start, oldpath)
	if err != nil {
		return err
	}
	defer f.put(sdp)
	ddp, dname, dDirOnly, err := f.walk.WalkParent(start, newpath)
	if err != nil {
		return err
	}
	defer f.put(ddp)
	if isDot(sname) || isDot(dname) {
		if sname == "." && sdp.Inum == layout.RootInum || dname == "." && ddp.Inum == layout.RootInum {
			return errno.EBUSY
		}
		return errno.EINVAL
	}
	sChain, err := f.ancestors(sdp)
	if err != nil {
		return err
	}
	dChain, err := f.ancestors(ddp)
	if err != nil {
		return err
	}
	op, err := f.begin(fixedOp)
	if err != nil {
		return err
	}
	r := renamer{f: f, op: op, sdp: sdp, ddp: ddp, sname: sname, dname: dname,
		dirOnly: sDirOnly || dDirOnly, sChain: sChain, dChain: dChain}
	err = end(op, r.run())
	if e := f.put(r.src, r.dst); err == nil {
		err = e
	}
	return err
}

// A renamer holds the state of one rename.
type renamer struct {
	f          *FS
	op         *wal.Op
	sdp, ddp   *inode.Inode
	sname      string
	dname      string
	dirOnly    bool
	sChain     []uint32 // ancestors of sdp, itself first
	dChain     []uint32 // ancestors of ddp
	src, dst   *inode.Inode
	soff, doff int64
}

func (r *renamer) run() error {
	// Lock the directories, the ancestor first: every other operation
	// locks a directory before the inodes it names, so this order is
	// theirs. Unrelated directories: no one else holds one while waiting
	// for the other, any fixed order will do.
	first, second := r.sdp, r.ddp
	switch {
	case first == second || first.Inum == second.Inum:
		second = nil
	case slices.Contains(r.sChain, r.ddp.Inum): // ddp is above sdp
		first, second = r.ddp, r.sdp
	case slices.Contains(r.dChain, r.sdp.Inum):
	case r.ddp.Inum < r.sdp.Inum:
		first, second = r.ddp, r.sdp
	}
	first.Lock()
	defer first.Unlock()
	if second != nil {
		second.Lock()
		defer second.Unlock()
	}
	if r.sdp.Nlink() == 0 || r.ddp.Nlink() == 0 {
		return errno.ENOENT
	}
	se, soff, err := dir.Lookup(r.sdp, r.sname)
	if err != nil {
		return err
	}
	r.soff = soff
	if se.Inum == r.sdp.Inum {
		return errno.Corrupt("directory %d: entry %q names the directory itself", se.Inum, r.sname)
	}
	if slices.Contains(r.dChain, se.Inum) {
		return errno.EINVAL // into itself or its own subtree
	}
	if r.src, err = r.f.itab.Get(se.Inum); err != nil {
		return err
	}
	de, doff, err := dir.Lookup(r.ddp, r.dname)
	switch {
	case err == errno.ENOENT:
	case err != nil:
		return err
	case de.Inum == se.Inum:
		return nil // two names of one inode: nothing to do
	case de.Inum == r.ddp.Inum:
		return errno.Corrupt("directory %d: entry %q names the directory itself", de.Inum, r.dname)
	case slices.Contains(r.sChain, de.Inum):
		// The target is above the source: a non-empty directory, and
		// one locked already (or to be locked out of order).
		if se.Type == layout.TypeDir {
			return errno.ENOTEMPTY
		}
		return errno.EISDIR
	default:
		r.doff = doff
		if r.dst, err = r.f.itab.Get(de.Inum); err != nil {
			return err
		}
	}
	// Lock the two named inodes. Neither is above the other (checked
	// above), and nobody holds one while waiting for the other.
	a, b := r.src, r.dst
	if b != nil && b.Inum < a.Inum {
		a, b = b, a
	}
	a.Lock()
	defer a.Unlock()
	if b != nil {
		b.Lock()
		defer b.Unlock()
	}
	return r.move()
}

// move changes the entries and link counts; everything is locked.
func (r *renamer) move() error {
	op, src, dst := r.op, r.src, r.dst
	srcDir := src.Type() == layout.TypeDir
	if r.dirOnly && !srcDir {
		return errno.ENOTDIR
	}
	crossDir := r.sdp.Inum != r.ddp.Inum
	if dst != nil {
		dstDir := dst.Type() == layout.TypeDir
		switch {
		case srcDir && !dstDir:
			return errno.ENOTDIR
		case !srcDir && dstDir:
			return errno.EISDIR
		case dstDir:
			empty, err := dir.IsEmpty(dst)
			if err != nil {
				return err
			}
			if !empty {
				return errno.ENOTEMPTY
			}
		}
		if err := dir.Replace(op, r.ddp, r.doff, src.Inum, src.Type()); err != nil {
			return err
		}
		if dstDir {
			// dst loses its name and "."; ddp loses dst's "..".
			if err := dst.SetNlink(op, 0); err != nil {
				return err
			}
			if err := r.ddp.SetNlink(op, r.ddp.Nlink()-1); err != nil {
				return err
			}
		} else if err := dst.SetNlink(op, dst.Nlink()-1); err != nil {
			return err
		}
	} else {
		if srcDir && crossDir && r.ddp.Nlink() >= layout.MaxLinks {
			return errno.EMLINK
		}
		if err := dir.Add(op, r.ddp, r.dname, src.Inum, src.Type()); err != nil {
			return err
		}
	}
	if err := dir.Remove(op, r.sdp, r.soff); err != nil {
		return err
	}
	if srcDir && crossDir {
		if err := dir.SetParent(op, src, r.ddp.Inum); err != nil {
			return err
		}
		if err := r.sdp.SetNlink(op, r.sdp.Nlink()-1); err != nil {
			return err
		}
		if err := r.ddp.SetNlink(op, r.ddp.Nlink()+1); err != nil {
			return err
		}
	}
	if err := r.sdp.Touch(op); err != nil {
		return err
	}
	return r.ddp.Touch(op)
}
