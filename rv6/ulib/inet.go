package ulib

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Sockets. A program holding a network stack's capability (idl.Inet,
// named "inet:NAME": grant inet:virtio0 nc ...) opens TCP connections
// and listeners through it. The calls here block as POSIX sockets do, in
// steps of at most idl.MaxWait inside the stack, so that a killed
// program's thread stops at its next return. Sockets are the stack's, not
// descriptors of the process: they do not go through redirections or
// pipes, and a program copies between them and its files. Main closes the
// sockets a program left open when it returns (not when it is killed or
// calls Exit: the stack keeps those until it restarts).

// An Inet is a network stack the process holds.
type Inet struct {
	p    *Proc
	name string
	c    idl.Inet

	mu   sync.Mutex
	open map[int32]bool // sockets to close at the end of Main
}

// Inet imports the network stack capability name ("inet:virtio0"), or
// with name "" the first inet: capability the process holds.
func (p *Proc) Inet(name string) (*Inet, error) {
	if name == "" {
		for _, c := range p.caps {
			if strings.HasPrefix(c, idl.CapInetPrefix) {
				name = c
				break
			}
		}
		if name == "" {
			return nil, fmt.Errorf("%w: no network stack (inet:NAME; the shell passes one with grant inet:virtio0 %s ...)", ErrNoCap, p.Name())
		}
	} else if !strings.HasPrefix(name, idl.CapInetPrefix) {
		name = idl.CapInetPrefix + name
	}
	c, err := Cap[idl.Inet](p, name)
	if err != nil {
		return nil, err
	}
	n := &Inet{p: p, name: name, c: c, open: map[int32]bool{}}
	p.stacks.add(n)
	return n, nil
}

// stacks are the network stacks a program imported.
type stacks struct {
	mu    sync.Mutex
	inets []*Inet
}

func (s *stacks) add(n *Inet) {
	s.mu.Lock()
	s.inets = append(s.inets, n)
	s.mu.Unlock()
}

// closeAll closes the sockets the program left open.
func (s *stacks) closeAll() {
	s.mu.Lock()
	inets := s.inets
	s.mu.Unlock()
	for _, n := range inets {
		n.closeAll()
	}
}

// Name is the capability's name.
func (n *Inet) Name() string { return n.name }

// Info describes the stack.
func (n *Inet) Info() (idl.InetInfo, error) { return n.c.Info() }

func (n *Inet) track(sock int32, open bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if open {
		n.open[sock] = true
	} else {
		delete(n.open, sock)
	}
}

// closeAll closes the sockets left open.
func (n *Inet) closeAll() {
	n.mu.Lock()
	socks := make([]int32, 0, len(n.open))
	for s := range n.open {
		socks = append(socks, s)
	}
	n.open = map[int32]bool{}
	n.mu.Unlock()
	for _, s := range socks {
		n.c.Close(s) //nolint:errcheck // the program is over; nobody to tell
	}
}

// wait blocks until sock is ready for one of events (or closed), or d
// passes (d <= 0: no limit), and returns the readiness.
func (n *Inet) wait(sock int32, events uint8, d time.Duration) (uint8, error) {
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	for {
		step := idl.MaxWait
		if d > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return 0, nil
			}
			step = min(step, int64(left))
		}
		r, err := n.c.Wait(sock, events, step)
		if err != nil || r&(events|idl.SockClosed) != 0 {
			return r, err
		}
	}
}

