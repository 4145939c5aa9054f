package stack

import "io"

// Events are a socket's readiness, for poll and select.
type Events uint8

// The events.
const (
	EventReadable Events = 1 << iota // Read (or Accept, RecvFrom) would not block
	EventWritable                    // Write (or SendTo) would not block
	EventHangup                      // the peer closed its side, or the connection is closed
	EventError                       // the connection failed (reset, refused, timed out) or the handle is stale
)

// A Listener is a listening TCP socket: a handle, as Conn.
type Listener struct {
	s   *Stack
	idx int32
	gen uint32
}

// A Conn is a TCP connection handle. It is a small value: copies refer to
// the same connection, and all go stale (ErrClosed) after Close.
type Conn struct {
	s   *Stack
	idx int32
	gen uint32
}

// Listen opens a listening socket on port with a backlog of connections
// (those completing the handshake and those not yet accepted; SYNs beyond
// it are dropped, so clients retry).
func (s *Stack) Listen(port uint16, backlog int) (Listener, error) {
	if port == 0 || backlog <= 0 {
		return Listener{}, ErrInvalid
	}
	t := &s.tcp
	free := -1
	for i := range t.listeners {
		switch l := &t.listeners[i]; {
		case l.port == port:
			return Listener{}, ErrAddrInUse
		case l.port == 0 && free < 0:
			free = i
		}
	}
	if free < 0 {
		t.listeners = append(t.listeners, listener{})
		free = len(t.listeners) - 1
	}
	l := &t.listeners[free]
	l.gen++
	l.port, l.backlog, l.pending, l.qHead, l.qLen = port, backlog, 0, 0, 0
	if cap(l.queue) < backlog {
		l.queue = make([]int32, backlog)
	}
	l.queue = l.queue[:backlog]
	return Listener{s, int32(free), l.gen}, nil
}

func (l Listener) get() (*listener, error) {
	if l.s == nil {
		return nil, ErrClosed
	}
	x := &l.s.tcp.listeners[l.idx]
	if x.gen != l.gen || x.port == 0 {
		return nil, ErrClosed
	}
	return x, nil
}

// Port is the listening port.
func (l Listener) Port() uint16 {
	x, err := l.get()
	if err != nil {
		return 0
	}
	return x.port
}

// Accept takes an established connection, or returns ErrWouldBlock.
func (l Listener) Accept() (Conn, error) {
	x, err := l.get()
	if err != nil {
		return Conn{}, err
	}
	t := &l.s.tcp
	for x.qLen > 0 {
		i := x.queue[x.qHead]
		x.qHead = (x.qHead + 1) % len(x.queue)
		x.qLen--
		c := &t.c[i]
		c.queued = false
		c.listener = -1
		if c.state == StateClosed { // reset before it was accepted
			t.release(i)
			continue
		}
		c.owned = true
		return Conn{l.s, i, c.gen}, nil
	}
	return Conn{}, ErrWouldBlock
}

// Ready reports EventReadable when a connection waits to be accepted.
func (l Listener) Ready() Events {
	x, err := l.get()
	if err != nil {
		return EventError
	}
	if x.qLen > 0 {
		return EventReadable
	}
	return 0
}

// Close stops listening; connections not yet accepted are reset.
func (l Listener) Close() error {
	x, err := l.get()
	if err != nil {
		return err
	}
	t := &l.s.tcp
	for k := range t.hiWater {
		if c := &t.c[k]; c.inUse && c.listener == l.idx {
			c.queued = false
			c.listener = -1
			t.abort(int32(k), ErrAborted)
			if t.c[k].inUse && !t.c[k].owned {
				t.release(int32(k))
			}
		}
	}
	x.port = 0
	x.gen++
	x.qLen, x.pending = 0, 0
	return nil
}

