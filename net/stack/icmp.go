package stack

import (
	"encoding/binary"
	"time"
)

const (
	icmpEchoReply   = 0
	icmpEchoRequest = 8
)

// handleICMP answers echo requests and queues echo replies for Ping.
func (s *Stack) handleICMP(eh *etherHeader, h *ipv4Header, b []byte, now time.Duration) {
	if len(b) < 8 || Checksum(b) != 0 {
		s.stats.RxDropped++
		s.stats.RxChecksumErrors++
		return
	}
	switch b[0] {
	case icmpEchoRequest:
		if ipv4HeaderLen+len(b) > s.cfg.MTU {
			return
		}
		f := s.txFrame()
		if f == nil {
			return
		}
		mac, ok := s.resolveCached(h.src)
		if !ok {
			mac = eh.src // answer where it came from
		}
		putEther(f, mac, s.mac, etherTypeIPv4)
		s.putIPv4(f[etherHeaderLen:], h.src, protoICMP, len(b))
		icmp := f[etherHeaderLen+ipv4HeaderLen:]
		copy(icmp, b)
		icmp[0], icmp[2], icmp[3] = icmpEchoReply, 0, 0
		binary.BigEndian.PutUint16(icmp[2:], Checksum(icmp[:len(b)]))
		s.txCommit(f, etherHeaderLen+ipv4HeaderLen+len(b))
		s.stats.EchoReplies++
	case icmpEchoReply:
		if s.pings.cap() == 0 {
			return
		}
		s.pings.put(h.src, binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), b[8:], now)
	}
}

// resolveCached returns the MAC of the next hop to ip if the cache has it,
// without asking.
func (s *Stack) resolveCached(ip [4]byte) ([6]byte, bool) {
	hop := ip
	if !s.onLink(ip) {
		hop = s.cfg.Gateway
	}
	if e := s.arp.find(hop); e != nil && e.resolved {
		return e.mac, true
	}
	return [6]byte{}, false
}

// Ping sends an ICMP echo request to dst with the given identifier,
// sequence number and payload (at most MTU-28 bytes) in the next poll's
// batch. It returns ErrWouldBlock while dst's link address is being
// resolved (poll, then try again).
func (s *Stack) Ping(dst [4]byte, id, seq uint16, payload []byte) error {
	if ipv4HeaderLen+8+len(payload) > s.cfg.MTU {
		return ErrMessageSize
	}
	if !s.HasAddr() {
		return ErrNoAddr
	}
	mac, ok := s.resolve(dst, s.now)
	if !ok {
		return ErrWouldBlock
	}
	f := s.txFrame()
	if f == nil {
		return ErrWouldBlock
	}
	putEther(f, mac, s.mac, etherTypeIPv4)
	s.putIPv4(f[etherHeaderLen:], dst, protoICMP, 8+len(payload))
	icmp := f[etherHeaderLen+ipv4HeaderLen:]
	icmp[0], icmp[1], icmp[2], icmp[3] = icmpEchoRequest, 0, 0, 0
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	copy(icmp[8:], payload)
	binary.BigEndian.PutUint16(icmp[2:], Checksum(icmp[:8+len(payload)]))
	s.txCommit(f, etherHeaderLen+ipv4HeaderLen+8+len(payload))
	return nil
}

// An EchoReply is an ICMP echo reply received for Ping.
type EchoReply struct {
	From     [4]byte
	ID, Seq  uint16
	Len      int           // payload bytes
	Received time.Duration // the poll's time when it arrived
}

// EchoReply returns the oldest echo reply not yet taken, copying up to
// len(payload) bytes of its payload; ok is false when there is none.
// Replies are kept only if Config.PingQueue is not zero.
func (s *Stack) EchoReply(payload []byte) (r EchoReply, ok bool) {
	d, n, ok := s.pings.take(payload)
	if !ok {
		return EchoReply{}, false
	}
	return EchoReply{From: d.addr, ID: d.port, Seq: d.seq, Len: n, Received: d.at}, true
}
