package stack

import (
	"encoding/binary"
	"time"
)

const udpHeaderLen = 8

// udpARPWait is how many ARP retry intervals a datagram waits for its
// next hop before it is dropped.
const udpARPWait = 3

// A dgram is one queued datagram's metadata; its bytes are in the queue's
// arena.
type dgram struct {
	addr [4]byte
	port uint16 // UDP: the peer's port; ICMP: the echo identifier
	seq  uint16 // ICMP: the echo sequence number
	n    int
	at   time.Duration
}

// A dgramQueue is a fixed ring of datagrams of at most size bytes each.
type dgramQueue struct {
	d          []dgram
	arena      []byte
	size       int
	head, n    int
	overflowed uint64
}

func newDgramQueue(slots, size int) dgramQueue {
	return dgramQueue{d: make([]dgram, slots), arena: make([]byte, slots*size), size: size}
}

func (q *dgramQueue) cap() int { return len(q.d) }

// put queues a datagram, dropping it (and counting) if the queue is full
// or it is too long.
func (q *dgramQueue) put(addr [4]byte, port, seq uint16, b []byte, now time.Duration) bool {
	if q.n == len(q.d) || len(b) > q.size {
		q.overflowed++
		return false
	}
	i := (q.head + q.n) % len(q.d)
	q.d[i] = dgram{addr: addr, port: port, seq: seq, n: len(b), at: now}
	copy(q.arena[i*q.size:], b)
	q.n++
	return true
}

// peek returns the oldest datagram and its bytes.
func (q *dgramQueue) peek() (dgram, []byte, bool) {
	if q.n == 0 {
		return dgram{}, nil, false
	}
	d := q.d[q.head]
	return d, q.arena[q.head*q.size : q.head*q.size+d.n], true
}

func (q *dgramQueue) pop() {
	q.head = (q.head + 1) % len(q.d)
	q.n--
}

// take pops the oldest datagram, copying up to len(p) of its bytes.
func (q *dgramQueue) take(p []byte) (dgram, int, bool) {
	d, b, ok := q.peek()
	if !ok {
		return dgram{}, 0, false
	}
	n := copy(p, b)
	q.pop()
	return d, n, true
}

type udpSocket struct {
	gen    uint32
	port   uint16 // 0: free
	rx, tx dgramQueue
}

// A UDPConn is a bound UDP socket. It is a handle: its methods fail with
// ErrClosed after Close.
type UDPConn struct {
	s   *Stack
	idx int32
	gen uint32
}

// UDPQueue is how many datagrams a UDP socket queues each way.
const UDPQueue = 32

// BindUDP opens a UDP socket on port (0 picks an ephemeral port).
func (s *Stack) BindUDP(port uint16) (UDPConn, error) {
	free := -1
	for i := range s.udp {
		u := &s.udp[i]
		if u.port == 0 {
			if free < 0 {
				free = i
			}
		} else if u.port == port {
			return UDPConn{}, ErrAddrInUse
		}
	}
	if free < 0 {
		return UDPConn{}, ErrTooMany
	}
	if port == 0 {
		port = s.ephemeralPort(func(p uint16) bool {
			for i := range s.udp {
				if s.udp[i].port == p {
					return true
				}
			}
			return false
		})
		if port == 0 {
			return UDPConn{}, ErrAddrInUse
		}
	}
	u := &s.udp[free]
	if u.rx.cap() == 0 {
		size := s.cfg.MTU - ipv4HeaderLen - udpHeaderLen
		u.rx, u.tx = newDgramQueue(UDPQueue, size), newDgramQueue(UDPQueue, size)
	}
	u.rx.head, u.rx.n, u.tx.head, u.tx.n = 0, 0, 0, 0
	u.port = port
	u.gen++
	return UDPConn{s, int32(free), u.gen}, nil
}

func (c UDPConn) sock() (*udpSocket, error) {
	if c.s == nil {
		return nil, ErrClosed
	}
	u := &c.s.udp[c.idx]
	if u.gen != c.gen || u.port == 0 {
		return nil, ErrClosed
	}
	return u, nil
}

// LocalPort is the port the socket is bound to.
func (c UDPConn) LocalPort() uint16 {
	u, err := c.sock()
	if err != nil {
		return 0
	}
	return u.port
}