// Dial opens a connection to addr:port from an ephemeral port; it is
// established after some polls (Ready reports EventWritable, or an error).
func (s *Stack) Dial(addr [4]byte, port uint16) (Conn, error) {
	if port == 0 || addr == ([4]byte{}) || addr == broadcastIP || addr == s.subnetBroadcast || addr[0] >= 224 {
		return Conn{}, ErrInvalid
	}
	if !s.HasAddr() {
		return Conn{}, ErrNoAddr
	}
	if !s.onLink(addr) && s.cfg.Gateway == ([4]byte{}) {
		return Conn{}, ErrNoRoute
	}
	t := &s.tcp
	lport := s.ephemeralPort(func(p uint16) bool {
		for i := range t.listeners {
			if t.listeners[i].port == p {
				return true
			}
		}
		return t.lookup(addr, port, p) >= 0
	})
	if lport == 0 {
		return Conn{}, ErrAddrInUse
	}
	i := t.alloc()
	if i < 0 {
		return Conn{}, ErrTooMany
	}
	c := &t.c[i]
	c.raddr, c.rport, c.lport = addr, port, lport
	c.owned = true
	c.iss = s.isn(addr, lport, port, s.now)
	c.una, c.nxt, c.sndMax = c.iss, c.iss, c.iss
	c.mss = s.cfg.MTU - ipv4HeaderLen - tcpHeaderLen
	c.rcvShift = rcvShiftFor(s.cfg.RecvBuf)
	c.state = StateSynSent
	c.synPending = true
	t.insert(i)
	t.markDirty(i)
	return Conn{s, i, c.gen}, nil
}

func (c Conn) get() (*tcb, error) {
	if c.s == nil {
		return nil, ErrClosed
	}
	x := &c.s.tcp.c[c.idx]
	if x.gen != c.gen || !x.inUse || !x.owned {
		return nil, ErrClosed
	}
	return x, nil
}

// State is the connection's TCP state (StateClosed for a stale handle).
func (c Conn) State() State {
	x, err := c.get()
	if err != nil {
		return StateClosed
	}
	return x.state
}

// LocalPort, RemoteAddr and RemotePort name the connection.
func (c Conn) LocalPort() uint16 {
	x, _ := c.get()
	if x == nil {
		return 0
	}
	return x.lport
}

// RemoteAddr is the peer's address.
func (c Conn) RemoteAddr() [4]byte {
	x, _ := c.get()
	if x == nil {
		return [4]byte{}
	}
	return x.raddr
}

// RemotePort is the peer's port.
func (c Conn) RemotePort() uint16 {
	x, _ := c.get()
	if x == nil {
		return 0
	}
	return x.rport
}

// Err is why the connection closed (nil while it is open or after an
// orderly close).
func (c Conn) Err() error {
	x, err := c.get()
	if err != nil {
		return err
	}
	if x.err == ErrClosed {
		return nil
	}
	return x.err
}

// Read copies received bytes into p. It returns io.EOF after the peer's
// FIN once everything before it was read, the connection's error if it
// failed, and ErrWouldBlock when nothing is there yet.
func (c Conn) Read(p []byte) (int, error) {
	x, err := c.get()
	if err != nil {
		return 0, err
	}
	if x.rcv.n > 0 && len(p) > 0 {
		n := x.rcv.read(p)
		t := &c.s.tcp
		// Tell the peer when the window opened enough (a window update).
		step := min(x.mss, len(x.rcv.buf)/2)
		if x.state.synchronized() && x.rcvNxt.add(x.rcv.free()).diff(x.rcvAdv) >= max(step, 1) {
			x.ackNow = true
			t.markDirty(c.idx)
		}
		return n, nil
	}
	if len(p) == 0 && x.rcv.n > 0 {
		return 0, nil
	}
	switch {
	case x.finRcvd || x.readShut:
		return 0, io.EOF
	case x.state == StateClosed:
		if x.err == ErrClosed || x.err == nil {
			return 0, io.EOF
		}
		return 0, x.err
	}
	return 0, ErrWouldBlock
}

