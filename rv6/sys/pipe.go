package sys

import (
	"sync"

	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// PipeSize is the capacity of a pipe's buffer.
const PipeSize = 64 << 10

// PipeAtomic is the largest write to a pipe that is never interleaved with
// other writers' (POSIX's PIPE_BUF).
const PipeAtomic = 4096

// A pipe is a ring buffer between its read end and its write end, each an
// open file description.
type pipe struct {
	id uint32 // for Fstat's Inum

	mu      sync.Mutex
	buf     []byte // PipeSize bytes
	r, n    int    // where the data starts, how much there is
	readers bool   // the read end is open
	writers bool   // the write end is open
	changed chan struct{}
	pollers []poller // waiting polls (poll.go)
}

func newPipe(id uint32) *pipe {
	return &pipe{id: id, buf: make([]byte, PipeSize), readers: true, writers: true,
		changed: make(chan struct{})}
}

// broadcast wakes every waiter. p.mu is held.
func (pp *pipe) broadcast() {
	close(pp.changed)
	pp.changed = make(chan struct{})
	for _, w := range pp.pollers {
		w.signal()
	}
}

// closeEnd closes the write end (write) or the read end.
func (pp *pipe) closeEnd(write bool) {
	pp.mu.Lock()
	if write {
		pp.writers = false
	} else {
		pp.readers = false
	}
	pp.broadcast()
	pp.mu.Unlock()
}

// read reads into dst for process p: it blocks until there are bytes or
// the write end is closed (0: end of file).
func (pp *pipe) read(p *process, dst []byte) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		pp.mu.Lock()
		if pp.n > 0 {
			k := 0
			for k < len(dst) && pp.n > 0 {
				c := copy(dst[k:], pp.buf[pp.r:min(pp.r+pp.n, len(pp.buf))])
				k += c
				pp.r = (pp.r + c) % len(pp.buf)
				pp.n -= c
			}
			if pp.n == 0 {
				pp.r = 0
			}
			pp.broadcast()
			pp.mu.Unlock()
			return k, nil
		}
		if !pp.writers {
			pp.mu.Unlock()
			return 0, nil
		}
		ch := pp.changed
		pp.mu.Unlock()
		if err := p.block(ch); err != nil {
			return 0, err
		}
	}
}

// write writes src for process p, blocking while the pipe is full. It
// fails with EPIPE once the read end is closed.
func (pp *pipe) write(p *process, src []byte) (int, error) {
	done := 0
	for {
		pp.mu.Lock()
		if !pp.readers {
			pp.mu.Unlock()
			return done, errno.EPIPE
		}
		free := len(pp.buf) - pp.n
		if free > 0 && (len(src)-done > PipeAtomic || free >= len(src)-done) {
			for free > 0 && done < len(src) {
				w := (pp.r + pp.n) % len(pp.buf)
				c := copy(pp.buf[w:min(w+free, len(pp.buf))], src[done:])
				done += c
				pp.n += c
				free -= c
			}
			pp.broadcast()
		}
		if done == len(src) {
			pp.mu.Unlock()
			return done, nil
		}
		ch := pp.changed
		pp.mu.Unlock()
		if err := p.block(ch); err != nil {
			return done, err
		}
	}
}
