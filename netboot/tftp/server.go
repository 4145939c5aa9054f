// Package tftp is a read-only TFTP server (RFC 1350) with the option
// extension (RFC 2347) and the blksize (RFC 2348, clamped to the path
// MTU), tsize and timeout (RFC 2349) and windowsize (RFC 7440) options.
// It serves an fs.FS: names from the network are checked with
// files.CleanName first, and write requests are refused.
//
// Each transfer runs in its own goroutine on its own UDP socket (the
// server's transfer ID), connected to the client, so the kernel drops
// packets from anyone else. Unanswered packets are retransmitted with
// exponential backoff; duplicate ACKs never trigger a retransmission, so
// the Sorcerer's Apprentice cannot happen.
//
// Clients are not trusted to end what they start: every transfer ends
// by its TransferTimeout whatever the client sends, the wait for an
// answer is fixed when a packet is sent (stray or duplicate ACKs do not
// extend it), a client's timeout option is honoured only up to
// MaxClientTimeout, and one client address holds at most MaxPerClient of
// the MaxTransfers transfer slots.
package tftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/netboot/files"
)

// Server serves files over TFTP. Set Files; the zero value of every other
// field is a working default.
type Server struct {
	// Files is the tree served.
	Files fs.FS

	// Log gets one line per transfer; nil means slog.Default().
	Log *slog.Logger

	// DialUDP opens a transfer's socket, bound to laddr (port 0) and
	// connected to raddr. Nil means net.DialUDP. A server serving a
	// network namespace sets it so that the socket is made there.
	DialUDP func(network string, laddr, raddr *net.UDPAddr) (*net.UDPConn, error)

	// Timeout is the first retransmission timeout (default 1 s). Each
	// unanswered retransmission doubles it, up to eight times the first.
	// A client's timeout option replaces the first value.
	Timeout time.Duration
	// Retries is how many times an unanswered packet is sent again
	// before the transfer is abandoned (default 5).
	Retries int
	// MaxWindow caps the windowsize option (default 64).
	MaxWindow int
	// MaxTransfers bounds concurrent transfers (default 512); requests
	// beyond it get a "server busy" error.
	MaxTransfers int
	// MaxPerClient bounds the concurrent transfers to one client address
	// (default 8).
	MaxPerClient int
	// TransferTimeout bounds a whole transfer (default 2 min).
	TransferTimeout time.Duration
	// MaxClientTimeout is the largest timeout option honoured (default
	// 5 s); a larger one is left out of the OACK and the server's own
	// timeout is used.
	MaxClientTimeout time.Duration

	// OnTransfer, if set, is called when a transfer ends, successful or
	// not, from the transfer's goroutine.
	OnTransfer func(Transfer)

	mu     sync.Mutex
	active map[string]bool    // client address and port -> transfer running
	perIP  map[netip.Addr]int // client address -> transfers running
	wg     sync.WaitGroup
	// Running counts the transfers in progress, for tests and metrics.
	running atomic.Int64
}

// Running returns the number of transfers in progress.
func (s *Server) Running() int { return int(s.running.Load()) }

// Transfer describes one finished read request.
type Transfer struct {
	Client      netip.AddrPort
	File        string // as requested
	Bytes       int64  // file bytes acknowledged by the client
	Size        int64  // file size, -1 if unknown (netascii) or not opened
	BlockSize   int
	WindowSize  int
	Retransmits int
	Duration    time.Duration
	// Probe is set when the client ended the transfer after the option
	// acknowledgement, having learnt the size (tsize): what UEFI
	// firmware does before the real download. It is not an error.
	Probe bool
	Err   error // nil when the whole file was acknowledged, or for a probe
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Serve answers the requests arriving on conn until ctx ends, then
// closes conn, stops the running transfers and waits for them. It returns
// nil after ctx ends and the read error if conn fails otherwise.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	if s.Files == nil {
		return errors.New("tftp: Server.Files is not set")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer s.wg.Wait()

	maxTransfers := s.MaxTransfers
	if maxTransfers <= 0 {
		maxTransfers = 512
	}
	slots := make(chan struct{}, maxTransfers)
	buf := make([]byte, maxRequest+1)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("tftp: reading requests: %w", err)
		}
		client, ok := peer.(*net.UDPAddr)
		if !ok {
			continue
		}
		req, err := ParseRequest(buf[:n])
		if err != nil {
			s.log().Debug("tftp: bad request", "client", client.String(), "err", err)
			conn.WriteTo(errorPacket(errIllegalOp, err.Error()), peer)
			continue
		}
		key := client.String()
		ip := client.AddrPort().Addr().Unmap()
		s.mu.Lock()
		if s.active == nil {
			s.active = make(map[string]bool)
			s.perIP = make(map[netip.Addr]int)
		}
		dup := s.active[key]
		full := !dup && s.perIP[ip] >= s.maxPerClient()
		if !dup && !full {
			s.active[key] = true
			s.perIP[ip]++
		}
		s.mu.Unlock()
		if dup {
			// The client sent its request again before our first reply
			// arrived: one transfer is enough.
			continue
		}
		if full {
			s.log().Debug("tftp: too many transfers to one client", "client", key)
			conn.WriteTo(errorPacket(errUndefined, "too many transfers from your address, try again"), peer)
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			s.done(key, ip)
			conn.WriteTo(errorPacket(errUndefined, "server busy, try again"), peer)
			continue
		}
		s.wg.Add(1)
		s.running.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-slots }()
			defer s.done(key, ip)
			defer s.running.Add(-1)
			s.serveRead(ctx, localAddr(conn), client, req)
		}()
	}
}