// Dial connects to addr:port and waits until the connection is
// established or fails (or timeout passes, if it is above 0).
func (n *Inet) Dial(addr [4]byte, port uint16, timeout time.Duration) (*Conn, error) {
	s, err := n.c.Dial(addr, port)
	if err != nil {
		return nil, err
	}
	n.track(s, true)
	c := n.newConn(s)
	r, err := n.wait(s, idl.SockWritable, timeout)
	if err == nil && r == 0 {
		err = fmt.Errorf("connecting to %s:%d: %w", FormatIPv4(addr), port, errno.ETIMEDOUT)
	}
	if err == nil && r&idl.SockClosed != 0 { // failed before it was established: a send says why
		if _, err = n.c.Send(s, c.out.Borrow(), 0); err == nil {
			err = fmt.Errorf("connecting to %s:%d: %w", FormatIPv4(addr), port, errno.ECONNREFUSED)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Listen opens a TCP listener on port.
func (n *Inet) Listen(port uint16, backlog int) (*Listener, error) {
	s, err := n.c.Listen(port, int32(backlog))
	if err != nil {
		return nil, err
	}
	n.track(s, true)
	return &Listener{n: n, sock: s, port: port}, nil
}

// Ping sends one echo request of size bytes to addr and waits up to
// timeout for its reply: ok reports one came back, after rtt.
func (n *Inet) Ping(addr [4]byte, seq uint16, size int, timeout time.Duration) (rtt time.Duration, ok bool, err error) {
	r, err := n.c.Ping(addr, seq, int32(size), int64(timeout))
	return time.Duration(r.RTTNs), r.Got, err
}

// A Listener is a listening TCP socket.
type Listener struct {
	n    *Inet
	sock int32
	port uint16
}

// Port is the port it listens on.
func (l *Listener) Port() uint16 { return l.port }

// Accept waits for a connection and returns it.
func (l *Listener) Accept() (*Conn, error) {
	for {
		s, err := l.n.c.Accept(l.sock)
		if err == nil {
			l.n.track(s, true)
			return l.n.newConn(s), nil
		}
		if !errors.Is(err, errno.EAGAIN) {
			return nil, err
		}
		if _, err := l.n.wait(l.sock, idl.SockReadable, 0); err != nil {
			return nil, err
		}
	}
}

// Close closes the listener.
func (l *Listener) Close() error {
	l.n.track(l.sock, false)
	return l.n.c.Close(l.sock)
}

// A Conn is a TCP connection: an io.ReadWriteCloser. One thread may read
// while another writes.
type Conn struct {
	n    *Inet
	sock int32

	rmu sync.Mutex
	in  rref.RRef[idl.IOBuf]
	wmu sync.Mutex
	out rref.RRef[idl.IOBuf]
}

func (n *Inet) newConn(s int32) *Conn {
	h := n.p.ctx.Heap()
	return &Conn{n: n, sock: s, in: rref.New(h, idl.IOBuf{}), out: rref.New(h, idl.IOBuf{})}
}

// Peer is the remote address and port.
func (c *Conn) Peer() ([4]byte, uint16, error) { return c.n.c.Peer(c.sock) }

// Read reads what has arrived, waiting for something; io.EOF after the
// peer's FIN.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if !c.in.Valid() { // a failed call took it
			c.in = rref.New(c.n.p.ctx.Heap(), idl.IOBuf{})
		}
		buf, got, err := c.n.c.Recv(c.sock, c.in, int32(min(len(b), idl.IOSize)))
		c.in = buf
		switch {
		case err == nil && got == 0:
			return 0, io.EOF
		case err == nil:
			return copy(b, c.in.Get()[:got]), nil
		case !errors.Is(err, errno.EAGAIN):
			return 0, err
		}
		if _, err := c.n.wait(c.sock, idl.SockReadable, 0); err != nil {
			return 0, err
		}
	}
}

// Write sends all of b, waiting for room.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.out.Valid() { // closed: the stack answers EBADF
		c.out = rref.New(c.n.p.ctx.Heap(), idl.IOBuf{})
	}
	done := 0
	for done < len(b) {
		k := copy(c.out.Get()[:], b[done:])
		w, err := c.n.c.Send(c.sock, c.out.Borrow(), int32(k))
		done += int(w)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, errno.EAGAIN):
			return done, err
		}
		if _, err := c.n.wait(c.sock, idl.SockWritable, 0); err != nil {
			return done, err
		}
	}
	return done, nil
}

// CloseWrite sends FIN: the peer reads io.EOF after what was written.
func (c *Conn) CloseWrite() error { return c.n.c.Shutdown(c.sock, idl.ShutWrite) }

// Close closes the connection (what was written is still sent) and gives
// its buffers back to the heap: a program that opens many connections
// (a server) would otherwise hold two IOBufs for each until it ends.
func (c *Conn) Close() error {
	c.n.track(c.sock, false)
	err := c.n.c.Close(c.sock)
	// The socket is closed first: a Read or Write waiting on it returns
	// and lets its buffer go.
	c.rmu.Lock()
	rref.Discard(c.in)
	c.in = rref.RRef[idl.IOBuf]{}
	c.rmu.Unlock()
	c.wmu.Lock()
	rref.Discard(c.out)
	c.out = rref.RRef[idl.IOBuf]{}
	c.wmu.Unlock()
	return err
}

// ParseIPv4 parses a dotted-quad IPv4 address.
func ParseIPv4(s string) ([4]byte, error) {
	var a [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return a, fmt.Errorf("%q is not an IPv4 address (as 10.0.2.2)", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 8)
		if err != nil || p == "" || (len(p) > 1 && p[0] == '0') {
			return a, fmt.Errorf("%q is not an IPv4 address (as 10.0.2.2): bad byte %q", s, p)
		}
		a[i] = byte(v)
	}
	return a, nil
}

// ParsePort parses a TCP or UDP port (1..65535).
func ParsePort(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%q is not a port (1..65535)", s)
	}
	return uint16(v), nil
}

// FormatIPv4 formats an IPv4 address as a dotted quad.
func FormatIPv4(a [4]byte) string {
	return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])
}
