//rl:domain

// Package netstack is the network stack as a domain: net/stack's TCP/IP
// over a granted NIC (an idl.Net, through net/stack/idlnet), with its
// sockets exported as an idl.Inet. The system runs one per NIC, behind a
// shadow, and hands it to processes as the capability "inet:NAME".
//
// One thread (from Context.Spawn) drives the stack: it polls the NIC in
// batches, fires the stack's timers and sends what the sockets queued,
// and after an idle poll sleeps from Config.MinIdle, doubling, up to
// Config.Idle, unless a socket call kicks it (cadence.go). Socket calls
// run on their callers' threads and take the stack's lock between polls;
// they never block, except Wait, PollSocks and Ping, which wait at most
// idl.MaxWait; the polling thread wakes Wait and PollSocks when their
// sockets are ready.
//
// Sockets are numbered per stack instance (the instance's epoch in the
// high 32 bits, then a slot and a generation, so a stale number fails with
// EBADF, and a number of an instance that restarted with ENETRESET); at
// most Config.MaxSockets are open at once. They belong to the caller that
// opened them: Rv6 closes a process's sockets when their last descriptor
// goes (rv6/sys/socket.go).
package netstack

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rlgo/redleaf/dhcp4"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/net/stack/idlnet"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Kind is the name the domain registers under.
const Kind = "netstack"

// Grant names.
const (
	GrantNet    = "net"        // the NIC, an idl.Net (required)
	GrantConfig = "config"     // a Config (required: the address and the seed)
	GrantFaults = faults.Grant // a faults.Device (optional): a fault point at the entry of every socket call
)

// Config configures the domain.
type Config struct {
	Stack      stack.Config  // Addr (required unless DHCP), PrefixLen, Gateway, Seed (give a random one)... (RecvBuf default 256 KiB here)
	DHCP       bool          // get the address by DHCP (Stack.Addr must be zero): see dhcp.go
	DHCPClient dhcp4.Config  // the DHCP client's timings (zero: RFC 2131's); its MAC is the NIC's
	Queue      uint16        // the NIC's queue
	Batch      int           // packets per batch (default 32)
	Idle       time.Duration // longest sleep after idle polls (default 500 µs)
	MinIdle    time.Duration // sleep after the first idle poll, doubling up to Idle (default 10 µs)
	MaxSockets int           // open sockets at once (default 256, at most 4096)
}

const (
	defaultBatch   = 32
	defaultIdle    = 500 * time.Microsecond
	defaultMinIdle = 10 * time.Microsecond
	defaultSockets = 256
	defaultRecvBuf = 256 << 10 // a window scaled by 4: see BENCHMARKS.md, "stack cadence"
	maxSockets     = 1 << slotBits
	slotBits       = 12
	genMask        = 1<<(31-slotBits) - 1 // handles are positive int32s
	pingQueue      = 8
	maxPing        = 1472 // an ICMP payload in a 1500-byte MTU
)

func init() {
	domain.Register(Kind, New)
}

// kinds of socket slots.
const (
	free uint8 = iota
	listener
	conn
	udp
)

type socket struct {
	kind uint8
	gen  uint32 // 1..genMask
	l    stack.Listener
	c    stack.Conn
	u    stack.UDPConn
}

// Service is the domain's idl.Inet.
type Service struct {
	ctx   *domain.Context
	fp    faults.Device
	cfg   Config
	start time.Time
	epoch uint32 // this instance's, in the high half of its socket numbers

	mu    sync.Mutex // the stack, the link, the sockets, the DHCP client
	st    *stack.Stack
	dhcp  *stack.DHCP // nil: static address
	link  *idlnet.Link
	socks []socket
	open  int
	polls uint64 // completed polls

	kick      chan struct{} // buffered 1: wakes the polling thread
	pollTimer *time.Timer   // the polling thread's
	waiters   []*waiter     // blocked in Wait or PollSocks (under mu)
	spare     []*waiter     // for the next waits (under mu)

	pingMu  sync.Mutex // one Ping at a time (they share the reply queue)
	pingID  uint16
	payload []byte // Ping's, under pingMu
}