func (s *Server) done(key string, ip netip.Addr) {
	s.mu.Lock()
	delete(s.active, key)
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	s.mu.Unlock()
}

func (s *Server) maxPerClient() int {
	if s.MaxPerClient > 0 {
		return s.MaxPerClient
	}
	return 8
}

func (s *Server) transferTimeout() time.Duration {
	if s.TransferTimeout > 0 {
		return s.TransferTimeout
	}
	return 2 * time.Minute
}

func (s *Server) maxClientTimeout() time.Duration {
	if s.MaxClientTimeout > 0 {
		return s.MaxClientTimeout
	}
	return 5 * time.Second
}

// localAddr returns the address to bind transfer sockets to: the
// listening socket's IP, or nil (any) if it listens on all addresses.
func localAddr(conn net.PacketConn) *net.UDPAddr {
	a, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok || a.IP == nil || a.IP.IsUnspecified() {
		return nil
	}
	return &net.UDPAddr{IP: a.IP, Zone: a.Zone}
}

// serveRead runs one read transfer and reports it.
func (s *Server) serveRead(ctx context.Context, laddr, client *net.UDPAddr, req *Request) {
	start := time.Now()
	t := Transfer{Client: client.AddrPort(), File: req.Filename, Size: -1, BlockSize: defaultBlockSize, WindowSize: 1}
	t.Err = s.read(ctx, laddr, client, req, &t)
	t.Duration = time.Since(start)
	attrs := []any{
		"client", t.Client.String(), "file", t.File, "bytes", t.Bytes, "size", t.Size,
		"blksize", t.BlockSize, "windowsize", t.WindowSize, "retransmits", t.Retransmits,
		"duration", t.Duration.Round(time.Microsecond).String(),
	}
	if t.Duration > 0 && t.Bytes > 0 {
		attrs = append(attrs, "MiBps", float64(int64(float64(t.Bytes)/t.Duration.Seconds()/(1<<20)*10))/10)
	}
	switch {
	case t.Err != nil:
		s.log().Warn("tftp transfer failed", append(attrs, "err", t.Err.Error())...)
	case t.Probe:
		s.log().Info("tftp size probe", attrs...)
	default:
		s.log().Info("tftp transfer", attrs...)
	}
	if s.OnTransfer != nil {
		s.OnTransfer(t)
	}
}

// transferError is an error the client is told about.
type transferError struct {
	code uint16
	msg  string
	err  error
}

func (e *transferError) Error() string { return e.err.Error() }
func (e *transferError) Unwrap() error { return e.err }

