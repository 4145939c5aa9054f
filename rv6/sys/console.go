package sys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// console is the console as descriptors see it: an input queue filled by a
// reader thread, and output through the Console capability.
type console struct {
	ctx *domain.Context
	dev idl.Console

	mu      sync.Mutex
	started bool   // the reader thread runs
	in      []byte // typed and not read yet
	eofs    int    // ends of input not read yet (Ctrl-D: one reader each)
	ended   bool   // the input ended for good (io.EOF): every read gets 0
	err     error  // the reader thread stopped on it
	raw     bool
	changed chan struct{}
	pollers []poller // waiting polls (poll.go)

	outMu sync.Mutex
	out   rref.RRef[idl.IOBuf] // lent to Console.Write; allocated at the first write
}

func newConsole(ctx *domain.Context, dev idl.Console) *console {
	return &console{ctx: ctx, dev: dev, changed: make(chan struct{})}
}

// open returns a new description of the console, with one reference.
func (c *console) open() *ofile {
	o := &ofile{kind: kindConsole, acc: idl.ORdWr, cons: c}
	o.refs.Store(1)
	return o
}

// broadcast wakes the readers. c.mu is held.
func (c *console) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
	for _, w := range c.pollers {
		w.signal()
	}
}

// startLocked starts the reader thread if it does not run yet. c.mu is
// held.
func (c *console) startLocked() {
	if !c.started {
		c.started = true
		c.ctx.Spawn("console-reader", c.reader)
	}
}

// reader is the thread that pulls the console's input into c.in.
func (c *console) reader() {
	buf := rref.New(c.ctx.Heap(), idl.IOBuf{})
	for {
		sent := buf
		got, n, err := c.dev.Read(sent, idl.IOSize)
		switch {
		case got.Valid():
			buf = got
		case sent.Valid(): // a failed call gave it back
		default:
			buf = rref.New(c.ctx.Heap(), idl.IOBuf{})
		}
		c.mu.Lock()
		switch {
		case errors.Is(err, io.EOF):
			c.ended = true
		case err != nil:
			c.err = err
		case n <= 0:
			c.eofs++
		default:
			c.in = append(c.in, buf.Get()[:min(int(n), idl.IOSize)]...)
		}
		c.broadcast()
		c.mu.Unlock()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.ctx.Logf("console input: %v", err)
			}
			buf.Drop()
			return
		}
		if n <= 0 {
			// An end of input that is not final (Ctrl-D): a console that
			// kept answering so would otherwise keep this thread spinning.
			c.ctx.Sleep(10 * time.Millisecond)
		}
	}
}

// read reads typed input into dst for process p: at most one line in
// line mode.
func (c *console) read(p *process, dst []byte) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		c.mu.Lock()
		c.startLocked()
		if len(c.in) > 0 {
			k := min(len(dst), len(c.in))
			if !c.raw {
				if i := bytes.IndexByte(c.in[:k], '\n'); i >= 0 {
					k = i + 1
				}
			}
			copy(dst, c.in[:k])
			c.in = c.in[k:]
			if len(c.in) == 0 {
				c.in = nil
			}
			c.mu.Unlock()
			return k, nil
		}
		if c.eofs > 0 || c.ended {
			if c.eofs > 0 {
				c.eofs--
			}
			c.mu.Unlock()
			return 0, nil
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return 0, fmt.Errorf("%w: %w", errno.EIO, err)
		}
		ch := c.changed
		c.mu.Unlock()
		if err := p.block(ch); err != nil {
			return 0, err
		}
	}
}

// write writes src to the console, in IOSize pieces, one write at a time.
func (c *console) write(src []byte) (int, error) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if !c.out.Valid() {
		c.out = rref.New(c.ctx.Heap(), idl.IOBuf{})
	}
	done := 0
	for done < len(src) {
		k := copy(c.out.Get()[:], src[done:])
		n, err := c.dev.Write(c.out.Borrow(), int32(k))
		if err != nil {
			return done, fmt.Errorf("%w: %w", errno.EIO, err)
		}
		if n <= 0 || int(n) > k {
			return done, errno.EIO
		}
		done += int(n) // after a short write, the rest is copied again
	}
	return done, nil
}

// setRaw switches the console between line and raw mode.
func (c *console) setRaw(raw bool) error {
	if err := c.dev.SetRaw(raw); err != nil {
		return err
	}
	c.mu.Lock()
	c.raw = raw
	c.mu.Unlock()
	return nil
}
