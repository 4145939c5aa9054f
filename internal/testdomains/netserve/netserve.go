//rl:domain

// Package netserve is a TCP server domain over a network stack's sockets
// (an idl.Inet, as services/netstack exports them): it listens on a port
// and serves each connection it accepts, on a thread of its own, with
// apps/httpd (static files from its Config) or apps/kvstore. When the
// stack restarts and forgets its sockets (their numbers fail with ENETRESET),
// it listens again; a connection the restart took ends with an error.
// The fault tests of services/netstack run it under load while they crash
// the stack and the NIC driver. It exports an idl.Bench, whose Null says
// it is alive, and counts what it did in a granted *Stats.
package netserve

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/apps/httpd"
	"github.com/rlgo/redleaf/apps/kvstore"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Kind is the name netserve registers under.
const Kind = "netserve"

// Grant names.
const (
	GrantInet   = "inet"   // the network stack, an idl.Inet (required)
	GrantConfig = "config" // a Config (required)
	GrantStats  = "stats"  // a *Stats to count in (optional)
)

// Applications.
const (
	HTTP = "httpd"   // apps/httpd over Config.Files
	KV   = "kvstore" // apps/kvstore (memcached's text protocol)
)

// Config says what to serve where.
type Config struct {
	App         string            // HTTP or KV
	Port        uint16            // the TCP port to listen on
	Files       map[string][]byte // HTTP: the files, by name ("index.html", "a/b.txt"); read only
	Backlog     int32             // the listener's SYN backlog (default 64)
	IdleTimeout time.Duration     // a connection idle (or stalled writing) this long is closed (default 10 s)
}

// Stats are the domain's counters. The domain only adds to them.
type Stats struct {
	Listens  atomic.Int64 // listeners opened: 1, and one more after each stack restart
	Accepted atomic.Int64 // connections accepted
	Ended    atomic.Int64 // connections that ended in order
	Failed   atomic.Int64 // connections that ended with an error (a reset, the stack's restart, a timeout)
}

const (
	defaultBacklog = 64
	defaultIdle    = 10 * time.Second
	retry          = 10 * time.Millisecond // after a failed Listen or Wait
)

func init() {
	domain.Register(Kind, New)
}

// Server is the domain.
type Server struct {
	ctx   *domain.Context
	inet  idl.Inet
	cfg   Config
	stats *Stats
	serve func(io.ReadWriter) error
}

// New is the constructor: it starts the listening thread.
func New(ctx *domain.Context) (idl.Bench, error) {
	inet, err := domain.Import[idl.Inet](ctx, GrantInet)
	if err != nil {
		return nil, err
	}
	cfg, err := domain.Device[Config](ctx, GrantConfig)
	if err != nil {
		return nil, fmt.Errorf("netserve: %w (the application and its port)", err)
	}
	if cfg.Port == 0 {
		return nil, fmt.Errorf("netserve: Config.Port is 0: give the port to listen on")
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = defaultBacklog
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdle
	}
	s := &Server{ctx: ctx, inet: inet, cfg: cfg}
	if s.stats, _ = domain.Device[*Stats](ctx, GrantStats); s.stats == nil {
		s.stats = &Stats{}
	}
	switch cfg.App {
	case HTTP:
		s.serve = httpd.NewServer(files(cfg.Files), httpd.Config{IdleTimeout: cfg.IdleTimeout}).ServeConn
	case KV:
		s.serve = kvstore.NewServer(kvstore.Config{MaxBytes: 4 << 20, IdleTimeout: cfg.IdleTimeout}).ServeConn
	default:
		return nil, fmt.Errorf("netserve: Config.App %q: want %q or %q", cfg.App, HTTP, KV)
	}
	ctx.Spawn("listen", s.listen)
	return s, nil
}

// listen is the listening thread: it accepts connections and starts a
// thread for each, and listens again when the stack forgot its listener.
func (s *Server) listen() {
	var l int64 // 0: none
	for {
		if l == 0 {
			h, err := s.inet.Listen(s.cfg.Port, s.cfg.Backlog)
			if err != nil {
				s.ctx.Sleep(retry)
				continue
			}
			l = h
			s.stats.Listens.Add(1)
		}
		c, err := s.inet.Accept(l)
		switch {
		case err == nil:
			s.stats.Accepted.Add(1)
			s.ctx.Spawn("conn", func() { s.serveConn(c) })
		case errors.Is(err, errno.EAGAIN):
			if _, err := s.inet.Wait(l, idl.SockReadable, idl.MaxWait); gone(err) {
				l = 0
			} else if err != nil {
				s.ctx.Sleep(retry)
			}
		case gone(err):
			l = 0 // the stack restarted: its sockets are gone
		default:
			s.ctx.Sleep(retry) // EMFILE, or a failure the stack's shadow did not hide
		}
	}
}