// New is the constructor of the domain: it imports the NIC, makes the
// stack and starts the polling thread.
func New(ctx *domain.Context) (idl.Inet, error) {
	nic, err := domain.Import[idl.Net](ctx, GrantNet)
	if err != nil {
		return nil, err
	}
	cfg, err := domain.Device[Config](ctx, GrantConfig)
	if err != nil {
		return nil, fmt.Errorf("netstack: %w (the stack's address and seed)", err)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = defaultBatch
	}
	if cfg.Idle <= 0 {
		cfg.Idle = defaultIdle
	}
	if cfg.MinIdle <= 0 {
		cfg.MinIdle = min(defaultMinIdle, cfg.Idle)
	}
	if cfg.MinIdle > cfg.Idle {
		return nil, fmt.Errorf("netstack: Config.MinIdle %v is above Config.Idle %v", cfg.MinIdle, cfg.Idle)
	}
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = defaultSockets
	}
	if cfg.MaxSockets > maxSockets {
		return nil, fmt.Errorf("netstack: Config.MaxSockets %d is above %d", cfg.MaxSockets, maxSockets)
	}
	if cfg.Stack.RecvBuf == 0 {
		cfg.Stack.RecvBuf = defaultRecvBuf
	}
	if cfg.Stack.PingQueue == 0 {
		cfg.Stack.PingQueue = pingQueue
	}
	link, err := idlnet.New(nic, ctx.Heap(), cfg.Queue, cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("netstack: %w", err)
	}
	if cfg.DHCP {
		if cfg.Stack.Addr != ([4]byte{}) {
			return nil, fmt.Errorf("netstack: Config.DHCP with a static Config.Stack.Addr: choose one")
		}
		cfg.Stack.Unaddressed = true
	}
	st, err := stack.New(link, cfg.Stack)
	if err != nil {
		return nil, fmt.Errorf("netstack: %w", err)
	}
	s := &Service{ctx: ctx, fp: faults.From(ctx), cfg: cfg, start: time.Now(), epoch: epochOf(ctx.ID()), st: st, link: link,
		socks: make([]socket, cfg.MaxSockets), payload: make([]byte, maxPing),
		kick: make(chan struct{}, 1), pollTimer: time.NewTimer(time.Hour)}
	s.pollTimer.Stop()
	if err := s.startDHCP(); err != nil {
		return nil, err
	}
	a, m := cfg.Stack.Addr, st.HardwareAddr()
	if cfg.DHCP {
		ctx.Logf("address by DHCP on %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
	} else {
		ctx.Logf("%d.%d.%d.%d/%d on %02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], st.Config().PrefixLen,
			m[0], m[1], m[2], m[3], m[4], m[5])
	}
	ctx.Spawn("poll", s.run)
	return s, nil
}

// now is the stack's clock.
func (s *Service) now() time.Duration { return time.Since(s.start) }

// run is the polling thread. It ends with the domain.
func (s *Service) run() {
	failing := false
	quiet := 0 // idle polls since the last that worked
	for {
		worked, woke, err := s.poll()
		if err != nil {
			if !failing {
				s.ctx.Logf("the NIC failed: %v; retrying", err)
			}
			failing = true
			s.ctx.Sleep(10 * time.Millisecond)
			continue
		}
		if failing {
			s.ctx.Logf("the NIC works again")
			failing = false
		}
		if worked {
			quiet = 0
			if woke {
				// Let the callers it woke run (with one vCPU they
				// would wait for this thread's next sleep): their
				// socket calls kick it back.
				s.sleep(s.cfg.MinIdle)
			}
			continue
		}
		quiet++
		if s.sleep(s.idleSleep(quiet)) {
			quiet = 0 // a socket call: more is likely to follow
		}
	}
}

// poll polls the stack once. The lock is released by a defer, as
// everywhere here: Poll crosses into the NIC's domain, and when this
// instance dies meanwhile the thread unwinds on its way back. A lock it
// kept would hold every caller already inside this instance (threads of
// other domains, Wait's) forever.
func (s *Service) poll() (worked, woke bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	now := s.now()
	worked, err = s.st.Poll(now)
	s.pollDHCP(now)
	if len(s.waiters) > 0 {
		woke = s.wake()
	}
	return worked, woke, err
}

