package stack

import (
	"encoding/binary"
	"time"
)

// State is a TCP connection's state (RFC 9293 section 3.3.2).
type State uint8

// The states.
const (
	StateClosed State = iota
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
)

var stateNames = [...]string{"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(?)"
}

// synchronized reports whether the handshake is done (RFC 9293's
// "synchronized states").
func (s State) synchronized() bool { return s >= StateEstablished }

// A tcb is a connection's transmission control block. Sequence numbers:
// the send ring holds the bytes from una on; dataEnd() is the sequence
// number after the last of them, and the FIN, once queued, takes dataEnd().
type tcb struct {
	gen   uint32
	inUse bool
	state State

	raddr        [4]byte
	lport, rport uint16
	next         int32 // hash chain
	listener     int32 // the listener of a passive connection not yet accepted, or -1
	queued       bool  // in its listener's accept queue
	owned        bool  // the application holds a handle
	err          error // why it closed, for the application

	// Send side.
	iss, una, nxt, sndMax seqnum
	sndWnd                int // the peer's window, scaled
	sndWl1, sndWl2        seqnum
	sndShift, rcvShift    uint8
	wsOK                  bool // both sides sent the window scale option
	mss                   int  // send MSS: the peer's, bounded by our MTU
	cwnd, ssthresh, caAcc int
	dupAcks               int
	recover               seqnum
	inRecovery            bool
	snd                   ring
	finQueued             bool // the application shut down writing: FIN follows the data
	finSent               bool // the FIN went out (at finSeq) at least once
	finSeq                seqnum
	synPending            bool // (re)send the SYN or SYN-ACK
	retransmitFirst       bool // send the segment at una again (fast retransmit)
	forceOne              bool // window probe: send one byte past a zero window
	ackNow                bool
	waitARP               bool // output waits for the next hop's address
	dirty                 bool // in the output list
	readShut              bool // the application shut down reading

	// Receive side.
	irs, rcvNxt seqnum
	rcvAdv      seqnum // right edge of the window last advertised
	rcv         ring   // in-order bytes not yet read; out-of-order ones beyond
	asm         assembler
	finRcvd     bool   // the peer's FIN was taken in order
	finAt       seqnum // the peer's FIN seen out of order, valid if finSeen
	finSeen     bool

	// Timers (0: off) and RTT estimation (RFC 6298).
	rtoAt, kaAt, twAt time.Duration
	rto, srtt, rttvar time.Duration
	rttSeq            seqnum
	rttAt             time.Duration
	rttTiming         bool
	retries           int
	keepAlive         bool
	kaProbes          int
}

func (c *tcb) dataEnd() seqnum { return c.una.add(c.snd.n) }

// finAcked reports whether the peer acknowledged our FIN.
func (c *tcb) finAcked() bool { return c.finSent && c.una == c.finSeq.add(1) }

// flight is the bytes (and SYN/FIN) sent and not acknowledged.
func (c *tcb) flight() int { return c.sndMax.diff(c.una) }

// A listener is a passive socket.
type listener struct {
	gen     uint32
	port    uint16 // 0: free
	backlog int
	pending int     // SYN-RECEIVED connections
	queue   []int32 // established, not yet accepted (ring)
	qHead   int
	qLen    int
}

// A tcpTable holds the connections: slots, a hash of the 4-tuples, the
// listeners, the output list and the timers' earliest deadline.
type tcpTable struct {
	s         *Stack
	c         []tcb
	free      []int32
	buckets   []int32
	mask      uint32
	listeners []listener
	dirty     []int32
	timerMin  time.Duration // no timer is due before; 0: none armed
	hiWater   int           // slots below it have been used
}

func (t *tcpTable) init(s *Stack, n int) {
	t.s = s
	t.c = make([]tcb, n)
	t.free = make([]int32, n)
	for i := range n {
		t.free[i] = int32(n - 1 - i)
	}
	size := 1
	for size < 2*n {
		size <<= 1
	}
	t.buckets = make([]int32, size)
	for i := range t.buckets {
		t.buckets[i] = -1
	}
	t.mask = uint32(size - 1)
	t.dirty = make([]int32, 0, n)
}

func (t *tcpTable) hash(raddr [4]byte, rport, lport uint16) uint32 {
	h := binary.BigEndian.Uint32(raddr[:])*0x9e3779b1 ^ (uint32(rport)<<16|uint32(lport))*0x85ebca6b
	h ^= h >> 15
	return h & t.mask
}

func (t *tcpTable) lookup(raddr [4]byte, rport, lport uint16) int32 {
	for i := t.buckets[t.hash(raddr, rport, lport)]; i >= 0; i = t.c[i].next {
		c := &t.c[i]
		if c.rport == rport && c.lport == lport && c.raddr == raddr {
			return i
		}
	}
	return -1
}