// serveConn serves connection h to its end and closes it.
func (s *Server) serveConn(h int64) {
	heap := s.ctx.Heap()
	c := &conn{s: s, h: h, in: rref.New(heap, idl.IOBuf{}), out: rref.New(heap, idl.IOBuf{})}
	err := s.serve(c)
	s.inet.Close(h) // ENETRESET if the stack restarted meanwhile
	rref.Discard(c.in)
	rref.Discard(c.out)
	if err != nil {
		s.stats.Failed.Add(1)
	} else {
		s.stats.Ended.Add(1)
	}
}

// errTimeout is a conn's error past its deadline.
var errTimeout = errors.New("netserve: timeout")

// A conn is a connection of the stack as an io.ReadWriter with read
// deadlines (what the applications use for idle timeouts).
type conn struct {
	s        *Server
	h        int64
	in, out  rref.RRef[idl.IOBuf]
	deadline time.Time // of reads; zero: none
}

// SetReadDeadline implements httpd.ReadDeadliner and kvstore.ReadDeadliner.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.deadline = t
	return nil
}

// wait waits for events on the connection until deadline (zero: one
// MaxWait step).
func (c *conn) wait(events uint8, deadline time.Time) error {
	step := idl.MaxWait
	if !deadline.IsZero() {
		left := time.Until(deadline)
		if left <= 0 {
			return errTimeout
		}
		step = min(step, int64(left))
	}
	_, err := c.s.inet.Wait(c.h, events, step)
	return err
}

// Read implements io.Reader.
func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		buf, got, err := c.s.inet.Recv(c.h, c.in, int32(min(len(b), idl.IOSize)))
		if buf.Valid() {
			c.in = buf
		} else if !c.in.Valid() { // a failed call kept it
			c.in = rref.New(c.s.ctx.Heap(), idl.IOBuf{})
		}
		switch {
		case err == nil && got == 0:
			return 0, io.EOF
		case err == nil:
			return copy(b, c.in.Get()[:got]), nil
		case !errors.Is(err, errno.EAGAIN):
			return 0, err
		}
		if err := c.wait(idl.SockReadable, c.deadline); err != nil {
			return 0, err
		}
	}
}

// Write implements io.Writer: it sends all of b, or fails when the
// connection makes no progress for IdleTimeout.
func (c *conn) Write(b []byte) (int, error) {
	done := 0
	stall := time.Now().Add(c.s.cfg.IdleTimeout)
	for done < len(b) {
		k := copy(c.out.Get()[:], b[done:])
		w, err := c.s.inet.Send(c.h, c.out.Borrow(), int32(k))
		done += int(w)
		switch {
		case err == nil:
			stall = time.Now().Add(c.s.cfg.IdleTimeout)
			continue
		case !errors.Is(err, errno.EAGAIN):
			return done, err
		}
		if err := c.wait(idl.SockWritable, stall); err != nil {
			return done, err
		}
	}
	return done, nil
}

// Null implements idl.Bench: the domain is alive.
func (s *Server) Null() error { return nil }

// Echo implements idl.Bench.
func (s *Server) Echo(b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) { return b, nil }

// Peek implements idl.Bench.
func (s *Server) Peek(b rref.Borrow[idl.Block], i uint32) (byte, error) {
	if int(i) >= len(b.Get()) {
		return 0, fmt.Errorf("netserve: peek at %d of a %d-byte block", i, len(b.Get()))
	}
	return b.Get()[i], nil
}

// files is Config.Files as an httpd.FS.
type files map[string][]byte

// modTime is every file's modification time (RedLeaf's OSDI talk).
func modTime() time.Time { return time.Date(2020, 11, 4, 0, 0, 0, 0, time.UTC) }

// Open implements httpd.FS.
func (f files) Open(name string) (httpd.File, error) {
	if name == "" || name == "." {
		return file{dir: true}, nil
	}
	b, ok := f[name]
	if !ok {
		return nil, httpd.ErrNotExist
	}
	return file{data: b}, nil
}

type file struct {
	data []byte
	dir  bool
}

func (f file) Stat() (httpd.FileInfo, error) {
	return httpd.FileInfo{Size: int64(len(f.data)), ModTime: modTime(), IsDir: f.dir}, nil
}

func (f file) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f file) Close() error { return nil }

// gone reports whether err says the socket is no more: the stack that
// had it restarted (ENETRESET) or it is no socket (EBADF).
func gone(err error) bool {
	return errors.Is(err, errno.ENETRESET) || errors.Is(err, errno.EBADF)
}
