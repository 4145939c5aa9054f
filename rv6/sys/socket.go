package sys

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Sockets. A socket descriptor refers to an open file description of kind
// kindSocket, whose sock is a socket of a network stack (an idl.Inet, the
// capability "inet:NAME" Rv6 was granted). The process must hold that
// capability to open one (EACCES otherwise). Like every description, it is
// shared by dup, dup2 and spawn, and released with its last reference:
// then Rv6 closes the stack's socket, so a process that exits, is killed
// or panics leaves no socket behind.
//
// The stack never blocks (idl.Inet): a call that would block fails with
// EAGAIN and this domain waits with Inet.Wait, in steps of at most
// sockStep, checking between steps whether the process is ending (EINTR),
// as a pipe's blocked call is woken. SetNonblock makes those calls fail
// with EAGAIN instead.
//
// A socket number names the stack's instance: after the stack's domain
// restarted behind its shadow, the stack fails every call on an old
// number with ENETRESET. The socket remembers that: every later call on
// it fails with ENETRESET, saying the network stack restarted, and Poll
// reports it as an error; new sockets work on the new instance.

// sockStep is the longest one wait in the stack lasts: how late a killed
// process's blocked socket call returns at most.
const sockStep = 100 * time.Millisecond

// DevSocket is the Dev of a socket's FileStat.
const DevSocket = 4

// A sock is a socket of a network stack, as descriptions refer to it.
type sock struct {
	inet     idl.Inet
	heap     *rref.Account // this domain's, for the buffers
	cap      string        // the capability's name, for messages
	dgram    bool          // UDP (else TCP)
	nonblock atomic.Bool

	// mu guards the state; it is never held while a call waits.
	mu        sync.Mutex
	h         int64 // the stack's socket number; 0: none yet
	bound     bool
	port      uint16 // bound (TCP: the port to listen on)
	listening bool
	connected bool         // TCP: a connection; UDP: a default peer
	peer      idl.SockAddr // UDP's default peer
	dead      error        // ENETRESET once the stack restarted under it

	// wmu serializes writers, and guards out, this domain's buffer lent
	// to Inet.Send and Inet.SendTo (a program's borrowed buffer cannot be
	// lent on).
	wmu sync.Mutex
	out rref.RRef[idl.IOBuf]
}

// state returns the socket number and the sticky failure.
func (s *sock) state() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h, s.dead
}

// fail records err if it says the stack restarted, and returns err (or
// the recorded failure, which says so plainly).
func (s *sock) fail(err error) error {
	if err == nil || !errors.Is(err, errno.ENETRESET) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead == nil {
		s.dead = fmt.Errorf("the network stack %s restarted: the socket is gone: %w", s.cap, errno.ENETRESET)
	}
	return s.dead
}

// close closes the stack's socket (the description's last reference went).
func (s *sock) close() {
	s.mu.Lock()
	h, dead := s.h, s.dead
	s.h = 0
	s.mu.Unlock()
	if h != 0 && dead == nil {
		s.inet.Close(h) //nolint:errcheck // nobody is left to tell; a restarted stack has forgotten it anyway
	}
	s.wmu.Lock()
	if s.out.Valid() {
		s.out.Drop()
	}
	s.wmu.Unlock()
}

// wait blocks process p until socket h is ready for events (or closed),
// in steps of sockStep. EINTR when p ends.
func (s *sock) wait(p *process, h int64, events uint8) (uint8, error) {
	if s.nonblock.Load() { // just look
		r, err := s.inet.Wait(h, events, 0)
		switch {
		case err != nil:
			return 0, s.fail(err)
		case r&(events|idl.SockClosed) == 0:
			return 0, errno.EAGAIN
		}
		return r, nil
	}
	p.blocked.Add(1)
	defer p.blocked.Add(-1)
	for {
		select {
		case <-p.stop:
			return 0, errno.EINTR
		case <-p.rv.ctx.Done():
			p.rv.ctx.Check()
			return 0, errno.EINTR
		default:
		}
		r, err := s.inet.Wait(h, events, int64(sockStep))
		if err != nil {
			return 0, s.fail(err)
		}
		if r&(events|idl.SockClosed) != 0 {
			return r, nil
		}
	}
}