// errnoOf maps the stack's errors to errno values, keeping the message.
func errnoOf(op string, err error) error {
	var e errno.Errno
	switch {
	case err == nil:
		return nil
	case errors.Is(err, stack.ErrWouldBlock):
		return errno.EAGAIN // plain: callers compare it often
	case errors.Is(err, stack.ErrClosed):
		e = errno.EBADF
	case errors.Is(err, stack.ErrReset):
		e = errno.ECONNRESET
	case errors.Is(err, stack.ErrRefused):
		e = errno.ECONNREFUSED
	case errors.Is(err, stack.ErrTimeout):
		e = errno.ETIMEDOUT
	case errors.Is(err, stack.ErrAborted):
		e = errno.ECONNABORTED
	case errors.Is(err, stack.ErrAddrInUse):
		e = errno.EADDRINUSE
	case errors.Is(err, stack.ErrTooMany):
		e = errno.EMFILE
	case errors.Is(err, stack.ErrNotConnected):
		e = errno.ENOTCONN
	case errors.Is(err, stack.ErrShutdown):
		e = errno.EPIPE
	case errors.Is(err, stack.ErrMessageSize):
		e = errno.EMSGSIZE
	case errors.Is(err, stack.ErrNoRoute):
		e = errno.EHOSTUNREACH
	case errors.Is(err, stack.ErrNoAddr), errors.Is(err, stack.ErrAddrLost):
		e = errno.ENETDOWN
	default:
		e = errno.EINVAL
	}
	return fmt.Errorf("%s: %s: %w", op, err.Error(), e)
}

// handle is the number of slot i.
func (s *Service) handle(i int) int64 {
	return int64(s.epoch)<<32 | int64(s.socks[i].gen)<<slotBits | int64(i)
}

// epochOf is the epoch of the instance that is domain id: domain ids are
// never reused by a manager, so a restarted instance has a new one. It is
// positive, and so are socket numbers.
func epochOf(id domain.ID) uint32 {
	return uint32(id)&0x7fffffff | epochBit
}

// epochBit is set in every epoch, so that a number without it is no
// instance's (EBADF rather than ENETRESET).
const epochBit = 1 << 20

