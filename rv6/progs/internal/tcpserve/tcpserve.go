//rl:domain

// Package tcpserve runs a TCP server program's accept loop over the Rv6
// socket API: one thread per connection (Proc.Go), at most MaxConns at
// once (the next clients get Busy and are closed, at most Refusing at
// once), and a reaper thread
// that shuts down connections idle past their read deadline or stuck in a
// write past WriteTimeout, so that hostile clients cannot hold the
// threads. Connections are io.ReadWriters with SetReadDeadline, which the
// apps/ libraries use for their idle timeouts.
package tcpserve

import (
	"errors"
	"fmt"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/rv6/ulib"
)

// Config configures Serve; zero fields take the defaults.
type Config struct {
	MaxConns     int           // connections served at once (default 64)
	WriteTimeout time.Duration // longest a write may wait for the client (default 30 s)
	Tick         time.Duration // how often the reaper looks (default 1 s)
	Busy         []byte        // what a client beyond MaxConns gets before it is closed
	Refusing     int           // clients beyond MaxConns answered at once (default 16; beyond, closed unanswered)
	Linger       time.Duration // how long a refused client has to close (default 2 s)
}

func (c Config) withDefaults() Config {
	if c.MaxConns <= 0 {
		c.MaxConns = 64
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.Refusing <= 0 {
		c.Refusing = 16
	}
	if c.Linger <= 0 {
		c.Linger = 2 * time.Second
	}
	return c
}

// A Conn is a connection being served.
type Conn struct {
	c      *ulib.Conn
	closed atomic.Bool
	// Deadlines in Unix nanoseconds, 0 for none.
	readDL, writeDL atomic.Int64
	timedOut        atomic.Bool
	wto             time.Duration
}

// ErrTimeout is what a read or write of a connection the reaper closed
// returns.
var ErrTimeout = errors.New("tcpserve: connection timed out (idle past its read deadline, or the client stopped reading)")

// Read reads from the connection.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.c.Read(b)
	if err != nil && c.timedOut.Load() {
		err = ErrTimeout
	}
	return n, err
}

// Write writes all of b; the reaper closes the connection if the client
// takes longer than the write timeout to take it.
func (c *Conn) Write(b []byte) (int, error) {
	c.writeDL.Store(time.Now().Add(c.wto).UnixNano())
	n, err := c.c.Write(b)
	c.writeDL.Store(0)
	if err != nil && c.timedOut.Load() {
		err = ErrTimeout
	}
	return n, err
}

// SetReadDeadline sets when a read waiting for data ends the connection
// (the zero time: never). The reaper enforces it within a tick.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.readDL.Store(0)
	} else {
		c.readDL.Store(t.UnixNano())
	}
	return nil
}

// Peer is the remote address and port.
func (c *Conn) Peer() ([4]byte, uint16, error) { return c.c.Peer() }

// Close closes the connection; closing again does nothing.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.c.Close()
}

// expired reports whether a deadline of c passed by now.
func (c *Conn) expired(now int64) bool {
	r, w := c.readDL.Load(), c.writeDL.Load()
	return (r != 0 && now > r) || (w != 0 && now > w)
}

// A Server is an accept loop's state.
type Server struct {
	cfg   Config
	mu    sync.Mutex
	conns map[*Conn]struct{} // at most MaxConns + Refusing
	slots chan struct{}
	// refusing bounds the threads answering clients beyond MaxConns.
	refusing chan struct{}

	reaping atomic.Bool // the reaper thread runs

	// Counters.
	Accepted, Refused, TimedOut atomic.Uint64
	Relistens                   atomic.Uint64 // listeners opened again after a stack restart
}

// New makes a server.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	return &Server{cfg: cfg, conns: map[*Conn]struct{}{}, slots: make(chan struct{}, cfg.MaxConns),
		refusing: make(chan struct{}, cfg.Refusing)}
}