func (t *tcpTable) insert(i int32) {
	c := &t.c[i]
	b := t.hash(c.raddr, c.rport, c.lport)
	c.next = t.buckets[b]
	t.buckets[b] = i
}

func (t *tcpTable) unhash(i int32) {
	c := &t.c[i]
	p := &t.buckets[t.hash(c.raddr, c.rport, c.lport)]
	for *p >= 0 {
		if *p == i {
			*p = c.next
			c.next = -1
			return
		}
		p = &t.c[*p].next
	}
}

// alloc takes a free slot, or recycles the oldest orphaned TIME-WAIT
// connection when there is none (its 2*MSL wait is cut short: the
// sequence numbers of a new incarnation differ by the ISN clock anyway).
func (t *tcpTable) alloc() int32 {
	if len(t.free) == 0 {
		victim := int32(-1)
		for i := range t.c {
			c := &t.c[i]
			if c.inUse && c.state == StateTimeWait && !c.owned && (victim < 0 || c.twAt < t.c[victim].twAt) {
				victim = int32(i)
			}
		}
		if victim < 0 {
			return -1
		}
		t.release(victim)
	}
	i := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	c := &t.c[i]
	gen := c.gen
	snd, rcv := c.snd, c.rcv
	*c = tcb{gen: gen, inUse: true, next: -1, listener: -1, snd: snd, rcv: rcv}
	c.snd.reset(t.s.cfg.SendBuf)
	c.rcv.reset(t.s.cfg.RecvBuf)
	c.rto = t.s.cfg.InitialRTO
	t.hiWater = max(t.hiWater, int(i)+1)
	return i
}

// release frees a slot: its handles go stale.
func (t *tcpTable) release(i int32) {
	c := &t.c[i]
	if !c.inUse {
		return
	}
	if c.state != StateClosed {
		t.unhash(i)
	}
	c.inUse = false
	c.state = StateClosed
	c.gen++
	t.free = append(t.free, i)
}

// rcvShiftFor is the window scale that lets a window of size bytes be
// advertised in 16 bits.
func rcvShiftFor(size int) uint8 {
	var s uint8
	for size>>s > 0xffff && s < maxWScale {
		s++
	}
	return s
}

// markDirty puts a connection on the output list.
func (t *tcpTable) markDirty(i int32) {
	c := &t.c[i]
	if !c.dirty {
		c.dirty = true
		t.dirty = append(t.dirty, i)
	}
}

// arm sets a timer field to at and keeps the table's earliest deadline.
func (t *tcpTable) arm(field *time.Duration, at time.Duration) {
	if at <= 0 {
		at = 1
	}
	*field = at
	if t.timerMin == 0 || at < t.timerMin {
		t.timerMin = at
	}
}

// closeConn moves a connection to CLOSED with err for the application,
// and frees its slot if nobody will look at it again.
func (t *tcpTable) closeConn(i int32, err error) {
	c := &t.c[i]
	if c.state == StateClosed {
		return
	}
	if c.listener >= 0 && !c.queued && c.state == StateSynReceived {
		t.listeners[c.listener].pending--
		c.listener = -1
	}
	t.unhash(i)
	c.state = StateClosed
	if c.err == nil {
		c.err = err
	}
	c.rtoAt, c.kaAt, c.twAt = 0, 0, 0
	if !c.owned && !c.queued {
		t.release(i)
	}
}

// abort sends a RST for a synchronized connection and closes it.
func (t *tcpTable) abort(i int32, err error) {
	c := &t.c[i]
	if c.state >= StateSynReceived && c.state != StateTimeWait {
		t.emit(c, flagRST|flagACK, c.sndMax, 0, 0)
		t.s.stats.TCPResetsSent++
	}
	t.closeConn(i, err)
}

// enterTimeWait starts the 2*MSL wait.
func (t *tcpTable) enterTimeWait(c *tcb, now time.Duration) {
	c.state = StateTimeWait
	c.rtoAt, c.kaAt = 0, 0
	t.arm(&c.twAt, now+2*t.s.cfg.MSL)
}

// wakeAll re-queues connections whose output waited for ARP.
func (t *tcpTable) wakeAll() {
	for i := range t.hiWater {
		if c := &t.c[i]; c.inUse && c.waitARP {
			c.waitARP = false
			t.markDirty(int32(i))
		}
	}
}

// sampleRTT updates the estimator with one measurement (RFC 6298 2.2, 2.3).
func (t *tcpTable) sampleRTT(c *tcb, r time.Duration) {
	if c.srtt == 0 {
		c.srtt = r
		c.rttvar = r / 2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	rto := c.srtt + max(time.Millisecond, 4*c.rttvar)
	c.rto = min(max(rto, t.s.cfg.MinRTO), t.s.cfg.MaxRTO)
}