// Write queues bytes of p for sending and returns how many it took (fewer
// when the send buffer is full: then ErrWouldBlock if it took none).
func (c Conn) Write(p []byte) (int, error) {
	x, err := c.get()
	if err != nil {
		return 0, err
	}
	switch {
	case x.state == StateClosed:
		if x.err != nil && x.err != ErrClosed {
			return 0, x.err
		}
		return 0, ErrNotConnected
	case x.finQueued:
		return 0, ErrShutdown
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := x.snd.write(p)
	if n == 0 {
		return 0, ErrWouldBlock
	}
	c.s.tcp.markDirty(c.idx)
	return n, nil
}

// Buffered reports the bytes waiting to be read and the bytes queued for
// sending and not yet acknowledged.
func (c Conn) Buffered() (recv, send int) {
	x, err := c.get()
	if err != nil {
		return 0, 0
	}
	return x.rcv.n, x.snd.n
}

// Ready reports the connection's readiness.
func (c Conn) Ready() Events {
	x, err := c.get()
	if err != nil {
		return EventError
	}
	var ev Events
	if x.rcv.n > 0 || x.finRcvd || x.readShut || x.state == StateClosed {
		ev |= EventReadable
	}
	if (x.state == StateEstablished || x.state == StateCloseWait) && !x.finQueued && x.snd.free() > 0 {
		ev |= EventWritable
	}
	if x.finRcvd || x.state == StateClosed {
		ev |= EventHangup
	}
	if x.state == StateClosed && x.err != nil && x.err != ErrClosed {
		ev |= EventError | EventWritable
	}
	return ev
}

// How says which side Shutdown closes.
type How uint8

// The sides.
const (
	ShutRead How = 1 << iota
	ShutWrite
	ShutBoth = ShutRead | ShutWrite
)

// Shutdown closes reading (received bytes are dropped from now on),
// writing (a FIN follows the queued bytes) or both; the handle stays
// valid until Close.
func (c Conn) Shutdown(how How) error {
	x, err := c.get()
	if err != nil {
		return err
	}
	t := &c.s.tcp
	if how&ShutRead != 0 {
		x.readShut = true
		x.rcv.discard(x.rcv.n)
		x.asm.clear()
	}
	if how&ShutWrite != 0 && !x.finQueued {
		switch x.state {
		case StateSynSent:
			t.closeConn(c.idx, ErrClosed)
			return nil
		case StateEstablished:
			x.state = StateFinWait1
		case StateCloseWait:
			x.state = StateLastAck
		case StateSynReceived:
		default:
			return nil
		}
		x.finQueued = true
		t.markDirty(c.idx)
	}
	return nil
}

// Close shuts the connection down and releases the handle. Queued bytes
// are still sent, then a FIN; the connection finishes closing on its own
// (FIN-WAIT, TIME-WAIT) without the application. If received bytes were
// left unread it resets the connection instead (RFC 1122 4.2.2.13).
func (c Conn) Close() error {
	x, err := c.get()
	if err != nil {
		return err
	}
	t := &c.s.tcp
	if x.rcv.n > 0 && x.state.synchronized() {
		x.owned = false
		t.abort(c.idx, ErrAborted)
		return nil
	}
	if err := c.Shutdown(ShutWrite); err != nil {
		return err
	}
	x.owned = false
	switch x.state {
	case StateClosed:
		t.release(c.idx)
	case StateFinWait2:
		t.arm(&x.twAt, c.s.now+c.s.cfg.FinTimeout)
	}
	return nil
}

// Abort resets the connection and releases the handle.
func (c Conn) Abort() error {
	x, err := c.get()
	if err != nil {
		return err
	}
	x.owned = false
	t := &c.s.tcp
	if x.state == StateClosed {
		t.release(c.idx)
		return nil
	}
	t.abort(c.idx, ErrAborted)
	return nil
}

// SetKeepAlive switches keep-alive probes on or off.
func (c Conn) SetKeepAlive(on bool) error {
	x, err := c.get()
	if err != nil {
		return err
	}
	x.keepAlive = on
	x.kaProbes = 0
	if on && x.state.synchronized() {
		c.s.tcp.arm(&x.kaAt, c.s.now+c.s.cfg.KeepAliveIdle)
	} else {
		x.kaAt = 0
	}
	return nil
}

// ConnInfo is a connection's TCP state, for tests and reports.
type ConnInfo struct {
	State            State
	MSS              int
	SendWindow       int // the peer's window, scaled
	SendShift        uint8
	RecvShift        uint8
	Cwnd, Ssthresh   int
	SRTT, RTTVar     int64 // nanoseconds
	RTO              int64
	InFlight         int
	OutOfOrderRanges int
}

// Info returns the connection's TCP state.
func (c Conn) Info() ConnInfo {
	x, err := c.get()
	if err != nil {
		return ConnInfo{}
	}
	return ConnInfo{
		State: x.state, MSS: x.mss, SendWindow: x.sndWnd, SendShift: x.sndShift, RecvShift: x.rcvShift,
		Cwnd: x.cwnd, Ssthresh: x.ssthresh, SRTT: int64(x.srtt), RTTVar: int64(x.rttvar), RTO: int64(x.rto),
		InFlight: x.flight(), OutOfOrderRanges: x.asm.n,
	}
}

// Conns counts the TCP connection slots in use (TIME-WAIT and
// connections closing on their own included).
func (s *Stack) Conns() int { return len(s.tcp.c) - len(s.tcp.free) }