// Serve accepts connections on l and runs serve for each on a thread of
// its own, with a Proc of its own (Fork of p), closing the connection when
// serve returns. It returns only when Accept fails (the listener or the
// stack is gone); a killed program's threads stop at their next call.
func (s *Server) Serve(p *ulib.Proc, l *ulib.Listener, serve func(q *ulib.Proc, c *Conn)) error {
	if !s.reaping.Swap(true) {
		rp := p.Fork()
		p.Go("reaper", func() { s.reap(rp) })
	}
	for {
		uc, err := l.Accept()
		if err != nil {
			return err
		}
		c := &Conn{c: uc, wto: s.cfg.WriteTimeout}
		select {
		case s.slots <- struct{}{}:
		default:
			s.Refused.Add(1)
			select {
			case s.refusing <- struct{}{}:
				s.track(c, true)
				p.Go("refuse", func() {
					defer func() { s.track(c, false); <-s.refusing }()
					s.refuse(c)
				})
			default: // refusing too many already: no answer
				c.Close()
			}
			continue
		}
		s.Accepted.Add(1)
		s.track(c, true)
		q := p.Fork()
		p.Go("conn", func() {
			defer s.done(c)
			serve(q, c)
		})
	}
}

// ServeListen serves l, a listener of stack n, as Serve does, and when
// the stack restarts (its sockets fail with ENETRESET) listens on the same
// port of the new instance and goes on, saying so on p's stderr as the
// program name: the connections the old stack had end with the restart
// (their clients see a reset), the server does not. It returns when
// listening or Accept fails otherwise, or when the program is killed while
// it waits to listen again.
func (s *Server) ServeListen(p *ulib.Proc, n *ulib.Inet, l *ulib.Listener, name string, serve func(q *ulib.Proc, c *Conn)) error {
	port := l.Port()
	for {
		err := s.Serve(p, l, serve)
		l.Close()
		if !errors.Is(err, errno.ENETRESET) {
			return err
		}
		fmt.Fprintf(p.Stderr, "%s: the network stack restarted: listening on port %d again\n", name, port)
		for {
			if l, err = n.Listen(port, s.cfg.MaxConns); err == nil {
				break
			}
			// The new instance may still be coming up, or have no
			// address yet (DHCP): try again shortly.
			if !errors.Is(err, errno.ENETRESET) && !errors.Is(err, errno.ENETDOWN) {
				return err
			}
			if err := p.Sleep(relistenPause); err != nil {
				return err
			}
		}
		s.Relistens.Add(1)
	}
}

// relistenPause is the wait between attempts to listen again.
const relistenPause = 100 * time.Millisecond

// refuse answers a client beyond MaxConns with Busy, ends its sending
// side and reads what the client sent until it closes (or Linger
// passes): closing with its request unread would reset the connection,
// and the client might lose the answer.
func (s *Server) refuse(c *Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(s.cfg.Linger))
	if len(s.cfg.Busy) > 0 {
		if _, err := c.Write(s.cfg.Busy); err != nil {
			return
		}
	}
	if c.c.CloseWrite() != nil {
		return
	}
	var buf [512]byte
	for range maxDrain / len(buf) {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
	}
}

// maxDrain bounds what refuse reads of a refused client.
const maxDrain = 64 << 10

// track adds c to the connections the reaper watches, or removes it.
func (s *Server) track(c *Conn, on bool) {
	s.mu.Lock()
	if on {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	s.mu.Unlock()
}

func (s *Server) done(c *Conn) {
	c.Close()
	s.track(c, false)
	<-s.slots
}

// Open is how many connections are being served.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// reap shuts down, every tick, the connections whose deadline passed: their
// threads' blocked reads and writes then fail and the threads end.
func (s *Server) reap(p *ulib.Proc) {
	var expired []*Conn
	for {
		if err := p.Sleep(s.cfg.Tick); err != nil {
			return
		}
		now := time.Now().UnixNano()
		expired = expired[:0]
		s.mu.Lock()
		for c := range s.conns {
			if c.expired(now) {
				expired = append(expired, c)
			}
		}
		s.mu.Unlock()
		for _, c := range expired {
			c.timedOut.Store(true)
			s.TimedOut.Add(1)
			// Shut down, not closed: the connection's thread, whose
			// blocked call this ends, closes its descriptor (closed
			// here, the number could name the next connection while
			// that thread still uses it).
			c.c.Shutdown() //nolint:errcheck // already gone is as good

		}
	}
}