func (s *Server) read(ctx context.Context, laddr, client *net.UDPAddr, req *Request, t *Transfer) error {
	dial := s.DialUDP
	if dial == nil {
		dial = net.DialUDP
	}
	c, err := dial("udp", laddr, client)
	if err != nil {
		return fmt.Errorf("opening the transfer socket: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	src, size, err := s.open(req)
	if err != nil {
		var te *transferError
		if errors.As(err, &te) {
			c.Write(errorPacket(te.code, te.msg))
		}
		return err
	}
	defer src.Close()
	t.Size = size

	oack, p := negotiate(req, size, maxBlockFor(c), s.maxWindow(), s.maxClientTimeout())
	t.BlockSize, t.WindowSize = p.blockSize, p.window
	io, err := newRawIO(c)
	if err != nil {
		return fmt.Errorf("opening the transfer socket: %w", err)
	}
	x := &sender{
		ctx:     ctx,
		c:       c,
		io:      io,
		timeout: s.timeout(),
		retries: s.retries(),
		t:       t,
		end:     time.Now().Add(s.transferTimeout()),
		limit:   s.transferTimeout(),
	}
	if p.timeout > 0 {
		// The client's own timeout, as it asked: no backoff on top.
		x.timeout, x.fixed = p.timeout, true
	}
	if len(oack) > 0 {
		if err := x.oack(oack); err != nil {
			var ce *clientError
			if errors.As(err, &ce) && ce.code == errOptionRefused {
				if _, asked := req.Option("tsize"); asked {
					t.Probe = true
					return nil
				}
			}
			return err
		}
	}
	// Read the file in large chunks: blocks are small, and one read
	// system call per block shows in lock-step transfers.
	return x.data(bufio.NewReaderSize(src, 64<<10), p.blockSize, p.window)
}

// open checks and opens the requested file. The returned size is -1 for
// netascii, whose length on the wire differs from the file's.
func (s *Server) open(req *Request) (io.ReadCloser, int64, error) {
	if req.Write {
		return nil, 0, &transferError{errAccess, "read-only server", errors.New("write request refused: read-only server")}
	}
	name, err := files.CleanName(req.Filename)
	if err != nil {
		return nil, 0, &transferError{errAccess, "access violation", err}
	}
	f, err := s.Files.Open(name)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, 0, &transferError{errNotFound, "file not found", err}
		case errors.Is(err, files.ErrRefused), errors.Is(err, fs.ErrPermission):
			return nil, 0, &transferError{errAccess, "access violation", err}
		}
		return nil, 0, &transferError{errUndefined, "cannot open file", err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, &transferError{errUndefined, "cannot open file", err}
	}
	if req.Mode == "netascii" {
		return struct {
			io.Reader
			io.Closer
		}{newNetASCII(f), f}, -1, nil
	}
	return f, st.Size(), nil
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return time.Second
}

func (s *Server) retries() int {
	if s.Retries > 0 {
		return s.Retries
	}
	return 5
}

func (s *Server) maxWindow() int {
	if s.MaxWindow > 0 {
		return min(s.MaxWindow, maxWindowSize)
	}
	return 64
}

// maxBlockFor returns the largest block that fits in one IP packet on the
// path to the connected peer: the kernel's path MTU (IP_MTU) less the IP,
// UDP and TFTP headers. It falls back to 1468 (an Ethernet MTU) when the
// MTU cannot be read.
func maxBlockFor(c *net.UDPConn) int {
	const fallback = 1500 - 20 - 8 - 4
	rc, err := c.SyscallConn()
	if err != nil {
		return fallback
	}
	ra, _ := c.RemoteAddr().(*net.UDPAddr)
	v6 := ra != nil && ra.IP.To4() == nil
	mtu, overhead := 0, 20+8+4
	var serr error
	err = rc.Control(func(fd uintptr) {
		if v6 {
			mtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU)
			overhead = 40 + 8 + 4
		} else {
			mtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU)
		}
	})
	if err != nil || serr != nil || mtu <= 0 {
		return fallback
	}
	return max(mtu-overhead, defaultBlockSize)
}

// sender runs the packet exchange of one transfer.
type sender struct {
	ctx     context.Context
	c       *net.UDPConn // for deadlines
	io      *rawIO       // for packets
	timeout time.Duration
	fixed   bool // timeout is the client's: no backoff
	retries int
	t       *Transfer
	end     time.Time // the whole transfer's deadline
	limit   time.Duration
	rbuf    [maxRequest]byte
}

// deadline is when to give up waiting for an answer to what was just
// sent (the try-th retransmission): fixed now, so that packets that are
// not the answer do not extend it, and never after the transfer's end.
func (x *sender) deadline(try int) time.Time {
	wait := x.timeout
	if !x.fixed {
		wait <<= min(try, 3)
	}
	d := time.Now().Add(wait)
	if d.After(x.end) {
		d = x.end
	}
	return d
}

// oack sends the option acknowledgement and waits for its ACK (block 0).
func (x *sender) oack(opts []Option) error {
	pkt := oackPacket(opts)
	for try := 0; ; try++ {
		if _, err := x.io.Write(pkt); err != nil {
			return fmt.Errorf("sending OACK: %w", err)
		}
		dl := x.deadline(try)
		for {
			r, err := x.recv(dl)
			if err != nil {
				if isTimeout(err) && try < x.retries && x.ctx.Err() == nil && time.Now().Before(x.end) {
					x.t.Retransmits++
					break
				}
				return x.recvError(err, "OACK")
			}
			if r.op == opACK && r.block == 0 {
				return nil
			}
			// Anything else is a stray; keep waiting.
		}
	}
}

