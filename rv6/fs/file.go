package fs

import (
	"io"
	"sync"

	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// Flag is how a file is opened: an access mode and options, with Linux's
// values.
type Flag int

// Open flags.
const (
	O_RDONLY    Flag = 0x0
	O_WRONLY    Flag = 0x1
	O_RDWR      Flag = 0x2
	O_ACCMODE   Flag = 0x3
	O_CREATE    Flag = 0x40    // create the file if it does not exist
	O_EXCL      Flag = 0x80    // with O_CREATE: fail if it exists
	O_TRUNC     Flag = 0x200   // truncate a regular file opened for writing
	O_APPEND    Flag = 0x400   // recorded for the syscall layer: File.Append is the atomic append
	O_DIRECTORY Flag = 0x10000 // fail unless a directory
)

// FileType says what an inode is.
type FileType = layout.FileType

const (
	TypeDir  = layout.TypeDir
	TypeFile = layout.TypeFile
)

// Stat is the status of an inode.
type Stat struct {
	Inum   uint32
	Type   FileType
	Nlink  uint16
	Size   int64
	Blocks int64 // 4 KiB blocks allocated, indirect blocks included
	Mtime  int64 // last change of the contents, Unix nanoseconds
	Ctime  int64 // last change of the inode
}

// IsDir reports whether the inode is a directory.
func (s Stat) IsDir() bool { return s.Type == layout.TypeDir }

func statOf(ip *inode.Inode) Stat {
	d := ip.Dinode()
	return Stat{Inum: ip.Inum, Type: d.Type, Nlink: d.Nlink, Size: int64(d.Size),
		Blocks: int64(d.Blocks), Mtime: d.Mtime, Ctime: d.Ctime}
}

// A DirEntry is an entry of a directory listing.
type DirEntry struct {
	Name string
	Inum uint32
	Type FileType
}

// A File is an open file or directory. Its methods are safe for concurrent
// use; offsets are the caller's (the syscall layer keeps the file
// descriptor's).
type File struct {
	fs   *FS
	ip   *inode.Inode
	name string
	flag Flag

	mu     sync.RWMutex // held shared by every method, exclusive by Close
	closed bool
}

// open opens path.
func (f *FS) open(start *inode.Inode, path string, flag Flag) (*File, error) {
	acc := flag & O_ACCMODE
	if acc == O_ACCMODE {
		return nil, errno.EINVAL
	}
	writable := acc != O_RDONLY
	var ip *inode.Inode
	if flag&O_CREATE != 0 {
		if f.ro {
			return nil, errno.EROFS
		}
		dp, name, dirOnly, err := f.walk.WalkParent(start, path)
		if err != nil {
			return nil, err
		}
		if dirOnly || isDot(name) {
			f.put(dp)
			return nil, errno.EISDIR
		}
		ip, err = f.create(dp, name, layout.TypeFile, flag&O_EXCL != 0)
		f.put(dp)
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		if ip, err = f.walk.Walk(start, path); err != nil {
			return nil, err
		}
	}
	ip.RLock()
	isDir := ip.Type() == layout.TypeDir
	ip.RUnlock()
	var err error
	switch {
	case isDir && (writable || flag&O_TRUNC != 0):
		err = errno.EISDIR
	case !isDir && flag&O_DIRECTORY != 0:
		err = errno.ENOTDIR
	case writable && f.ro:
		err = errno.EROFS
	case writable && flag&O_TRUNC != 0:
		err = f.truncate(ip, 0)
	}
	if err != nil {
		f.put(ip)
		return nil, err
	}
	return &File{fs: f, ip: ip, name: path, flag: flag}, nil
}

// Name returns the path the file was opened by.
func (fl *File) Name() string { return fl.name }

// Flags returns the flags the file was opened with.
func (fl *File) Flags() Flag { return fl.flag }

// Inum returns the file's inode number.
func (fl *File) Inum() uint32 { return fl.ip.Inum }

// use returns an error if the file is closed or its file system
// unmounted; it holds fl.mu shared until done is called.
func (fl *File) use() (done func(), err error) {
	fl.mu.RLock()
	switch {
	case fl.closed:
		err = errno.EBADF
	case fl.fs.closed.Load():
		err = errUnmounted
	}
	if err != nil {
		fl.mu.RUnlock()
		return nil, err
	}
	return fl.mu.RUnlock, nil
}

func (fl *File) writable() error {
	if fl.flag&O_ACCMODE == O_RDONLY {
		return errno.EBADF
	}
	return nil
}

// ReadAt reads len(p) bytes at off, as io.ReaderAt: fewer only at the end
// of the file, with io.EOF. Holes read as zeros.
func (fl *File) ReadAt(p []byte, off int64) (int, error) {
	done, err := fl.use()
	if err != nil {
		return 0, pathErr("read", fl.name, err)
	}
	defer done()
	if fl.flag&O_ACCMODE == O_WRONLY {
		return 0, pathErr("read", fl.name, errno.EBADF)
	}
	fl.ip.RLock()
	defer fl.ip.RUnlock()
	if fl.ip.Type() == layout.TypeDir {
		return 0, pathErr("read", fl.name, errno.EISDIR)
	}
	n, err := fl.ip.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = pathErr("read", fl.name, err)
	}
	return n, err
}

