package ulib

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Sockets. A program holding a network stack's capability ("inet:NAME":
// grant inet:virtio0 nc ...) opens TCP connections and listeners and UDP
// sockets on it. They are descriptors of the process (idl.Sys.Socket):
// they go through dup, redirections and spawn as files do, and Rv6 closes
// the stack's socket with the last descriptor, however the process ends.
// The calls block as POSIX sockets do (Rv6 waits in the stack in short
// steps, so a killed program's thread stops); after the stack restarted
// under them they fail with ENETRESET. Info and Ping go to the stack's
// capability itself.

// An Inet is a network stack the process holds.
type Inet struct {
	p    *Proc
	name string
	c    idl.Inet
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
	return &Inet{p: p, name: name, c: c}, nil
}

// Name is the capability's name.
func (n *Inet) Name() string { return n.name }

// Info describes the stack.
func (n *Inet) Info() (idl.InetInfo, error) { return n.c.Info() }

// socket opens a socket descriptor of typ on the stack.
func (n *Inet) socket(typ int32) (int32, error) {
	return n.p.sys.Socket(n.name, typ)
}

// Dial connects to addr:port and waits until the connection is
// established or fails (or timeout passes, if it is above 0).
func (n *Inet) Dial(addr [4]byte, port uint16, timeout time.Duration) (*Conn, error) {
	typ := idl.SockStream
	if timeout > 0 {
		typ |= idl.SockNonblock
	}
	fd, err := n.socket(typ)
	if err != nil {
		return nil, err
	}
	to := idl.SockAddr{Addr: addr, Port: port}
	err = n.p.sys.Connect(fd, to)
	if timeout > 0 && errors.Is(err, errno.EAGAIN) {
		var k int
		fds := []idl.PollFd{{Fd: fd, Events: idl.PollOut}}
		if k, err = n.p.Poll(fds, timeout); err == nil && k == 0 {
			err = fmt.Errorf("connecting to %s:%d: no answer in %v: %w", FormatIPv4(addr), port, timeout, errno.ETIMEDOUT)
		}
		if err == nil {
			err = n.p.sys.Connect(fd, to) // the outcome, now that it is known
		}
	}
	if err == nil && timeout > 0 {
		err = n.p.sys.SetNonblock(fd, false)
	}
	if err != nil {
		n.p.sys.Close(fd)
		return nil, err
	}
	return n.p.newConn(fd), nil
}

// Listen opens a TCP listener on port.
func (n *Inet) Listen(port uint16, backlog int) (*Listener, error) {
	fd, err := n.socket(idl.SockStream)
	if err != nil {
		return nil, err
	}
	if err = n.p.sys.Bind(fd, idl.SockAddr{Port: port}); err == nil {
		err = n.p.sys.Listen(fd, int32(min(max(backlog, 1), 1024)))
	}
	if err != nil {
		n.p.sys.Close(fd)
		return nil, err
	}
	return &Listener{p: n.p, fd: fd, port: port}, nil
}

// ListenUDP opens a UDP socket on port (0: an ephemeral port).
func (n *Inet) ListenUDP(port uint16) (*UDPConn, error) {
	fd, err := n.socket(idl.SockDgram)
	if err != nil {
		return nil, err
	}
	if err := n.p.sys.Bind(fd, idl.SockAddr{Port: port}); err != nil {
		n.p.sys.Close(fd)
		return nil, err
	}
	return n.p.newUDPConn(fd), nil
}

// DialUDP opens a UDP socket on an ephemeral port whose Write sends to,
// and whose Read receives from, addr:port only.
func (n *Inet) DialUDP(addr [4]byte, port uint16) (*UDPConn, error) {
	fd, err := n.socket(idl.SockDgram)
	if err != nil {
		return nil, err
	}
	if err := n.p.sys.Connect(fd, idl.SockAddr{Addr: addr, Port: port}); err != nil {
		n.p.sys.Close(fd)
		return nil, err
	}
	return n.p.newUDPConn(fd), nil
}

