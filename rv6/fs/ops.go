package fs

import (
	"github.com/rlgo/redleaf/rv6/fs/dir"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// The operations on names. Each takes the start directory of relative
// paths (borrowed), runs in one operation of fixedOp blocks, and drops its
// references (put) after the operation has ended, since dropping the last
// one of an unlinked inode frees it in operations of its own.

// put drops references, ignoring nils; it returns the first error (of
// freeing an inode).
func (f *FS) put(ips ...*inode.Inode) error {
	var first error
	for _, ip := range ips {
		if ip != nil {
			if err := f.itab.Put(ip); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// end ends an operation, keeping the first error.
func end(op *wal.Op, err error) error {
	if e := op.End(); err == nil {
		err = e
	}
	return err
}

// isDot reports the names that cannot be created, removed or renamed.
func isDot(name string) bool { return name == "." || name == ".." }

// create looks name up in dp and creates it (a file or a directory) if it
// is not there; excl makes an existing name an error (errno.EEXIST). It
// returns the inode, referenced.
func (f *FS) create(dp *inode.Inode, name string, typ layout.FileType, excl bool) (*inode.Inode, error) {
	if err := layout.CheckName(name); err != nil {
		return nil, err
	}
	op, err := f.begin(fixedOp)
	if err != nil {
		return nil, err
	}
	ip, err := f.createIn(op, dp, name, typ, excl)
	if err = end(op, err); err != nil && ip != nil {
		f.put(ip) // frees it if it was allocated but not linked
		ip = nil
	}
	return ip, err
}

func (f *FS) createIn(op *wal.Op, dp *inode.Inode, name string, typ layout.FileType, excl bool) (*inode.Inode, error) {
	dp.Lock()
	defer dp.Unlock()
	if dp.Nlink() == 0 {
		return nil, errno.ENOENT // removed while we walked to it
	}
	e, _, err := dir.Lookup(dp, name)
	switch {
	case err == nil && excl:
		return nil, errno.EEXIST
	case err == nil:
		return f.itab.Get(e.Inum)
	case err != errno.ENOENT:
		return nil, err
	case typ == layout.TypeDir && dp.Nlink() >= layout.MaxLinks:
		return nil, errno.EMLINK
	}
	ip, err := f.itab.Alloc(op, typ)
	if err != nil {
		return nil, err
	}
	ip.Lock()
	defer ip.Unlock()
	nlink := uint16(1)
	if typ == layout.TypeDir {
		if err := dir.Init(op, ip, dp.Inum); err != nil {
			return ip, err
		}
		nlink = 2
	}
	if err := dir.Add(op, dp, name, ip.Inum, typ); err != nil {
		return ip, err // no links: freed when put
	}
	if err := ip.SetNlink(op, nlink); err != nil {
		return ip, err
	}
	if typ == layout.TypeDir {
		return ip, dp.SetNlink(op, dp.Nlink()+1) // its ".."
	}
	return ip, dp.Touch(op)
}

// mkdir creates directory path.
func (f *FS) mkdir(start *inode.Inode, path string) error {
	dp, name, _, err := f.walk.WalkParent(start, path)
	if err != nil {
		return err
	}
	defer f.put(dp)
	if isDot(name) {
		return errno.EEXIST
	}
	ip, err := f.create(dp, name, layout.TypeDir, true)
	if err != nil {
		return err
	}
	return f.put(ip)
}

// unlink removes the name path of a file (rmdir false) or of an empty
// directory (rmdir true).
func (f *FS) unlink(start *inode.Inode, path string, rmdir bool) error {
	dp, name, dirOnly, err := f.walk.WalkParent(start, path)
	if err != nil {
		return err
	}
	defer f.put(dp)
	switch {
	case name == "." && rmdir:
		return errno.EINVAL
	case name == ".." && rmdir:
		return errno.ENOTEMPTY
	case isDot(name):
		return errno.EISDIR
	}
	op, err := f.begin(fixedOp)
	if err != nil {
		return err
	}
	ip, err := f.unlinkIn(op, dp, name, dirOnly, rmdir)
	err = end(op, err)
	if e := f.put(ip); err == nil {
		err = e
	}
	return err
}

func (f *FS) unlinkIn(op *wal.Op, dp *inode.Inode, name string, dirOnly, rmdir bool) (*inode.Inode, error) {
	dp.Lock()
	defer dp.Unlock()
	if dp.Nlink() == 0 {
		return nil, errno.ENOENT
	}
	e, off, err := dir.Lookup(dp, name)
	if err != nil {
		return nil, err
	}
	if e.Inum == dp.Inum {
		// Only "." may name the directory itself; locking it twice
		// would deadlock.
		return nil, errno.Corrupt("directory %d: entry %q names the directory itself", dp.Inum, name)
	}
	ip, err := f.itab.Get(e.Inum)
	if err != nil {
		return nil, err
	}
	ip.Lock()
	defer ip.Unlock()
	isDir := ip.Type() == layout.TypeDir
	switch {
	case rmdir && !isDir, !rmdir && !isDir && dirOnly:
		return ip, errno.ENOTDIR
	case !rmdir && isDir:
		return ip, errno.EISDIR
	case isDir && ip.Inum == layout.RootInum:
		return ip, errno.EBUSY
	}
	if isDir {
		empty, err := dir.IsEmpty(ip)
		if err != nil {
			return ip, err
		}
		if !empty {
			return ip, errno.ENOTEMPTY
		}
	}
	if err := dir.Remove(op, dp, off); err != nil {
		return ip, err
	}
	if !isDir {
		if err := ip.SetNlink(op, ip.Nlink()-1); err != nil {
			return ip, err
		}
		return ip, dp.Touch(op)
	}
	// The directory loses its entry in dp and its "."; dp loses the
	// directory's "..".
	if err := ip.SetNlink(op, 0); err != nil {
		return ip, err
	}
	return ip, dp.SetNlink(op, dp.Nlink()-1)
}

// link makes newpath another name of the file oldpath.
func (f *FS) link(start *inode.Inode, oldpath, newpath string) error {
	ip, err := f.walk.Walk(start, oldpath)
	if err != nil {
		return err
	}
	defer f.put(ip)
	dp, name, dirOnly, err := f.walk.WalkParent(start, newpath)
	if err != nil {
		return err
	}
	defer f.put(dp)
	ip.RLock()
	isDir := ip.Type() == layout.TypeDir
	ip.RUnlock()
	switch {
	case isDir:
		return errno.EPERM
	case isDot(name):
		return errno.EEXIST
	case dirOnly:
		return errno.ENOTDIR
	}
	op, err := f.begin(fixedOp)
	if err != nil {
		return err
	}
	return end(op, f.linkIn(op, dp, name, ip))
}

func (f *FS) linkIn(op *wal.Op, dp *inode.Inode, name string, ip *inode.Inode) error {
	dp.Lock()
	defer dp.Unlock()
	if dp.Nlink() == 0 {
		return errno.ENOENT
	}
	if _, _, err := dir.Lookup(dp, name); err == nil {
		return errno.EEXIST
	} else if err != errno.ENOENT {
		return err
	}
	// ip is a file: a leaf in the lock order, so locking it after dp is
	// safe whether or not dp names it.
	ip.Lock()
	defer ip.Unlock()
	switch {
	case ip.Nlink() == 0:
		return errno.ENOENT // unlinked since we looked it up
	case ip.Nlink() >= layout.MaxLinks:
		return errno.EMLINK
	}
	if err := dir.Add(op, dp, name, ip.Inum, layout.TypeFile); err != nil {
		return err
	}
	if err := ip.SetNlink(op, ip.Nlink()+1); err != nil {
		return err
	}
	return dp.Touch(op)
}

// stat returns the status of the inode path names.
func (f *FS) stat(start *inode.Inode, path string) (Stat, error) {
	ip, err := f.walk.Walk(start, path)
	if err != nil {
		return Stat{}, err
	}
	ip.RLock()
	st := statOf(ip)
	ip.RUnlock()
	return st, f.put(ip)
}

// readDir lists directory path.
func (f *FS) readDir(start *inode.Inode, path string) ([]DirEntry, error) {
	ip, err := f.walk.Walk(start, path)
	if err != nil {
		return nil, err
	}
	defer f.put(ip)
	return readDirOf(ip)
}

func readDirOf(ip *inode.Inode) ([]DirEntry, error) {
	ip.RLock()
	defer ip.RUnlock()
	if ip.Type() != layout.TypeDir {
		return nil, errno.ENOTDIR
	}
	es, err := dir.List(ip)
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, 0, len(es))
	for _, e := range es {
		if !isDot(e.Name) {
			out = append(out, DirEntry{Name: e.Name, Inum: e.Inum, Type: e.Type})
		}
	}
	return out, nil
}
