package sys

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// MaxFds is how many descriptors a process can have open.
const MaxFds = 256

// What an open file description refers to.
type kind uint8

const (
	kindFile kind = iota + 1
	kindDir
	kindPipeRead
	kindPipeWrite
	kindConsole
	kindSocket
)

// An ofile is an open file description: what descriptors refer to. Dup and
// spawn share it (and its offset). It is released when its last reference
// goes: one per descriptor, one per call using it.
type ofile struct {
	kind   kind
	acc    int32 // the access mode (idl.ORdOnly, ...)
	append bool
	refs   atomic.Int32

	file *fs.File // kindFile, kindDir
	pipe *pipe    // kindPipeRead, kindPipeWrite
	cons *console // kindConsole
	sock *sock    // kindSocket

	// mu serializes the calls that use or move the offset (as Linux's
	// f_pos lock) and guards the directory cursor.
	mu     sync.Mutex
	off    int64
	ents   []fs.DirEntry // the listing ReadDir goes through
	listed bool
	next   int // the next entry of ents
}

// release drops a reference, and releases the description with the last.
func (o *ofile) release() {
	if o.refs.Add(-1) != 0 {
		return
	}
	switch o.kind {
	case kindFile, kindDir:
		o.file.Close()
	case kindPipeRead:
		o.pipe.closeEnd(false)
	case kindPipeWrite:
		o.pipe.closeEnd(true)
	case kindSocket:
		o.sock.close()
	}
}

func (o *ofile) readable() bool { return o.acc != 0x1 } // not O_WRONLY
func (o *ofile) writable() bool { return o.acc != 0x0 } // not O_RDONLY

// get returns the description of fd, referenced: release it when done.
func (p *process) get(fd int32) (*ofile, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fd < 0 || int(fd) >= len(p.fds) || p.fds[fd] == nil {
		return nil, errno.EBADF
	}
	o := p.fds[fd]
	o.refs.Add(1)
	return o, nil
}

// install gives o (whose reference it takes over) the lowest free
// descriptor, or releases it and fails.
func (p *process) install(o *ofile) (int32, error) {
	p.mu.Lock()
	fd, err := p.installLocked(o, 0)
	p.mu.Unlock()
	if err != nil {
		o.release()
	}
	return fd, err
}

// installLocked puts o at the lowest free descriptor from from. p.mu is
// held.
func (p *process) installLocked(o *ofile, from int32) (int32, error) {
	if p.cwd == nil {
		return -1, errno.EINTR // ending
	}
	for i := int(from); i < len(p.fds); i++ {
		if p.fds[i] == nil {
			p.fds[i] = o
			return int32(i), nil
		}
	}
	if len(p.fds) >= MaxFds {
		return -1, errno.EMFILE
	}
	p.fds = append(p.fds, o)
	return int32(len(p.fds) - 1), nil
}

// Close closes descriptor fd.
func (p *process) Close(fd int32) error {
	p.mu.Lock()
	if fd < 0 || int(fd) >= len(p.fds) || p.fds[fd] == nil {
		p.mu.Unlock()
		return fdErr("close", fd, errno.EBADF)
	}
	o := p.fds[fd]
	p.fds[fd] = nil
	p.mu.Unlock()
	o.release()
	return nil
}

// Dup returns a new descriptor for what fd refers to.
func (p *process) Dup(fd int32) (int32, error) {
	o, err := p.get(fd)
	if err != nil {
		return -1, fdErr("dup", fd, err)
	}
	nfd, err := p.install(o)
	if err != nil {
		return -1, fdErr("dup", fd, err)
	}
	return nfd, nil
}

// Dup2 makes newfd refer to what fd refers to, closing newfd first.
func (p *process) Dup2(fd, newfd int32) (int32, error) {
	if newfd < 0 || newfd >= MaxFds {
		return -1, fmt.Errorf("dup2 %d %d: %w", fd, newfd, errno.EBADF)
	}
	p.mu.Lock()
	if fd < 0 || int(fd) >= len(p.fds) || p.fds[fd] == nil {
		p.mu.Unlock()
		return -1, fmt.Errorf("dup2 %d %d: %w", fd, newfd, errno.EBADF)
	}
	if fd == newfd {
		p.mu.Unlock()
		return newfd, nil
	}
	o := p.fds[fd]
	o.refs.Add(1)
	for int(newfd) >= len(p.fds) {
		p.fds = append(p.fds, nil)
	}
	old := p.fds[newfd]
	p.fds[newfd] = o
	p.mu.Unlock()
	if old != nil {
		old.release()
	}
	return newfd, nil
}

// fdErr wraps err with the operation and the descriptor (nil stays nil).
func fdErr(op string, fd int32, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s fd %d: %w", op, fd, err)
}