// Ping sends one echo request of size bytes to addr and waits up to
// timeout for its reply: ok reports one came back, after rtt.
func (n *Inet) Ping(addr [4]byte, seq uint16, size int, timeout time.Duration) (rtt time.Duration, ok bool, err error) {
	r, err := n.c.Ping(addr, seq, int32(size), int64(timeout))
	return time.Duration(r.RTTNs), r.Got, err
}

// A Listener is a listening TCP socket.
type Listener struct {
	p    *Proc
	fd   int32
	port uint16
}

// Port is the port it listens on.
func (l *Listener) Port() uint16 { return l.port }

// Fd is its descriptor (for Poll).
func (l *Listener) Fd() int { return int(l.fd) }

// Accept waits for a connection and returns it.
func (l *Listener) Accept() (*Conn, error) {
	fd, _, err := l.p.sys.Accept(l.fd)
	if err != nil {
		return nil, err
	}
	return l.p.newConn(fd), nil
}

// Close closes the listener.
func (l *Listener) Close() error { return l.p.sys.Close(l.fd) }

// A Conn is a TCP connection: an io.ReadWriteCloser over its descriptor.
// One thread may read while another writes (each direction has its own
// buffer).
type Conn struct {
	p  *Proc
	fd int32

	rmu sync.Mutex
	in  rref.RRef[idl.IOBuf]
	wmu sync.Mutex
	out rref.RRef[idl.IOBuf]

	closed atomic.Bool
}

func (p *Proc) newConn(fd int32) *Conn { return &Conn{p: p, fd: fd} }

// NewConn makes a Conn of descriptor fd, a connected TCP socket the
// process has (one its spawner passed, say).
func (p *Proc) NewConn(fd int) *Conn { return p.newConn(int32(fd)) }

// File is the connection's descriptor as a File (for Spawn's Fds, or
// Stat); closing either closes the connection.
func (c *Conn) File() *File { return c.p.NewFile(c.fd, "socket") }

// Fd is its descriptor.
func (c *Conn) Fd() int { return int(c.fd) }

// Peer is the remote address and port.
func (c *Conn) Peer() ([4]byte, uint16, error) {
	a, err := c.p.sys.PeerName(c.fd)
	return a.Addr, a.Port, err
}

// Local is the local address and port.
func (c *Conn) Local() ([4]byte, uint16, error) {
	a, err := c.p.sys.SockName(c.fd)
	return a.Addr, a.Port, err
}

// Read reads what has arrived, waiting for something; io.EOF after the
// peer's FIN.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	defer c.dropIfClosed(&c.in)
	if !c.in.Valid() { // first use, or a failed call took it
		c.in = rref.New(c.p.ctx.Heap(), idl.IOBuf{})
	}
	buf, got, err := c.p.sys.Read(c.fd, c.in, int32(min(len(b), idl.IOSize)))
	c.in = buf
	switch {
	case err != nil:
		return 0, err
	case got == 0:
		return 0, io.EOF
	}
	return copy(b, c.in.Get()[:got]), nil
}

