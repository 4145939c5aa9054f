package fs

import (
	"slices"
	"strings"
	"sync"

	"github.com/rlgo/redleaf/rv6/fs/dir"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// A Cwd is a current working directory: the start of relative paths. The
// syscall layer gives each process one (Clone for spawn). Its path methods
// are the FS's, relative to it; an FS's own methods start at the root. A
// Cwd holds a reference to its directory, which keeps a removed directory
// alive until Chdir or Close.
type Cwd struct {
	fs *FS
	mu sync.Mutex
	ip *inode.Inode // nil once closed
}

// Cwd returns a new working directory at the root.
func (f *FS) Cwd() *Cwd {
	return &Cwd{fs: f, ip: f.itab.Dup(f.root)}
}

// dir returns the working directory, referenced (so that a concurrent
// Chdir cannot free it under an operation).
func (c *Cwd) dir() (*inode.Inode, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ip == nil:
		return nil, errno.EBADF
	case c.fs.closed.Load():
		return nil, errUnmounted
	}
	return c.fs.itab.Dup(c.ip), nil
}

// Clone returns another working directory at the same place.
func (c *Cwd) Clone() (*Cwd, error) {
	ip, err := c.dir()
	if err != nil {
		return nil, err
	}
	return &Cwd{fs: c.fs, ip: ip}, nil
}

// Close drops the working directory.
func (c *Cwd) Close() error {
	c.mu.Lock()
	ip := c.ip
	c.ip = nil
	c.mu.Unlock()
	if ip == nil || ip == c.fs.root && c == &c.fs.rootCwd {
		return nil
	}
	return c.fs.put(ip)
}

// Chdir changes the working directory to path.
func (c *Cwd) Chdir(path string) error {
	start, err := c.dir()
	if err != nil {
		return pathErr("chdir", path, err)
	}
	ip, err := c.fs.walk.Walk(start, path)
	c.fs.put(start)
	if err != nil {
		return pathErr("chdir", path, err)
	}
	ip.RLock()
	isDir := ip.Type() == layout.TypeDir
	ip.RUnlock()
	if !isDir {
		c.fs.put(ip)
		return pathErr("chdir", path, errno.ENOTDIR)
	}
	c.mu.Lock()
	old := c.ip
	c.ip = ip
	c.mu.Unlock()
	return c.fs.put(old)
}

// Getwd returns the absolute path of the working directory, found by
// walking ".." up to the root. A removed working directory gives
// errno.ENOENT.
func (c *Cwd) Getwd() (string, error) {
	ip, err := c.dir()
	if err != nil {
		return "", pathErr("getwd", "", err)
	}
	f := c.fs
	f.renameMu.Lock() // a consistent path: no rename moves a directory meanwhile
	defer f.renameMu.Unlock()
	var names []string
	for ip.Inum != layout.RootInum {
		if len(names) > maxDepth {
			f.put(ip)
			return "", pathErr("getwd", "", errno.Corrupt("no root within %d levels of \"..\"", maxDepth))
		}
		ip.RLock()
		var parent uint32
		if ip.Nlink() == 0 {
			err = errno.ENOENT
		} else {
			parent, err = dir.Parent(ip)
		}
		ip.RUnlock()
		var pp *inode.Inode
		if err == nil {
			pp, err = f.itab.Get(parent)
		}
		var name string
		if err == nil {
			pp.RLock()
			name, err = dir.NameOf(pp, ip.Inum)
			pp.RUnlock()
		}
		f.put(ip)
		if err != nil {
			f.put(pp)
			return "", pathErr("getwd", "", err)
		}
		names = append(names, name)
		ip = pp
	}
	f.put(ip)
	slices.Reverse(names)
	return "/" + strings.Join(names, "/"), nil
}

// withDir runs fn with the working directory.
func (c *Cwd) withDir(op, path string, fn func(start *inode.Inode) error) error {
	start, err := c.dir()
	if err == nil {
		err = fn(start)
		c.fs.put(start)
	}
	return pathErr(op, path, err)
}

// Open opens path (see Flag).
func (c *Cwd) Open(path string, flag Flag) (*File, error) {
	var fl *File
	err := c.withDir("open", path, func(start *inode.Inode) (err error) {
		fl, err = c.fs.open(start, path, flag)
		return err
	})
	return fl, err
}

