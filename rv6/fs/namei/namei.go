//rl:domain

// Package namei is the path-name layer of the Rv6 file system, above the
// directory layer: it turns a slash-separated path into an inode by
// looking up one component after the other.
//
// Paths: "/" starts at the root, anything else at the start directory.
// Empty components ("a//b") are skipped; "." and ".." are looked up like any
// name (every directory has them; the root's ".." is the root). A trailing
// slash requires the result to be a directory. There are no symbolic
// links.
//
// Locking: the walk holds one directory's lock at a time (shared), and a
// reference to the next inode before letting the directory go, so no lock
// order is involved. Looking up in a removed directory (no links left)
// fails with errno.ENOENT. Walk calls inode.Table.Put: no operation may be
// open and no inode locked when it is called.
package namei

import (
	"strings"

	"github.com/rlgo/redleaf/rv6/fs/dir"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// PathMax is the longest path, in bytes.
const PathMax = 4096

// A Walker resolves paths in one file system.
type Walker struct {
	T    *inode.Table
	Root *inode.Inode // referenced by the owner of the Walker
}

// Walk returns the inode path names, referenced, starting from start for a
// relative path. start is borrowed: Walk takes its own reference.
func (w Walker) Walk(start *inode.Inode, path string) (*inode.Inode, error) {
	comps, dirOnly, err := split(path)
	if err != nil {
		return nil, err
	}
	ip := w.begin(start, path)
	for _, name := range comps {
		next, err := w.step(ip, name)
		w.T.Put(ip)
		if err != nil {
			return nil, err
		}
		ip = next
	}
	if dirOnly {
		ip.RLock()
		isDir := ip.Type() == layout.TypeDir
		ip.RUnlock()
		if !isDir {
			w.T.Put(ip)
			return nil, errno.ENOTDIR
		}
	}
	return ip, nil
}

// WalkParent returns the directory that holds the last component of path,
// referenced, and that component. For a path with no components ("/") it
// returns the start directory and ".". dirOnly reports a trailing slash
// (the last component must name a directory).
func (w Walker) WalkParent(start *inode.Inode, path string) (dp *inode.Inode, name string, dirOnly bool, err error) {
	comps, dirOnly, err := split(path)
	if err != nil {
		return nil, "", false, err
	}
	ip := w.begin(start, path)
	if len(comps) == 0 {
		return ip, ".", true, nil
	}
	for _, c := range comps[:len(comps)-1] {
		next, err := w.step(ip, c)
		w.T.Put(ip)
		if err != nil {
			return nil, "", false, err
		}
		ip = next
	}
	ip.RLock()
	isDir := ip.Type() == layout.TypeDir
	ip.RUnlock()
	if !isDir {
		w.T.Put(ip)
		return nil, "", false, errno.ENOTDIR
	}
	return ip, comps[len(comps)-1], dirOnly, nil
}

func (w Walker) begin(start *inode.Inode, path string) *inode.Inode {
	if strings.HasPrefix(path, "/") || start == nil {
		start = w.Root
	}
	return w.T.Dup(start)
}

// step looks name up in directory ip and returns its inode, referenced.
func (w Walker) step(ip *inode.Inode, name string) (*inode.Inode, error) {
	ip.RLock()
	defer ip.RUnlock()
	switch {
	case ip.Type() != layout.TypeDir:
		return nil, errno.ENOTDIR
	case ip.Nlink() == 0:
		return nil, errno.ENOENT
	}
	e, _, err := dir.Lookup(ip, name)
	if err != nil {
		return nil, err
	}
	if e.Inum == ip.Inum {
		return w.T.Dup(ip), nil
	}
	return w.T.Get(e.Inum)
}

// split splits path into its components and says whether it ends in a
// slash.
func split(path string) (comps []string, dirOnly bool, err error) {
	switch {
	case path == "":
		return nil, false, errno.ENOENT
	case len(path) > PathMax:
		return nil, false, errno.ENAMETOOLONG
	case strings.IndexByte(path, 0) >= 0:
		return nil, false, errno.EINVAL
	}
	for c := range strings.SplitSeq(path, "/") {
		if c == "" {
			continue
		}
		if len(c) > layout.NameMax {
			return nil, false, errno.ENAMETOOLONG
		}
		comps = append(comps, c)
	}
	return comps, strings.HasSuffix(path, "/"), nil
}
