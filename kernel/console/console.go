// Package console is the kernel's console service (idl.Console), which the
// Rv6 domain is granted: bytes in from the machine's console, bytes out to
// it, and the switch between line mode (Linux's tty echoes and edits lines)
// and raw mode (every byte as typed, for line editors such as the shell's).
//
// Input is read by one reader goroutine of the kernel into a queue, so that
// a Read never holds the console: a caller that goes away (its domain died)
// loses nothing typed, and the next reader gets it.
//
// It is trusted kernel code. The same service runs over the real console
// (os.Stdin, os.Stdout, termios on fd 0: NewTTY) and, in tests, over any
// reader and writer (New).
package console

import (
	"errors"
	"io"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// A Console serves idl.Console over a reader and a writer.
type Console struct {
	out    io.Writer
	setRaw func(bool) error

	outMu sync.Mutex // one writer at a time: lines are not interleaved mid-write

	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte // read from in, not yet returned
	err     error  // the reader's end (io.EOF or an error), after pending
}

// New returns a console reading in and writing out. setRaw switches the
// terminal's mode; nil: the console has no modes (SetRaw succeeds and does
// nothing).
func New(in io.Reader, out io.Writer, setRaw func(bool) error) *Console {
	c := &Console{out: out, setRaw: setRaw}
	c.cond = sync.NewCond(&c.mu)
	go c.reader(in)
	return c
}

func (c *Console) reader(in io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := in.Read(buf)
		c.mu.Lock()
		c.pending = append(c.pending, buf[:n]...)
		if err != nil {
			c.err = err
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Read implements idl.Console: it waits for input and returns up to n bytes
// of it in buf. At the end of the input it returns 0 bytes and io.EOF.
func (c *Console) Read(buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, error) {
	if !buf.Valid() {
		return buf, 0, errors.New("console: read into an invalid buffer")
	}
	if n <= 0 {
		return buf, 0, nil
	}
	n = min(n, idl.IOSize)
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) == 0 && c.err == nil {
		c.cond.Wait()
	}
	if len(c.pending) == 0 {
		return buf, 0, c.err
	}
	got := copy(buf.Get()[:n], c.pending)
	c.pending = c.pending[got:]
	if len(c.pending) == 0 {
		c.pending = nil
	}
	return buf, int32(got), nil
}

// Write implements idl.Console.
func (c *Console) Write(buf rref.Borrow[idl.IOBuf], n int32) (int32, error) {
	if n < 0 || n > idl.IOSize {
		return 0, errors.New("console: write length out of range")
	}
	if n == 0 {
		return 0, nil
	}
	if !buf.Valid() {
		return 0, errors.New("console: write from an invalid buffer")
	}
	data := buf.Get()[:n]
	c.outMu.Lock()
	defer c.outMu.Unlock()
	w, err := c.out.Write(data)
	if err != nil {
		return int32(w), errors.New("console: " + err.Error())
	}
	return int32(w), nil
}

// SetRaw implements idl.Console.
func (c *Console) SetRaw(raw bool) error {
	if c.setRaw == nil {
		return nil
	}
	if err := c.setRaw(raw); err != nil {
		return errors.New("console: " + err.Error())
	}
	return nil
}