// alloc takes a free slot (under mu).
func (s *Service) alloc(op string) (int, error) {
	for i := range s.socks {
		if s.socks[i].kind == free {
			s.socks[i].gen = (s.socks[i].gen + 1) & genMask
			if s.socks[i].gen == 0 { // wrapped: handles stay positive
				s.socks[i].gen = 1
			}
			s.open++
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s: %d sockets are open already: %w", op, len(s.socks), errno.EMFILE)
}

// lookup is the slot of handle h, of kind want (under mu).
func (s *Service) lookup(op string, h int64, want uint8) (*socket, int, error) {
	if e := uint32(h >> 32); h > 0 && e&epochBit != 0 && e != s.epoch {
		return nil, 0, fmt.Errorf("%s: socket %#x: the network stack restarted (the socket was its earlier instance's): %w", op, h, errno.ENETRESET)
	}
	i := int(h & (maxSockets - 1))
	if h <= 0 || i >= len(s.socks) || s.socks[i].kind == free || s.handle(i) != h {
		return nil, 0, fmt.Errorf("%s: socket %#x: %w", op, h, errno.EBADF)
	}
	k := &s.socks[i]
	if want != free && k.kind != want {
		return nil, 0, fmt.Errorf("%s: socket %#x is %s: %w", op, h, kindName(k.kind), errno.EINVAL)
	}
	return k, i, nil
}

func kindName(k uint8) string {
	switch k {
	case listener:
		return "a TCP listener"
	case udp:
		return "a UDP socket"
	}
	return "a TCP connection"
}

// Info implements idl.Inet.
func (s *Service) Info() (idl.InetInfo, error) {
	s.fp.Point(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, st := s.st.Config(), s.st.Stats()
	info := idl.InetInfo{Addr: c.Addr, PrefixLen: uint8(c.PrefixLen), Gateway: c.Gateway, MAC: s.st.HardwareAddr(),
		Sockets: int32(s.open), Conns: int32(s.st.Conns()), RxFrames: st.RxFrames, TxFrames: st.TxFrames,
		RxDropped: st.RxDropped, TxDropped: st.TxDropped, UDPReceived: st.UDPReceived, UDPSent: st.UDPSent,
		TCPEstablished: st.TCPEstablished, TCPRetrans: st.TCPRetransmits}
	s.dhcpInfo(&info)
	return info, nil
}

// Listen implements idl.Inet.
func (s *Service) Listen(port uint16, backlog int32) (int64, error) {
	s.fp.Point(s.ctx)
	if port == 0 || backlog < 1 || backlog > 1024 {
		return 0, fmt.Errorf("listen: port %d backlog %d: want a port and a backlog in 1..1024: %w", port, backlog, errno.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.alloc("listen")
	if err != nil {
		return 0, err
	}
	l, err := s.st.Listen(port, int(backlog))
	if err != nil {
		s.socks[i].kind = free
		s.open--
		return 0, errnoOf(fmt.Sprintf("listen on port %d", port), err)
	}
	s.socks[i].kind, s.socks[i].l = listener, l
	return s.handle(i), nil
}

// Accept implements idl.Inet.
func (s *Service) Accept(h int64) (int64, error) {
	s.fp.Point(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("accept", h, listener)
	if err != nil {
		return 0, err
	}
	if k.l.Ready()&stack.EventReadable == 0 {
		return 0, errno.EAGAIN
	}
	i, err := s.alloc("accept")
	if err != nil {
		return 0, err
	}
	c, err := k.l.Accept()
	if err != nil {
		s.socks[i].kind = free
		s.open--
		return 0, errnoOf("accept", err)
	}
	s.socks[i].kind, s.socks[i].c = conn, c
	return s.handle(i), nil
}

// Dial implements idl.Inet.
func (s *Service) Dial(addr [4]byte, port uint16) (int64, error) {
	s.fp.Point(s.ctx)
	if port == 0 {
		return 0, fmt.Errorf("dial: port 0: %w", errno.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.alloc("dial")
	if err != nil {
		return 0, err
	}
	c, err := s.st.Dial(addr, port)
	if err != nil {
		s.socks[i].kind = free
		s.open--
		return 0, errnoOf(fmt.Sprintf("dial %d.%d.%d.%d:%d", addr[0], addr[1], addr[2], addr[3], port), err)
	}
	s.socks[i].kind, s.socks[i].c = conn, c
	s.kickPoll()
	return s.handle(i), nil
}

// Peer implements idl.Inet.
func (s *Service) Peer(h int64) ([4]byte, uint16, error) {
	s.fp.Point(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("peer", h, conn)
	if err != nil {
		return [4]byte{}, 0, err
	}
	return k.c.RemoteAddr(), k.c.RemotePort(), nil
}

// Recv implements idl.Inet.
func (s *Service) Recv(h int64, buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, error) {
	s.fp.Point(s.ctx)
	if n < 0 || n > idl.IOSize {
		return buf, 0, fmt.Errorf("recv: %d bytes: want 0..%d: %w", n, idl.IOSize, errno.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("recv", h, conn)
	if err != nil {
		return buf, 0, err
	}
	got, err := k.c.Read(buf.Get()[:n])
	if got > 0 {
		s.kickPoll() // the window may have opened: an update to send
	}
	if err == io.EOF {
		return buf, 0, nil
	}
	return buf, int32(got), errnoOf("recv", err)
}

// Send implements idl.Inet.
func (s *Service) Send(h int64, buf rref.Borrow[idl.IOBuf], n int32) (int32, error) {
	s.fp.Point(s.ctx)
	if n < 0 || n > idl.IOSize {
		return 0, fmt.Errorf("send: %d bytes: want 0..%d: %w", n, idl.IOSize, errno.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("send", h, conn)
	if err != nil {
		return 0, err
	}
	got, err := k.c.Write(buf.Get()[:n])
	if got > 0 {
		s.kickPoll()
	}
	return int32(got), errnoOf("send", err)
}

// Shutdown implements idl.Inet.
func (s *Service) Shutdown(h int64, how uint8) error {
	s.fp.Point(s.ctx)
	var sh stack.How
	switch how {
	case idl.ShutRead:
		sh = stack.ShutRead
	case idl.ShutWrite:
		sh = stack.ShutWrite
	case idl.ShutBoth:
		sh = stack.ShutBoth
	default:
		return fmt.Errorf("shutdown: how %d: want 1 (read), 2 (write) or 3 (both): %w", how, errno.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("shutdown", h, conn)
	if err != nil {
		return err
	}
	err = k.c.Shutdown(sh)
	s.kickPoll()
	s.wake()
	return errnoOf("shutdown", err)
}

// Close implements idl.Inet.
func (s *Service) Close(h int64) error {
	s.fp.Point(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("close", h, free)
	if err != nil {
		return err
	}
	switch k.kind {
	case listener:
		err = k.l.Close()
	case udp:
		err = k.u.Close()
	default:
		err = k.c.Close()
	}
	k.kind, k.l, k.c, k.u = free, stack.Listener{}, stack.Conn{}, stack.UDPConn{}
	s.open--
	s.kickPoll()
	s.wake()
	if errors.Is(err, stack.ErrClosed) {
		err = nil // the connection was over already
	}
	return errnoOf("close", err)
}

// ready is the readiness of slot k (under mu).
func ready(k *socket) uint8 {
	var ev stack.Events
	switch k.kind {
	case listener:
		ev = k.l.Ready()
	case udp:
		ev = k.u.Ready()
	default:
		ev = k.c.Ready()
	}
	var r uint8
	if ev&stack.EventReadable != 0 {
		r |= idl.SockReadable
	}
	if ev&stack.EventWritable != 0 {
		r |= idl.SockWritable
	}
	if k.kind == conn && ev&(stack.EventError) != 0 || k.kind == conn && k.c.State() == stack.StateClosed {
		r |= idl.SockClosed
	}
	return r
}

// clampWait bounds a wait's timeout to 0..MaxWait.
func clampWait(ns int64) time.Duration {
	return time.Duration(min(max(ns, 0), idl.MaxWait))
}

// Wait implements idl.Inet. The polling thread wakes it when the socket
// is ready (cadence.go).
func (s *Service) Wait(h int64, events uint8, timeoutNs int64) (uint8, error) {
	s.fp.Point(s.ctx)
	deadline := time.Now().Add(clampWait(timeoutNs))
	want := events | idl.SockClosed
	for {
		r, w, err := s.readiness(h, want, deadline)
		if w == nil {
			return r, err
		}
		s.block(w, deadline)
	}
}

// readiness is the readiness of socket h. When none of want is there and
// the deadline has not passed, it also returns a waiter on the list, to
// block on.
func (s *Service) readiness(h int64, want uint8, deadline time.Time) (uint8, *waiter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("wait", h, free)
	if err != nil {
		return 0, nil, err
	}
	r := ready(k)
	if r&want != 0 || !time.Now().Before(deadline) {
		return r, nil, nil
	}
	w := s.newWaiter()
	w.h, w.want = h, want
	return r, w, nil
}

// Ping implements idl.Inet.
func (s *Service) Ping(addr [4]byte, seq uint16, size int32, timeoutNs int64) (idl.PingResult, error) {
	s.fp.Point(s.ctx)
	if size < 0 || int(size) > len(s.payload) {
		return idl.PingResult{}, fmt.Errorf("ping: %d bytes: want 0..%d: %w", size, len(s.payload), errno.EMSGSIZE)
	}
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	s.pingID++
	id := s.pingID
	p := s.payload[:size]
	for i := range p {
		p[i] = byte(i)
	}
	deadline := time.Now().Add(clampWait(timeoutNs))
	var sent time.Duration
	for sent == 0 { // until the request is queued (ARP may take a while)
		var err error
		sent, err = s.sendPing(addr, id, seq, p)
		if err != nil && !errors.Is(err, stack.ErrWouldBlock) {
			return idl.PingResult{}, errnoOf("ping", err)
		}
		if sent == 0 {
			if !time.Now().Before(deadline) {
				return idl.PingResult{}, nil
			}
			s.ctx.Sleep(s.cfg.Idle)
		}
	}
	for {
		r, ok := s.echoReply()
		if ok && r.From == addr && r.ID == id && r.Seq == seq {
			return idl.PingResult{Got: true, RTTNs: int64(max(r.Received-sent, 0))}, nil
		}
		if !ok {
			if !time.Now().Before(deadline) {
				return idl.PingResult{}, nil
			}
			s.ctx.Sleep(s.cfg.Idle / 2)
		}
	}
}

// sendPing drops stale echo replies and queues an echo request; sent is
// when (0 if it was not queued).
func (s *Service) sendPing(addr [4]byte, id, seq uint16, p []byte) (sent time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for { // drop stale replies
		if _, ok := s.st.EchoReply(nil); !ok {
			break
		}
	}
	if err := s.st.Ping(addr, id, seq, p); err != nil {
		return 0, err
	}
	return max(s.now(), 1), nil
}

// echoReply takes the next echo reply.
func (s *Service) echoReply() (stack.EchoReply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.EchoReply(nil)
}