// sockOf is fd's socket, with its description referenced (release it).
func (p *process) sockOf(op string, fd int32) (*ofile, *sock, error) {
	o, err := p.get(fd)
	if err != nil {
		return nil, nil, fdErr(op, fd, err)
	}
	if o.kind != kindSocket {
		o.release()
		return nil, nil, fdErr(op, fd, errno.ENOTSOCK)
	}
	return o, o.sock, nil
}

// Socket opens a socket on the network stack capability inet (see idl.Sys).
func (p *process) Socket(inet string, typ int32) (int32, error) {
	base := typ &^ idl.SockNonblock
	if base != idl.SockStream && base != idl.SockDgram {
		return -1, fmt.Errorf("socket %s type %#x: want %d (TCP stream) or %d (UDP datagram), optionally | %#x (non-blocking): %w",
			inet, typ, idl.SockStream, idl.SockDgram, idl.SockNonblock, errno.EINVAL)
	}
	if !strings.HasPrefix(inet, idl.CapInetPrefix) || len(inet) == len(idl.CapInetPrefix) {
		return -1, fmt.Errorf("socket %q: not a network stack capability (inet:NAME, as inet:virtio0): %w", inet, errno.EINVAL)
	}
	if !slices.Contains(p.caps, inet) {
		return -1, fmt.Errorf("socket %s: process %d (%s) does not hold capability %s (run it as: grant %s %s ...): %w",
			inet, p.pid, p.prog, inet, inet, p.prog, errno.EACCES)
	}
	c, err := p.rv.capability(inet)
	if err != nil {
		return -1, fmt.Errorf("socket %s: %w", inet, err)
	}
	n, ok := c.(idl.Inet)
	if !ok {
		return -1, fmt.Errorf("socket %s: the capability is no network stack: %w", inet, errno.EINVAL)
	}
	s := &sock{inet: n, heap: p.rv.ctx.Heap(), cap: inet, dgram: base == idl.SockDgram}
	s.nonblock.Store(typ&idl.SockNonblock != 0)
	fd, err := p.install(newSockFile(s))
	if err != nil {
		return -1, fmt.Errorf("socket %s: %w", inet, err)
	}
	return fd, nil
}

func newSockFile(s *sock) *ofile {
	o := &ofile{kind: kindSocket, acc: idl.ORdWr, sock: s}
	o.refs.Store(1)
	return o
}

// Bind sets fd's local port (see idl.Sys).
func (p *process) Bind(fd int32, addr idl.SockAddr) error {
	o, s, err := p.sockOf("bind", fd)
	if err != nil {
		return err
	}
	defer o.release()
	op := fmt.Sprintf("bind fd %d to %s", fd, formatAddr(addr))
	if addr.Addr != ([4]byte{}) {
		info, err := s.inet.Info()
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if addr.Addr != info.Addr {
			return fmt.Errorf("%s: the stack %s has the address %s only (or bind 0.0.0.0): %w",
				op, s.cap, formatIP(info.Addr), errno.EINVAL)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.dead != nil:
		return fmt.Errorf("%s: %w", op, s.dead)
	case s.bound || s.h != 0:
		return fmt.Errorf("%s: the socket is bound or connected already: %w", op, errno.EINVAL)
	case !s.dgram && addr.Port == 0:
		return fmt.Errorf("%s: a TCP socket binds a port (1..65535) to listen on: %w", op, errno.EINVAL)
	}
	if s.dgram {
		h, err := s.inet.BindUDP(addr.Port)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		s.h = h
	}
	s.bound, s.port = true, addr.Port
	return nil
}

// Listen makes fd, a bound TCP socket, a listener (see idl.Sys).
func (p *process) Listen(fd int32, backlog int32) error {
	o, s, err := p.sockOf("listen", fd)
	if err != nil {
		return err
	}
	defer o.release()
	op := fmt.Sprintf("listen fd %d", fd)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.dead != nil:
		return fmt.Errorf("%s: %w", op, s.dead)
	case s.dgram:
		return fmt.Errorf("%s: a UDP socket does not listen: %w", op, errno.EOPNOTSUPP)
	case s.listening:
		return nil
	case s.connected:
		return fmt.Errorf("%s: %w", op, errno.EISCONN)
	case !s.bound:
		return fmt.Errorf("%s: bind a port first: %w", op, errno.EDESTADDRREQ)
	}
	h, err := s.inet.Listen(s.port, min(max(backlog, 1), 1024))
	if err != nil {
		return fmt.Errorf("%s: %w", op, s.failLocked(err))
	}
	s.h, s.listening = h, true
	return nil
}