// WriteAt writes p at off, extending the file if needed (past the end, a
// hole). Writes up to FS.MaxAtomicWrite are one transaction; longer ones
// are split. It returns the bytes written; fewer than len(p) only with an
// error (errno.ENOSPC, errno.EFBIG). See the package doc for when the data
// is durable.
func (fl *File) WriteAt(p []byte, off int64) (int, error) {
	done, err := fl.use()
	if err != nil {
		return 0, pathErr("write", fl.name, err)
	}
	defer done()
	if err := fl.writable(); err != nil {
		return 0, pathErr("write", fl.name, err)
	}
	if off < 0 {
		return 0, pathErr("write", fl.name, errno.EINVAL)
	}
	fl.ip.LockWriter()
	defer fl.ip.UnlockWriter()
	n, err := fl.fs.write(fl.ip, p, off)
	return n, pathErr("write", fl.name, err)
}

// Append writes p at the end of the file, atomically with respect to other
// Appends and writes, and returns the offset it wrote at.
func (fl *File) Append(p []byte) (off int64, n int, err error) {
	done, err := fl.use()
	if err != nil {
		return 0, 0, pathErr("write", fl.name, err)
	}
	defer done()
	if err := fl.writable(); err != nil {
		return 0, 0, pathErr("write", fl.name, err)
	}
	fl.ip.LockWriter()
	defer fl.ip.UnlockWriter()
	fl.ip.RLock()
	off = fl.ip.Size()
	fl.ip.RUnlock()
	n, err = fl.fs.write(fl.ip, p, off)
	return off, n, pathErr("write", fl.name, err)
}

// write writes p at off in as many operations as it takes. ip's writer
// lock is held.
func (f *FS) write(ip *inode.Inode, p []byte, off int64) (int, error) {
	ip.RLock()
	isDir := ip.Type() == layout.TypeDir
	ip.RUnlock()
	if isDir {
		return 0, errno.EISDIR
	}
	if off+int64(len(p)) > layout.MaxFileSize {
		// Write what fits, then fail (inode.WriteAt does the same).
		if off >= layout.MaxFileSize {
			return 0, errno.EFBIG
		}
	}
	n := 0
	for n < len(p) {
		op, err := f.begin(f.writeReserve(int64(len(p) - n)))
		if err != nil {
			return n, err
		}
		ip.Lock()
		m, err := ip.WriteAt(op, p[n:], off+int64(n))
		ip.Unlock()
		n += m
		if err = end(op, err); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Truncate changes the size of the file. Shrinking frees the blocks past
// the new end (in several transactions for a large cut); growing leaves a
// hole.
func (fl *File) Truncate(size int64) error {
	done, err := fl.use()
	if err != nil {
		return pathErr("truncate", fl.name, err)
	}
	defer done()
	if err := fl.writable(); err != nil {
		return pathErr("truncate", fl.name, errno.EINVAL)
	}
	return pathErr("truncate", fl.name, fl.fs.truncate(fl.ip, size))
}

func (f *FS) truncate(ip *inode.Inode, size int64) error {
	if size < 0 {
		return errno.EINVAL
	}
	ip.LockWriter()
	defer ip.UnlockWriter()
	ip.RLock()
	isDir := ip.Type() == layout.TypeDir
	ip.RUnlock()
	if isDir {
		return errno.EISDIR
	}
	for {
		op, err := f.begin(f.log.Capacity() / 2)
		if err != nil {
			return err
		}
		ip.Lock()
		done, err := ip.Truncate(op, size)
		ip.Unlock()
		if err = end(op, err); err != nil || done {
			return err
		}
	}
}

// Sync makes every operation that returned before it durable (fsync). The
// file system has one log, so this is FS.Sync.
func (fl *File) Sync() error {
	done, err := fl.use()
	if err != nil {
		return pathErr("sync", fl.name, err)
	}
	defer done()
	return pathErr("sync", fl.name, fl.fs.Sync())
}

// Stat returns the file's status.
func (fl *File) Stat() (Stat, error) {
	done, err := fl.use()
	if err != nil {
		return Stat{}, pathErr("stat", fl.name, err)
	}
	defer done()
	fl.ip.RLock()
	defer fl.ip.RUnlock()
	return statOf(fl.ip), nil
}

// ReadDir lists the directory (without "." and ".."), in directory order.
func (fl *File) ReadDir() ([]DirEntry, error) {
	done, err := fl.use()
	if err != nil {
		return nil, pathErr("readdir", fl.name, err)
	}
	defer done()
	es, err := readDirOf(fl.ip)
	return es, pathErr("readdir", fl.name, err)
}

// Close releases the file. If it was the last reference to an unlinked
// file, the file's blocks are freed now.
func (fl *File) Close() error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.closed {
		return pathErr("close", fl.name, errno.EBADF)
	}
	fl.closed = true
	if fl.fs.closed.Load() {
		return nil
	}
	return pathErr("close", fl.name, fl.fs.put(fl.ip))
}