// Write sends all of b, waiting for room.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	defer c.dropIfClosed(&c.out)
	if !c.out.Valid() {
		c.out = rref.New(c.p.ctx.Heap(), idl.IOBuf{})
	}
	done := 0
	for done < len(b) {
		k := copy(c.out.Get()[:], b[done:])
		w, err := c.p.sys.Write(c.fd, c.out.Borrow(), int32(k))
		done += int(w)
		if err != nil {
			return done, err
		}
		if w == 0 {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}

// CloseWrite sends FIN: the peer reads io.EOF after what was written.
func (c *Conn) CloseWrite() error { return c.p.sys.ShutdownSock(c.fd, idl.ShutWrite) }

// Shutdown ends both directions of the connection for every holder of
// it: a Read or Write another thread is blocked in returns (a server's
// reaper shuts a stuck connection down, then closes it).
func (c *Conn) Shutdown() error { return c.p.sys.ShutdownSock(c.fd, idl.ShutBoth) }

// Close closes the connection's descriptor (what was written is still
// sent; the connection closes with its last descriptor) and gives its
// buffers back to the heap: a server opening many connections would
// otherwise hold two IOBufs for each until it ends. A buffer a Read or
// Write still uses goes when that call returns.
func (c *Conn) Close() error {
	err := c.p.sys.Close(c.fd)
	c.closed.Store(true)
	if c.rmu.TryLock() {
		c.dropIfClosed(&c.in)
		c.rmu.Unlock()
	}
	if c.wmu.TryLock() {
		c.dropIfClosed(&c.out)
		c.wmu.Unlock()
	}
	return err
}

// dropIfClosed gives buf back to the heap once the connection is closed
// (under the mutex that guards buf).
func (c *Conn) dropIfClosed(buf *rref.RRef[idl.IOBuf]) {
	if c.closed.Load() && buf.Valid() {
		rref.Discard(*buf)
		*buf = rref.RRef[idl.IOBuf]{}
	}
}

// A UDPConn is a UDP socket.
type UDPConn struct {
	p  *Proc
	fd int32

	mu  sync.Mutex
	buf rref.RRef[idl.IOBuf]
}

func (p *Proc) newUDPConn(fd int32) *UDPConn { return &UDPConn{p: p, fd: fd} }

// Fd is its descriptor.
func (u *UDPConn) Fd() int { return int(u.fd) }

// File is its descriptor as a File.
func (u *UDPConn) File() *File { return u.p.NewFile(u.fd, "socket") }

// LocalPort is the port it is bound to.
func (u *UDPConn) LocalPort() (uint16, error) {
	a, err := u.p.sys.SockName(u.fd)
	return a.Port, err
}

// ReadFrom waits for a datagram and copies it (up to len(b) bytes: the
// rest is dropped) into b, with its sender.
func (u *UDPConn) ReadFrom(b []byte) (int, [4]byte, uint16, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.buf.Valid() {
		u.buf = rref.New(u.p.ctx.Heap(), idl.IOBuf{})
	}
	buf, got, from, err := u.p.sys.RecvFrom(u.fd, u.buf, int32(min(len(b), idl.IOSize)))
	u.buf = buf
	if err != nil {
		return 0, [4]byte{}, 0, err
	}
	return copy(b, u.buf.Get()[:got]), from.Addr, from.Port, nil
}

// WriteTo sends b as one datagram to addr:port.
func (u *UDPConn) WriteTo(b []byte, addr [4]byte, port uint16) (int, error) {
	if len(b) > idl.IOSize {
		return 0, fmt.Errorf("a datagram of %d bytes: %w", len(b), errno.EMSGSIZE)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.buf.Valid() {
		u.buf = rref.New(u.p.ctx.Heap(), idl.IOBuf{})
	}
	k := copy(u.buf.Get()[:], b)
	w, err := u.p.sys.SendTo(u.fd, u.buf.Borrow(), int32(k), idl.SockAddr{Addr: addr, Port: port})
	return int(w), err
}

// Write sends b as one datagram to the peer of DialUDP.
func (u *UDPConn) Write(b []byte) (int, error) {
	if len(b) > idl.IOSize {
		return 0, fmt.Errorf("a datagram of %d bytes: %w", len(b), errno.EMSGSIZE)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.buf.Valid() {
		u.buf = rref.New(u.p.ctx.Heap(), idl.IOBuf{})
	}
	k := copy(u.buf.Get()[:], b)
	w, err := u.p.sys.Write(u.fd, u.buf.Borrow(), int32(k))
	return int(w), err
}

// Close closes the socket's descriptor.
func (u *UDPConn) Close() error { return u.p.sys.Close(u.fd) }

// Poll waits until one of fds is ready for its Events, or timeout passes
// (< 0: no limit; 0: just look), fills in their Revents and returns how
// many are ready. At most idl.MaxPoll descriptors.
func (p *Proc) Poll(fds []idl.PollFd, timeout time.Duration) (int, error) {
	if len(fds) > idl.MaxPoll {
		return 0, fmt.Errorf("poll: %d descriptors: at most %d: %w", len(fds), idl.MaxPoll, errno.EINVAL)
	}
	var req idl.PollReq
	req.N = int32(len(fds))
	copy(req.Fds[:], fds)
	ns := int64(timeout)
	if timeout < 0 {
		ns = -1
	}
	res, k, err := p.sys.Poll(req, ns)
	if err != nil {
		return 0, err
	}
	copy(fds, res.Fds[:len(fds)])
	return int(k), nil
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