// failLocked is fail with s.mu held.
func (s *sock) failLocked(err error) error {
	if err == nil || !errors.Is(err, errno.ENETRESET) {
		return err
	}
	if s.dead == nil {
		s.dead = fmt.Errorf("the network stack %s restarted: the socket is gone: %w", s.cap, errno.ENETRESET)
	}
	return s.dead
}

// Accept takes a connection of listener fd (see idl.Sys).
func (p *process) Accept(fd int32) (int32, idl.SockAddr, error) {
	o, s, err := p.sockOf("accept", fd)
	if err != nil {
		return -1, idl.SockAddr{}, err
	}
	defer o.release()
	s.mu.Lock()
	h, listening, dead := s.h, s.listening, s.dead
	s.mu.Unlock()
	switch {
	case dead != nil:
		return -1, idl.SockAddr{}, fdErr("accept", fd, dead)
	case !listening:
		return -1, idl.SockAddr{}, fmt.Errorf("accept fd %d: not a listening TCP socket: %w", fd, errno.EINVAL)
	}
	for {
		c, err := s.inet.Accept(h)
		if err == nil {
			peer, port, err := s.inet.Peer(c)
			cs := &sock{inet: s.inet, heap: s.heap, cap: s.cap, h: c, connected: true}
			nfd, ierr := p.install(newSockFile(cs)) // closes c on failure
			if ierr != nil {
				return -1, idl.SockAddr{}, fdErr("accept", fd, ierr)
			}
			if err != nil { // it is gone already: its descriptor reports it
				return nfd, idl.SockAddr{}, nil
			}
			return nfd, idl.SockAddr{Addr: peer, Port: port}, nil
		}
		if !errors.Is(err, errno.EAGAIN) {
			return -1, idl.SockAddr{}, fdErr("accept", fd, s.fail(err))
		}
		if _, err := s.wait(p, h, idl.SockReadable); err != nil {
			return -1, idl.SockAddr{}, fdErr("accept", fd, err)
		}
	}
}