// data sends the file in windows of window blocks (RFC 7440; one block
// is RFC 1350's lock-step). After an ACK for block k the next window
// starts at k+1, so a client that acknowledges the last block it got in
// order after a loss gets the rest again. ACKs outside the window in
// flight (duplicates, strays) are ignored.
func (x *sender) data(src io.Reader, blockSize, window int) error {
	slot := 4 + blockSize
	ring := make([]byte, window*slot)
	lens := make([]int, window)
	var (
		acked  uint64 // highest block acknowledged
		loaded uint64 // blocks acked+1 .. acked+loaded are in the ring
		last   uint64 // number of the final, short block once read
	)
	try := 0
	for {
		// Read ahead until the window is full or the file ends.
		for loaded < uint64(window) && (last == 0 || acked+loaded < last) {
			b := acked + loaded + 1
			i := int(b % uint64(window))
			pkt := ring[i*slot : (i+1)*slot]
			appendData(pkt[:0], uint16(b))
			n, err := io.ReadFull(src, pkt[4:])
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				x.io.Write(errorPacket(errUndefined, "read error"))
				return fmt.Errorf("reading the file: %w", err)
			}
			lens[i] = 4 + n
			if n < blockSize {
				last = b
			}
			loaded++
		}
		for k := uint64(1); k <= loaded; k++ {
			i := int((acked + k) % uint64(window))
			if _, err := x.io.Write(ring[i*slot : i*slot+lens[i]]); err != nil {
				return fmt.Errorf("sending block %d: %w", acked+k, err)
			}
		}
		dl := x.deadline(try)
		for {
			r, err := x.recv(dl)
			if err != nil {
				if isTimeout(err) && try < x.retries && x.ctx.Err() == nil && time.Now().Before(x.end) {
					try++
					x.t.Retransmits += int(loaded)
					break // send the window again
				}
				return x.recvError(err, fmt.Sprintf("block %d", acked+1))
			}
			if r.op != opACK {
				continue
			}
			delta := uint64(r.block - uint16(acked))
			if delta == 0 || delta > loaded {
				continue // a duplicate or stray ACK
			}
			try = 0
			acked += delta
			loaded -= delta
			x.t.Bytes = int64(acked-1)*int64(blockSize) + int64(lens[int(acked%uint64(window))]-4)
			if acked == last {
				return nil
			}
			break
		}
	}
}

// recv waits for the client's next packet until deadline.
func (x *sender) recv(deadline time.Time) (reply, error) {
	if x.ctx.Err() != nil {
		return reply{}, x.ctx.Err()
	}
	if err := x.c.SetReadDeadline(deadline); err != nil {
		return reply{}, err
	}
	for {
		n, err := x.io.Read(x.rbuf[:])
		if err != nil {
			return reply{}, err
		}
		r, err := parseReply(x.rbuf[:n])
		if err != nil {
			continue // garbage from the client's address: not an answer
		}
		if r.op == opERROR {
			return r, &clientError{code: r.block, msg: r.msg}
		}
		return r, nil
	}
}

func (x *sender) recvError(err error, waitingFor string) error {
	if x.ctx.Err() != nil {
		return fmt.Errorf("server stopped: %w", x.ctx.Err())
	}
	var ce *clientError
	if errors.As(err, &ce) {
		return err
	}
	if isTimeout(err) && !time.Now().Before(x.end) {
		return fmt.Errorf("transfer not done within %v (the limit per transfer), waiting for the ACK of %s", x.limit, waitingFor)
	}
	if isTimeout(err) {
		return fmt.Errorf("no ACK for %s after %d retransmissions", waitingFor, x.retries)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("client went away (port unreachable) waiting for the ACK of %s", waitingFor)
	}
	return fmt.Errorf("waiting for the ACK of %s: %w", waitingFor, err)
}

// clientError is an ERROR packet from the client, which ends a transfer.
type clientError struct {
	code uint16
	msg  string
}

func (e *clientError) Error() string {
	if e.code == errOptionRefused {
		return fmt.Sprintf("client refused the options (error 8: %q)", e.msg)
	}
	return fmt.Sprintf("client aborted with error %d: %q", e.code, e.msg)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
