// Package guard is the one place where the netboot server's TCP
// listeners get their limits: every connection the HTTP server accepts
// comes through Listener, and the http.Server around it is made by
// HTTPServer. A client of the boot network is assumed hostile.
//
//   - At most MaxConns connections are open at once, and at most
//     MaxPerClient from one address. A connection beyond either is
//     answered "503 busy" and closed at once, so waiting clients hold no
//     descriptor (descriptors are what 20,000 idle connections used up,
//     taking TFTP down with HTTP).
//   - A request's header must arrive within ReadHeaderTimeout, the whole
//     request (a trickled body included) within ReadTimeout, and a
//     kept-alive connection may idle for IdleTimeout.
//   - Writes must make progress: each piece of a response (at most 64
//     KiB) must be taken by the client within WriteProgress. A slow but
//     steady download of a disk image goes on for as long as it takes;
//     a client that stops reading is cut off.
package guard

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound the connections of a listener. Zero fields take the
// defaults.
type Limits struct {
	MaxConns          int           // default 1024
	MaxPerClient      int           // default 64
	ReadHeaderTimeout time.Duration // default 10 s
	ReadTimeout       time.Duration // whole request, body included; default 60 s
	IdleTimeout       time.Duration // between requests; default 30 s
	WriteProgress     time.Duration // per 64 KiB written; default 60 s
	MaxHeaderBytes    int           // default 64 KiB
}

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	if l.MaxPerClient <= 0 {
		l.MaxPerClient = 64
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	def(&l.ReadHeaderTimeout, 10*time.Second)
	def(&l.ReadTimeout, 60*time.Second)
	def(&l.IdleTimeout, 30*time.Second)
	def(&l.WriteProgress, 60*time.Second)
	return l
}

// Stats count a listener's connections.
type Stats struct {
	Open     int    // open now
	Accepted uint64 // served since the start
	Refused  uint64 // turned away by a limit
}

// Listener is a net.Listener with connection limits.
type Listener struct {
	net.Listener
	lim Limits
	log *slog.Logger

	mu       sync.Mutex
	open     int
	perAddr  map[netip.Addr]int
	accepted atomic.Uint64
	refused  atomic.Uint64
	lastWarn time.Time
}

// Listen wraps ln. log (nil: slog.Default()) gets a line, at most every
// 10 s, when connections are refused.
func Listen(ln net.Listener, lim Limits, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{Listener: ln, lim: lim.withDefaults(), log: log, perAddr: map[netip.Addr]int{}}
}

// Limits returns the limits in force.
func (l *Listener) Limits() Limits { return l.lim }

// Stats returns the counts.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Open: l.open, Accepted: l.accepted.Load(), Refused: l.refused.Load()}
}

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteAddr(c)
		l.mu.Lock()
		why := ""
		switch {
		case l.open >= l.lim.MaxConns:
			why = fmt.Sprintf("%d connections open (the limit)", l.open)
		case l.perAddr[addr] >= l.lim.MaxPerClient:
			why = fmt.Sprintf("%d connections from %v open (the limit per client)", l.perAddr[addr], addr)
		default:
			l.open++
			l.perAddr[addr]++
		}
		warn := why != "" && time.Since(l.lastWarn) > 10*time.Second
		if warn {
			l.lastWarn = time.Now()
		}
		l.mu.Unlock()
		if why != "" {
			l.refused.Add(1)
			if warn {
				l.log.Warn("http: refusing connections", "reason", why, "client", addr.String(), "refused_total", l.refused.Load())
			}
			refuse(c)
			continue
		}
		l.accepted.Add(1)
		return &conn{Conn: c, l: l, addr: addr}, nil
	}
}

func remoteAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// refuse answers 503 without waiting for the request and closes.
func refuse(c net.Conn) {
	const msg = "server busy: too many connections, try again\n"
	c.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
	c.Close()
}

func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	l.open--
	if l.perAddr[addr]--; l.perAddr[addr] <= 0 {
		delete(l.perAddr, addr)
	}
	l.mu.Unlock()
}

// conn is an accepted connection: its writes must make progress, and
// closing it frees its slot once.
type conn struct {
	net.Conn
	l      *Listener
	addr   netip.Addr
	closed atomic.Bool
}

func (c *conn) Write(b []byte) (int, error) {
	const piece = 64 << 10
	n := 0
	for n < len(b) {
		end := min(len(b), n+piece)
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.l.lim.WriteProgress)); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(b[n:end])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.addr)
	}
	return err
}

// HTTPServer returns an http.Server for handler with ln's limits: the
// header, request and idle timeouts and the header size. Serve it on ln.
// Its error log goes to log at warning level.
func HTTPServer(handler http.Handler, ln *Listener, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.Default()
	}
	lim := ln.lim
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