// Connect connects fd (see idl.Sys).
func (p *process) Connect(fd int32, addr idl.SockAddr) error {
	o, s, err := p.sockOf("connect", fd)
	if err != nil {
		return err
	}
	defer o.release()
	op := fmt.Sprintf("connect fd %d to %s", fd, formatAddr(addr))
	if addr.Port == 0 {
		return fmt.Errorf("%s: want a port (1..65535): %w", op, errno.EINVAL)
	}
	s.mu.Lock()
	switch {
	case s.dead != nil:
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", op, s.dead)
	case s.dgram:
		defer s.mu.Unlock()
		if s.h == 0 {
			h, err := s.inet.BindUDP(0)
			if err != nil {
				return fmt.Errorf("%s: %w", op, s.failLocked(err))
			}
			s.h, s.bound = h, true
		}
		s.peer, s.connected = addr, true
		return nil
	case s.listening || s.connected:
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", op, errno.EISCONN)
	case s.bound:
		s.mu.Unlock()
		return fmt.Errorf("%s: the stack picks a connection's local port: connect without bind: %w", op, errno.EINVAL)
	}
	h := s.h
	if h == 0 {
		var err error
		if h, err = s.inet.Dial(addr.Addr, addr.Port); err != nil {
			err = s.failLocked(err)
			s.mu.Unlock()
			return fmt.Errorf("%s: %w", op, err)
		}
		s.h = h
	} // else a connection under way (a non-blocking connect): its outcome
	s.mu.Unlock()
	// Established (writable) or failed (closed). A non-blocking socket
	// returns EAGAIN now; its first write or poll tells.
	r, err := s.wait(p, h, idl.SockWritable)
	if err == nil && r&idl.SockClosed != 0 {
		err = s.sendErr(h) // the stack's reason: refused, timed out...
		if err == nil {
			err = errno.ECONNREFUSED
		}
	}
	if err != nil {
		if !errors.Is(err, errno.EAGAIN) && !errors.Is(err, errno.EINTR) {
			s.mu.Lock()
			if s.h == h && s.dead == nil {
				s.inet.Close(h) //nolint:errcheck // it failed: its error is the one to report
				s.h = 0
			}
			s.mu.Unlock()
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	s.mu.Lock()
	s.connected = true
	s.mu.Unlock()
	return nil
}

// sendErr is the error a send of nothing on h reports: why the
// connection failed.
func (s *sock) sendErr(h int64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ensureOut()
	_, err := s.inet.Send(h, s.out.Borrow(), 0)
	return s.fail(err)
}

// ensureOut allocates the send buffer (s.wmu held).
func (s *sock) ensureOut() {
	if !s.out.Valid() {
		s.out = rref.New(s.heap, idl.IOBuf{})
	}
}

// ShutdownSock closes one or both directions of fd's connection.
func (p *process) ShutdownSock(fd int32, how uint8) error {
	o, s, err := p.sockOf("shutdown", fd)
	if err != nil {
		return err
	}
	defer o.release()
	if how < idl.ShutRead || how > idl.ShutBoth {
		return fmt.Errorf("shutdown fd %d how %d: want 1 (read), 2 (write) or 3 (both): %w", fd, how, errno.EINVAL)
	}
	h, dead := s.state()
	switch {
	case dead != nil:
		return fdErr("shutdown", fd, dead)
	case s.dgram || h == 0 || !s.isConnected():
		return fdErr("shutdown", fd, errno.ENOTCONN)
	}
	return fdErr("shutdown", fd, s.fail(s.inet.Shutdown(h, how)))
}

func (s *sock) isConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// SockName is fd's local address.
func (p *process) SockName(fd int32) (idl.SockAddr, error) {
	o, s, err := p.sockOf("getsockname", fd)
	if err != nil {
		return idl.SockAddr{}, err
	}
	defer o.release()
	s.mu.Lock()
	h, port, dead := s.h, s.port, s.dead
	s.mu.Unlock()
	switch {
	case dead != nil:
		return idl.SockAddr{}, fdErr("getsockname", fd, dead)
	case h == 0:
		return idl.SockAddr{Port: port}, nil
	}
	a, lp, err := s.inet.Local(h)
	if err != nil {
		return idl.SockAddr{}, fdErr("getsockname", fd, s.fail(err))
	}
	return idl.SockAddr{Addr: a, Port: lp}, nil
}

// PeerName is fd's remote address.
func (p *process) PeerName(fd int32) (idl.SockAddr, error) {
	o, s, err := p.sockOf("getpeername", fd)
	if err != nil {
		return idl.SockAddr{}, err
	}
	defer o.release()
	s.mu.Lock()
	h, connected, peer, dead := s.h, s.connected, s.peer, s.dead
	s.mu.Unlock()
	switch {
	case dead != nil:
		return idl.SockAddr{}, fdErr("getpeername", fd, dead)
	case !connected:
		return idl.SockAddr{}, fdErr("getpeername", fd, errno.ENOTCONN)
	case s.dgram:
		return peer, nil
	}
	a, port, err := s.inet.Peer(h)
	if err != nil {
		return idl.SockAddr{}, fdErr("getpeername", fd, s.fail(err))
	}
	return idl.SockAddr{Addr: a, Port: port}, nil
}

// SetNonblock switches fd between blocking and non-blocking calls.
func (p *process) SetNonblock(fd int32, on bool) error {
	o, s, err := p.sockOf("setnonblock", fd)
	if err != nil {
		return err
	}
	defer o.release()
	s.nonblock.Store(on)
	return nil
}

// recv reads a stream socket or a datagram into buf (moved to the stack
// and back: no copy), for Read.
func (s *sock) recv(p *process, buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, error) {
	if s.dgram {
		buf, k, _, err := s.recvFrom(p, buf, n)
		return buf, k, err
	}
	s.mu.Lock()
	h, connected, listening, dead := s.h, s.connected, s.listening, s.dead
	s.mu.Unlock()
	switch {
	case dead != nil:
		return buf, 0, dead
	case listening:
		return buf, 0, fmt.Errorf("a listening socket: accept its connections: %w", errno.EINVAL)
	case !connected && h == 0: // (h set: a non-blocking connect under way)
		return buf, 0, errno.ENOTCONN
	}
	for {
		got, k, err := s.inet.Recv(h, buf, n)
		buf = s.keep(got, buf)
		if err == nil || !errors.Is(err, errno.EAGAIN) {
			return buf, k, s.fail(err)
		}
		if _, err := s.wait(p, h, idl.SockReadable); err != nil {
			return buf, 0, err
		}
	}
}

// keep is the buffer a call moved back, or a new one if the call lost it
// (a failed crossing): Read always gives the program a buffer back.
func (s *sock) keep(got, sent rref.RRef[idl.IOBuf]) rref.RRef[idl.IOBuf] {
	switch {
	case got.Valid():
		return got
	case sent.Valid():
		return sent
	}
	return rref.New(s.heap, idl.IOBuf{})
}

// recvFrom takes a datagram (from the default peer only, if connected).
func (s *sock) recvFrom(p *process, buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, idl.SockAddr, error) {
	s.mu.Lock()
	h, connected, peer, dead := s.h, s.connected, s.peer, s.dead
	s.mu.Unlock()
	switch {
	case dead != nil:
		return buf, 0, idl.SockAddr{}, dead
	case h == 0:
		return buf, 0, idl.SockAddr{}, fmt.Errorf("bind a port or connect first: %w", errno.EDESTADDRREQ)
	}
	for {
		got, d, err := s.inet.RecvFrom(h, buf, n)
		buf = s.keep(got, buf)
		from := idl.SockAddr{Addr: d.Addr, Port: d.Port}
		switch {
		case err == nil && connected && from != peer:
			continue // not from the peer: dropped, as connect(2) filters
		case err == nil:
			return buf, d.N, from, nil
		case !errors.Is(err, errno.EAGAIN):
			return buf, 0, idl.SockAddr{}, s.fail(err)
		}
		if _, err := s.wait(p, h, idl.SockReadable); err != nil {
			return buf, 0, idl.SockAddr{}, err
		}
	}
}

// send writes src to a stream socket (all of it, unless non-blocking) or
// as one datagram to the default peer, for Write.
func (s *sock) send(p *process, src []byte) (int, error) {
	if s.dgram {
		s.mu.Lock()
		peer, connected := s.peer, s.connected
		s.mu.Unlock()
		if !connected {
			return 0, fmt.Errorf("a UDP socket writes to the peer it connected to (or use sendto): %w", errno.EDESTADDRREQ)
		}
		return s.sendTo(p, src, peer)
	}
	s.mu.Lock()
	h, connected, listening, dead := s.h, s.connected, s.listening, s.dead
	s.mu.Unlock()
	switch {
	case dead != nil:
		return 0, dead
	case listening:
		return 0, fmt.Errorf("a listening socket: accept its connections: %w", errno.EINVAL)
	case !connected && h == 0: // (h set: a non-blocking connect under way)
		return 0, errno.ENOTCONN
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ensureOut()
	done := 0
	for done < len(src) {
		k := copy(s.out.Get()[:], src[done:])
		w, err := s.inet.Send(h, s.out.Borrow(), int32(k))
		done += int(w)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, errno.EAGAIN):
			return done, s.fail(err)
		case done > 0 && s.nonblock.Load():
			return done, nil
		}
		if _, err := s.wait(p, h, idl.SockWritable); err != nil {
			return done, err
		}
	}
	return done, nil
}

// sendTo sends src as one datagram to to, binding an ephemeral port first
// if the socket has none.
func (s *sock) sendTo(p *process, src []byte, to idl.SockAddr) (int, error) {
	if to.Port == 0 {
		return 0, fmt.Errorf("sendto %s: want a port: %w", formatAddr(to), errno.EINVAL)
	}
	s.mu.Lock()
	if s.dead != nil {
		s.mu.Unlock()
		return 0, s.dead
	}
	if s.h == 0 {
		h, err := s.inet.BindUDP(0)
		if err != nil {
			err = s.failLocked(err)
			s.mu.Unlock()
			return 0, err
		}
		s.h, s.bound = h, true
	}
	h := s.h
	s.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ensureOut()
	k := copy(s.out.Get()[:], src)
	for {
		w, err := s.inet.SendTo(h, to.Addr, to.Port, s.out.Borrow(), int32(k))
		if err == nil || !errors.Is(err, errno.EAGAIN) {
			return int(w), s.fail(err)
		}
		if _, err := s.wait(p, h, idl.SockWritable); err != nil {
			return 0, err
		}
	}
}

// SendTo sends one datagram (see idl.Sys).
func (p *process) SendTo(fd int32, buf rref.Borrow[idl.IOBuf], n int32, to idl.SockAddr) (int32, error) {
	if !buf.Valid() || n < 0 || n > idl.IOSize {
		return 0, fdErr("sendto", fd, errno.EINVAL)
	}
	o, s, err := p.sockOf("sendto", fd)
	if err != nil {
		return 0, err
	}
	defer o.release()
	if !s.dgram {
		return 0, fmt.Errorf("sendto fd %d: a TCP socket: use write: %w", fd, errno.EOPNOTSUPP)
	}
	k, err := s.sendTo(p, buf.Get()[:n], to)
	if err != nil {
		return int32(k), fmt.Errorf("sendto fd %d to %s: %w", fd, formatAddr(to), err)
	}
	return int32(k), nil
}

// RecvFrom receives one datagram (see idl.Sys).
func (p *process) RecvFrom(fd int32, buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, idl.SockAddr, error) {
	if !buf.Valid() || n < 0 || n > idl.IOSize {
		return buf, 0, idl.SockAddr{}, fdErr("recvfrom", fd, errno.EINVAL)
	}
	o, s, err := p.sockOf("recvfrom", fd)
	if err != nil {
		return buf, 0, idl.SockAddr{}, err
	}
	defer o.release()
	if !s.dgram {
		return buf, 0, idl.SockAddr{}, fmt.Errorf("recvfrom fd %d: a TCP socket: use read: %w", fd, errno.EOPNOTSUPP)
	}
	buf, k, from, err := s.recvFrom(p, buf, n)
	if err != nil {
		return buf, k, from, fdErr("recvfrom", fd, err)
	}
	return buf, k, from, nil
}

// sockStat is a socket's FileStat.
func (s *sock) stat() idl.FileStat {
	h, _ := s.state()
	return idl.FileStat{Dev: DevSocket, Inum: uint32(h), Type: idl.FileTypeSocket, Nlink: 1}
}

func formatAddr(a idl.SockAddr) string { return fmt.Sprintf("%s:%d", formatIP(a.Addr), a.Port) }

func formatIP(a [4]byte) string { return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]) }
