package sys

import (
	"fmt"
	"io"
	"math"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// The Dev of FileStat: which kind of thing an inode number is of.
const (
	DevDisk    = 1 // the file system
	DevConsole = 2
	DevPipe    = 3
)

// cwdOf returns the process's working directory, or EINTR once it is ending.
func (p *process) cwdOf() (*fs.Cwd, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cwd == nil {
		return nil, errno.EINTR
	}
	return p.cwd, nil
}

// Open opens path (see idl.Sys and the package doc).
func (p *process) Open(path string, flags int32) (int32, error) {
	if flags&idl.OAccMode == idl.OAccMode {
		return -1, &errno.PathError{Op: "open", Path: path, Err: errno.EINVAL}
	}
	cwd, err := p.cwdOf()
	if err != nil {
		return -1, &errno.PathError{Op: "open", Path: path, Err: err}
	}
	f, err := cwd.Open(path, fs.Flag(flags))
	if err != nil {
		return -1, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return -1, err
	}
	o := &ofile{kind: kindFile, acc: flags & idl.OAccMode, append: flags&idl.OAppend != 0, file: f}
	if st.IsDir() {
		o.kind = kindDir
	}
	o.refs.Store(1)
	fd, err := p.install(o)
	if err != nil {
		return -1, &errno.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// Read reads up to n bytes of fd into buf, and gives buf back (always).
func (p *process) Read(fd int32, buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, error) {
	if !buf.Valid() || n < 0 || n > idl.IOSize {
		return buf, 0, fdErr("read", fd, errno.EINVAL)
	}
	o, err := p.get(fd)
	if err != nil {
		return buf, 0, fdErr("read", fd, err)
	}
	defer o.release()
	if o.kind == kindSocket { // the buffer goes to the stack and back
		buf, k, err := o.sock.recv(p, buf, n)
		if err != nil {
			return buf, k, fdErr("read", fd, err)
		}
		return buf, k, nil
	}
	k, err := p.read(o, buf.Get()[:n])
	if err != nil {
		return buf, int32(k), fdErr("read", fd, err)
	}
	return buf, int32(k), nil
}

func (p *process) read(o *ofile, dst []byte) (int, error) {
	switch o.kind {
	case kindFile:
		if !o.readable() {
			return 0, errno.EBADF
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		n, err := o.file.ReadAt(dst, o.off)
		o.off += int64(n)
		if err == io.EOF {
			err = nil
		}
		return n, err
	case kindDir:
		return 0, errno.EISDIR
	case kindPipeRead:
		return o.pipe.read(p, dst)
	case kindConsole:
		return o.cons.read(p, dst)
	}
	return 0, errno.EBADF // the write end of a pipe
}

// Write writes buf[:n] to fd.
func (p *process) Write(fd int32, buf rref.Borrow[idl.IOBuf], n int32) (int32, error) {
	if !buf.Valid() || n < 0 || n > idl.IOSize {
		return 0, fdErr("write", fd, errno.EINVAL)
	}
	o, err := p.get(fd)
	if err != nil {
		return 0, fdErr("write", fd, err)
	}
	defer o.release()
	k, err := p.write(o, buf.Get()[:n])
	if err != nil {
		return int32(k), fdErr("write", fd, err)
	}
	return int32(k), nil
}

func (p *process) write(o *ofile, src []byte) (int, error) {
	switch o.kind {
	case kindFile:
		if !o.writable() {
			return 0, errno.EBADF
		}
		if o.append {
			off, n, err := o.file.Append(src)
			o.mu.Lock()
			o.off = off + int64(n)
			o.mu.Unlock()
			return n, err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		n, err := o.file.WriteAt(src, o.off)
		o.off += int64(n)
		return n, err
	case kindDir:
		return 0, errno.EISDIR
	case kindPipeWrite:
		return o.pipe.write(p, src)
	case kindConsole:
		return o.cons.write(src)
	case kindSocket:
		return o.sock.send(p, src)
	}
	return 0, errno.EBADF // the read end of a pipe
}

// writeAll writes all of src to o.
func (p *process) writeAll(o *ofile, src []byte) (int, error) {
	done := 0
	for done < len(src) {
		n, err := p.write(o, src[done:])
		done += n
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, errno.EIO
		}
	}
	return done, nil
}

// Seek moves fd's offset. A directory can only be rewound (0, SeekSet),
// which restarts ReadDir; pipes and the console cannot seek (ESPIPE).
func (p *process) Seek(fd int32, off int64, whence int32) (int64, error) {
	o, err := p.get(fd)
	if err != nil {
		return -1, fdErr("seek", fd, err)
	}
	defer o.release()
	o.mu.Lock()
	defer o.mu.Unlock()
	switch o.kind {
	case kindDir:
		if whence != idl.SeekSet || off != 0 {
			return -1, fdErr("seek", fd, errno.EINVAL)
		}
		o.ents, o.listed, o.next = nil, false, 0
		return 0, nil
	case kindFile:
	default:
		return -1, fdErr("seek", fd, errno.ESPIPE)
	}
	var base int64
	switch whence {
	case idl.SeekSet:
	case idl.SeekCur:
		base = o.off
	case idl.SeekEnd:
		st, err := o.file.Stat()
		if err != nil {
			return -1, err
		}
		base = st.Size
	default:
		return -1, fdErr("seek", fd, errno.EINVAL)
	}
	if off > 0 && base > math.MaxInt64-off || base+off < 0 {
		return -1, fdErr("seek", fd, errno.EINVAL)
	}
	o.off = base + off
	return o.off, nil
}

// Fstat returns the status of what fd refers to.
func (p *process) Fstat(fd int32) (idl.FileStat, error) {
	o, err := p.get(fd)
	if err != nil {
		return idl.FileStat{}, fdErr("fstat", fd, err)
	}
	defer o.release()
	switch o.kind {
	case kindFile, kindDir:
		st, err := o.file.Stat()
		if err != nil {
			return idl.FileStat{}, err
		}
		return fileStat(st), nil
	case kindConsole:
		return idl.FileStat{Dev: DevConsole, Inum: 1, Type: idl.FileTypeDevice, Nlink: 1}, nil
	case kindSocket:
		return o.sock.stat(), nil
	}
	o.pipe.mu.Lock()
	n := o.pipe.n
	o.pipe.mu.Unlock()
	return idl.FileStat{Dev: DevPipe, Inum: o.pipe.id, Type: idl.FileTypePipe, Nlink: 1, Size: int64(n)}, nil
}

func fileStat(st fs.Stat) idl.FileStat {
	t := idl.FileTypeNone
	switch st.Type {
	case fs.TypeDir:
		t = idl.FileTypeDir
	case fs.TypeFile:
		t = idl.FileTypeFile
	}
	return idl.FileStat{Dev: DevDisk, Inum: st.Inum, Type: t, Nlink: st.Nlink, Size: st.Size, Mtime: st.Mtime}
}

// Stat returns the status of path.
func (p *process) Stat(path string) (idl.FileStat, error) {
	cwd, err := p.cwdOf()
	if err != nil {
		return idl.FileStat{}, &errno.PathError{Op: "stat", Path: path, Err: err}
	}
	st, err := cwd.Stat(path)
	if err != nil {
		return idl.FileStat{}, err
	}
	return fileStat(st), nil
}

// Pipe makes a pipe and returns its read end and its write end.
func (p *process) Pipe() (int32, int32, error) {
	pp := newPipe(p.rv.pipeSeq.Add(1))
	r := &ofile{kind: kindPipeRead, acc: idl.ORdOnly, pipe: pp}
	w := &ofile{kind: kindPipeWrite, acc: idl.OWrOnly, pipe: pp}
	r.refs.Store(1)
	w.refs.Store(1)
	p.mu.Lock()
	rfd, err := p.installLocked(r, 0)
	var wfd int32
	if err == nil {
		if wfd, err = p.installLocked(w, 0); err != nil {
			p.fds[rfd] = nil
		}
	}
	p.mu.Unlock()
	if err != nil {
		r.release()
		w.release()
		return -1, -1, fmt.Errorf("pipe: %w", err)
	}
	return rfd, wfd, nil
}

// Link makes newpath a name of the file oldpath.
func (p *process) Link(oldpath, newpath string) error {
	cwd, err := p.cwdOf()
	if err != nil {
		return &errno.LinkError{Op: "link", Old: oldpath, New: newpath, Err: err}
	}
	return cwd.Link(oldpath, newpath)
}

// Unlink removes the name path of a file.
func (p *process) Unlink(path string) error {
	return p.onPath("unlink", path, (*fs.Cwd).Unlink)
}

// Rename renames oldpath to newpath.
func (p *process) Rename(oldpath, newpath string) error {
	cwd, err := p.cwdOf()
	if err != nil {
		return &errno.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return cwd.Rename(oldpath, newpath)
}

// Mkdir creates directory path.
func (p *process) Mkdir(path string) error {
	return p.onPath("mkdir", path, (*fs.Cwd).Mkdir)
}

// Rmdir removes the empty directory path.
func (p *process) Rmdir(path string) error {
	return p.onPath("rmdir", path, (*fs.Cwd).Rmdir)
}

// Chdir changes the working directory.
func (p *process) Chdir(path string) error {
	return p.onPath("chdir", path, (*fs.Cwd).Chdir)
}

func (p *process) onPath(op, path string, do func(*fs.Cwd, string) error) error {
	cwd, err := p.cwdOf()
	if err != nil {
		return &errno.PathError{Op: op, Path: path, Err: err}
	}
	return do(cwd, path)
}

// Getcwd returns the absolute path of the working directory.
func (p *process) Getcwd() (string, error) {
	cwd, err := p.cwdOf()
	if err != nil {
		return "", fmt.Errorf("getcwd: %w", err)
	}
	return cwd.Getwd()
}

// ReadDir returns the next entries of directory fd (see the package doc).
func (p *process) ReadDir(fd int32) (idl.DirBatch, error) {
	var b idl.DirBatch
	o, err := p.get(fd)
	if err != nil {
		return b, fdErr("readdir", fd, err)
	}
	defer o.release()
	if o.kind != kindDir {
		return b, fdErr("readdir", fd, errno.ENOTDIR)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.listed {
		ents, err := o.file.ReadDir()
		if err != nil {
			return b, err
		}
		o.ents, o.listed, o.next = ents, true, 0
	}
	for o.next < len(o.ents) && int(b.N) < len(b.Ents) {
		e := o.ents[o.next]
		t := idl.FileTypeNone
		switch e.Type {
		case fs.TypeDir:
			t = idl.FileTypeDir
		case fs.TypeFile:
			t = idl.FileTypeFile
		}
		b.Ents[b.N] = idl.DirEnt{Inum: e.Inum, Type: t, Name: e.Name}
		b.N++
		o.next++
	}
	return b, nil
}

// Ftruncate changes the size of file fd, which must be open for writing.
func (p *process) Ftruncate(fd int32, size int64) error {
	o, err := p.get(fd)
	if err != nil {
		return fdErr("ftruncate", fd, err)
	}
	defer o.release()
	switch {
	case o.kind == kindDir:
		return fdErr("ftruncate", fd, errno.EISDIR)
	case o.kind != kindFile || !o.writable():
		return fdErr("ftruncate", fd, errno.EINVAL)
	}
	return o.file.Truncate(size)
}

// Fsync returns when every change made before it is durable.
func (p *process) Fsync(fd int32) error {
	o, err := p.get(fd)
	if err != nil {
		return fdErr("fsync", fd, err)
	}
	defer o.release()
	if o.kind != kindFile && o.kind != kindDir {
		return fdErr("fsync", fd, errno.EINVAL)
	}
	return o.file.Sync()
}

// Sync commits the file system.
func (p *process) Sync() error {
	fsys, err := p.rv.mounted()
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := fsys.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// Statfs returns the file system's size and use.
func (p *process) Statfs() (idl.FSStat, error) { return p.rv.statfs() }

// Isatty reports whether fd is the console.
func (p *process) Isatty(fd int32) (bool, error) {
	o, err := p.get(fd)
	if err != nil {
		return false, fdErr("isatty", fd, err)
	}
	defer o.release()
	return o.kind == kindConsole, nil
}

// SetRaw switches the console between line and raw mode.
func (p *process) SetRaw(fd int32, raw bool) error {
	o, err := p.get(fd)
	if err != nil {
		return fdErr("setraw", fd, err)
	}
	defer o.release()
	if o.kind != kindConsole {
		return fdErr("setraw", fd, errno.ENOTTY)
	}
	if err := o.cons.setRaw(raw); err != nil {
		return fdErr("setraw", fd, err)
	}
	return nil
}