// SendTo queues a datagram to addr:port; the next poll sends it (once the
// next hop's address is resolved). It returns ErrWouldBlock when the
// socket's queue is full and ErrMessageSize for a datagram over
// MTU-28 bytes.
func (c UDPConn) SendTo(p []byte, addr [4]byte, port uint16) error {
	u, err := c.sock()
	if err != nil {
		return err
	}
	if len(p) > u.tx.size {
		return ErrMessageSize
	}
	if port == 0 {
		return ErrInvalid
	}
	if !u.tx.put(addr, port, 0, p, c.s.now) {
		u.tx.overflowed--
		return ErrWouldBlock
	}
	c.s.udpPending = true
	return nil
}

// RecvFrom takes the oldest datagram received, copying up to len(p) bytes
// of it (the rest is discarded); n is its full length. ErrWouldBlock: none.
func (c UDPConn) RecvFrom(p []byte) (n int, addr [4]byte, port uint16, err error) {
	u, err := c.sock()
	if err != nil {
		return 0, addr, 0, err
	}
	d, _, ok := u.rx.take(p)
	if !ok {
		return 0, addr, 0, ErrWouldBlock
	}
	return d.n, d.addr, d.port, nil
}

// Ready reports the socket's readiness.
func (c UDPConn) Ready() Events {
	u, err := c.sock()
	if err != nil {
		return EventError
	}
	var ev Events
	if u.rx.n > 0 {
		ev |= EventReadable
	}
	if u.tx.n < u.tx.cap() {
		ev |= EventWritable
	}
	return ev
}

// Close releases the socket; queued datagrams are dropped.
func (c UDPConn) Close() error {
	u, err := c.sock()
	if err != nil {
		return err
	}
	u.port = 0
	u.gen++
	return nil
}

func (s *Stack) handleUDP(h *ipv4Header, b []byte, now time.Duration) {
	if len(b) < udpHeaderLen {
		s.stats.RxDropped++
		return
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n < udpHeaderLen || n > len(b) {
		s.stats.RxDropped++
		return
	}
	b = b[:n]
	if binary.BigEndian.Uint16(b[6:]) != 0 && fold(sum(pseudoSum(h.src, h.dst, protoUDP, n), b)) != 0 {
		s.stats.RxDropped++
		s.stats.RxChecksumErrors++
		return
	}
	dport := binary.BigEndian.Uint16(b[2:])
	for i := range s.udp {
		u := &s.udp[i]
		if u.port == dport && dport != 0 {
			if u.rx.put(h.src, binary.BigEndian.Uint16(b[0:]), 0, b[udpHeaderLen:], now) {
				s.stats.UDPReceived++
			} else {
				s.stats.RxDropped++
			}
			return
		}
	}
	s.stats.RxNotForUs++
}

// flushUDP sends the queued datagrams whose next hop is resolved; the
// others wait (the ARP request is out), for at most udpARPWait ARP
// retries: then the datagram is dropped (as Linux drops what waited for a
// neighbour that never answered), so that it does not hold up the
// socket's later datagrams (a DHCP client's broadcasts behind a unicast
// to a server that went away).
func (s *Stack) flushUDP(now time.Duration) {
	s.udpPending = false
	for i := range s.udp {
		u := &s.udp[i]
		for u.port != 0 && u.tx.n > 0 {
			d, b, _ := u.tx.peek()
			mac, ok := s.resolve(d.addr, now)
			if !ok {
				if now-d.at >= udpARPWait*s.cfg.ARPRetry {
					u.tx.pop()
					s.stats.TxDropped++
					continue
				}
				s.udpPending = true
				break
			}
			f := s.txFrame()
			if f == nil {
				s.udpPending = true
				return
			}
			putEther(f, mac, s.mac, etherTypeIPv4)
			s.putIPv4(f[etherHeaderLen:], d.addr, protoUDP, udpHeaderLen+len(b))
			h := f[etherHeaderLen+ipv4HeaderLen:]
			binary.BigEndian.PutUint16(h[0:], u.port)
			binary.BigEndian.PutUint16(h[2:], d.port)
			binary.BigEndian.PutUint16(h[4:], uint16(udpHeaderLen+len(b)))
			h[6], h[7] = 0, 0
			copy(h[udpHeaderLen:], b)
			c := fold(sum(pseudoSum(s.cfg.Addr, d.addr, protoUDP, udpHeaderLen+len(b)), h[:udpHeaderLen+len(b)]))
			if c == 0 {
				c = 0xffff
			}
			binary.BigEndian.PutUint16(h[6:], c)
			s.txCommit(f, etherHeaderLen+ipv4HeaderLen+udpHeaderLen+len(b))
			u.tx.pop()
			s.stats.UDPSent++
		}
	}
}