// Create creates or truncates the file path and opens it for reading and
// writing.
func (c *Cwd) Create(path string) (*File, error) {
	return c.Open(path, O_RDWR|O_CREATE|O_TRUNC)
}

// Mkdir creates directory path.
func (c *Cwd) Mkdir(path string) error {
	return c.withDir("mkdir", path, func(start *inode.Inode) error {
		if c.fs.ro {
			return errno.EROFS
		}
		return c.fs.mkdir(start, path)
	})
}

// Unlink removes the name path of a file.
func (c *Cwd) Unlink(path string) error {
	return c.withDir("unlink", path, func(start *inode.Inode) error {
		if c.fs.ro {
			return errno.EROFS
		}
		return c.fs.unlink(start, path, false)
	})
}

// Rmdir removes the empty directory path.
func (c *Cwd) Rmdir(path string) error {
	return c.withDir("rmdir", path, func(start *inode.Inode) error {
		if c.fs.ro {
			return errno.EROFS
		}
		return c.fs.unlink(start, path, true)
	})
}

// Link makes newpath a name of the file oldpath.
func (c *Cwd) Link(oldpath, newpath string) error {
	err := c.withDir("link", oldpath, func(start *inode.Inode) error {
		if c.fs.ro {
			return errno.EROFS
		}
		return c.fs.link(start, oldpath, newpath)
	})
	return linkErr("link", oldpath, newpath, err)
}

// Rename renames oldpath to newpath, atomically replacing newpath if it
// exists and is compatible (a file by a file, an empty directory by a
// directory).
func (c *Cwd) Rename(oldpath, newpath string) error {
	err := c.withDir("rename", oldpath, func(start *inode.Inode) error {
		if c.fs.ro {
			return errno.EROFS
		}
		return c.fs.rename(start, oldpath, newpath)
	})
	return linkErr("rename", oldpath, newpath, err)
}

// Stat returns the status of path.
func (c *Cwd) Stat(path string) (Stat, error) {
	var st Stat
	err := c.withDir("stat", path, func(start *inode.Inode) (err error) {
		st, err = c.fs.stat(start, path)
		return err
	})
	return st, err
}

// ReadDir lists directory path (without "." and ".."), in directory order.
func (c *Cwd) ReadDir(path string) ([]DirEntry, error) {
	var es []DirEntry
	err := c.withDir("readdir", path, func(start *inode.Inode) (err error) {
		es, err = c.fs.readDir(start, path)
		return err
	})
	return es, err
}

// linkErr turns the PathError of a two-path operation into a LinkError.
func linkErr(op, oldpath, newpath string, err error) error {
	if pe, ok := err.(*errno.PathError); ok {
		return &errno.LinkError{Op: op, Old: oldpath, New: newpath, Err: pe.Err}
	}
	return err
}

// The FS's path operations, at the root.

// Open opens path (see Flag); relative paths start at the root.
func (f *FS) Open(path string, flag Flag) (*File, error) { return f.rootCwd.Open(path, flag) }

// Create creates or truncates the file path and opens it read-write.
func (f *FS) Create(path string) (*File, error) { return f.rootCwd.Create(path) }

// Mkdir creates directory path.
func (f *FS) Mkdir(path string) error { return f.rootCwd.Mkdir(path) }

// Unlink removes the name path of a file.
func (f *FS) Unlink(path string) error { return f.rootCwd.Unlink(path) }

// Rmdir removes the empty directory path.
func (f *FS) Rmdir(path string) error { return f.rootCwd.Rmdir(path) }

// Link makes newpath a name of the file oldpath.
func (f *FS) Link(oldpath, newpath string) error { return f.rootCwd.Link(oldpath, newpath) }

// Rename renames oldpath to newpath (see Cwd.Rename).
func (f *FS) Rename(oldpath, newpath string) error { return f.rootCwd.Rename(oldpath, newpath) }

// Stat returns the status of path.
func (f *FS) Stat(path string) (Stat, error) { return f.rootCwd.Stat(path) }

// ReadDir lists directory path (without "." and "..").
func (f *FS) ReadDir(path string) ([]DirEntry, error) { return f.rootCwd.ReadDir(path) }
