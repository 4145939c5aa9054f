package stack

import (
	"encoding/binary"
	"errors"
	"time"
)

const (
	arpLen     = 28
	arpRequest = 1
	arpReply   = 2
)

var errBadARP = errors.New("stack: not an Ethernet/IPv4 ARP packet (RFC 826): wrong hardware or protocol type or address lengths, or shorter than 28 bytes")

// An arpPacket is a parsed Ethernet/IPv4 ARP packet.
type arpPacket struct {
	op       uint16
	sha, tha [6]byte
	spa, tpa [4]byte
}

func parseARP(b []byte) (arpPacket, error) {
	if len(b) < arpLen || binary.BigEndian.Uint16(b[0:]) != 1 || binary.BigEndian.Uint16(b[2:]) != etherTypeIPv4 || b[4] != 6 || b[5] != 4 {
		return arpPacket{}, errBadARP
	}
	return arpPacket{
		op:  binary.BigEndian.Uint16(b[6:]),
		sha: [6]byte(b[8:14]), spa: [4]byte(b[14:18]),
		tha: [6]byte(b[18:24]), tpa: [4]byte(b[24:28]),
	}, nil
}

func putARP(b []byte, p arpPacket) {
	binary.BigEndian.PutUint16(b[0:], 1)
	binary.BigEndian.PutUint16(b[2:], etherTypeIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], p.op)
	copy(b[8:14], p.sha[:])
	copy(b[14:18], p.spa[:])
	copy(b[18:24], p.tha[:])
	copy(b[24:28], p.tpa[:])
}

// An arpEntry is one neighbour: resolved (mac valid until expires) or
// being resolved (a request sent at asked, retried every ARPRetry).
type arpEntry struct {
	ip       [4]byte
	mac      [6]byte
	resolved bool
	expires  time.Duration // resolved: when the entry goes stale
	asked    time.Duration // unresolved: when the last request went out
	tries    int
	used     time.Duration // for eviction: the least recently used goes
}

// An arpCache is a fixed table of neighbours.
type arpCache struct {
	e []arpEntry // len = capacity; ip == 0 marks a free entry
}

func (c *arpCache) find(ip [4]byte) *arpEntry {
	for i := range c.e {
		if c.e[i].ip == ip {
			return &c.e[i]
		}
	}
	return nil
}

// slot returns the entry for ip, taking a free one or the least recently
// used one if there is none.
func (c *arpCache) slot(ip [4]byte) *arpEntry {
	if e := c.find(ip); e != nil {
		return e
	}
	victim := &c.e[0]
	for i := range c.e {
		e := &c.e[i]
		if e.ip == ([4]byte{}) {
			victim = e
			break
		}
		if e.used < victim.used {
			victim = e
		}
	}
	*victim = arpEntry{ip: ip}
	return victim
}

// ARPEntry is one entry of the ARP cache, for reports (ifconfig, arp).
type ARPEntry struct {
	IP       [4]byte
	MAC      [6]byte
	Resolved bool
}

// ARPCache appends the cache's entries to dst.
func (s *Stack) ARPCache(dst []ARPEntry) []ARPEntry {
	for _, e := range s.arp.e {
		if e.ip != ([4]byte{}) {
			dst = append(dst, ARPEntry{IP: e.ip, MAC: e.mac, Resolved: e.resolved})
		}
	}
	return dst
}

// handleARP answers requests for our address and learns the sender of
// requests to us and of every reply to a request we made (RFC 826's merge
// rule, limited to neighbours we talk to).
func (s *Stack) handleARP(b []byte, now time.Duration) {
	p, err := parseARP(b)
	if err != nil {
		s.stats.RxDropped++
		return
	}
	if !s.HasAddr() {
		s.stats.RxNotForUs++ // nothing to answer for, nobody asked
		return
	}
	if p.spa == ([4]byte{}) && p.op == arpRequest && p.tpa == s.cfg.Addr {
		// An address probe (RFC 5227): answer, learn nothing.
	} else if e := s.arp.find(p.spa); e != nil || p.tpa == s.cfg.Addr {
		if p.spa != ([4]byte{}) && p.sha != broadcastMAC && p.sha[0]&1 == 0 {
			e := s.arp.slot(p.spa)
			e.mac, e.resolved, e.expires, e.used, e.tries = p.sha, true, now+s.cfg.ARPTimeout, now, 0
			s.arpResolved = true
		}
	}
	if p.op != arpRequest || p.tpa != s.cfg.Addr {
		return
	}
	f := s.txFrame()
	if f == nil {
		return
	}
	putEther(f, p.sha, s.mac, etherTypeARP)
	putARP(f[etherHeaderLen:], arpPacket{op: arpReply, sha: s.mac, spa: s.cfg.Addr, tha: p.sha, tpa: p.spa})
	s.txCommit(f, minFrameLen)
	s.stats.ARPReplies++
}

// resolve returns the MAC of the next hop to ip. If it is not known, it
// sends an ARP request (at most one per ARPRetry per neighbour) and
// reports false: the caller tries again after a later poll.
func (s *Stack) resolve(ip [4]byte, now time.Duration) ([6]byte, bool) {
	if ip == broadcastIP || ip == s.subnetBroadcast {
		return broadcastMAC, true
	}
	if !s.HasAddr() {
		return [6]byte{}, false
	}
	hop := ip
	if !s.onLink(ip) {
		if s.cfg.Gateway == ([4]byte{}) {
			return [6]byte{}, false
		}
		hop = s.cfg.Gateway
	}
	e := s.arp.find(hop)
	if e != nil && e.resolved && now < e.expires {
		e.used = now
		return e.mac, true
	}
	if e == nil {
		e = s.arp.slot(hop)
	}
	e.used = now
	if e.resolved { // stale: ask again, keep using the old answer meanwhile
		if now-e.asked >= s.cfg.ARPRetry {
			e.asked = now
			s.arpAsk(hop, e.mac)
		}
		return e.mac, true
	}
	if e.tries == 0 || now-e.asked >= s.cfg.ARPRetry {
		e.asked = now
		e.tries++
		s.arpAsk(hop, broadcastMAC)
	}
	return [6]byte{}, false
}

// arpAsk sends a request for ip to dst (broadcast, or the old address when
// refreshing).
func (s *Stack) arpAsk(ip [4]byte, dst [6]byte) {
	f := s.txFrame()
	if f == nil {
		return
	}
	putEther(f, dst, s.mac, etherTypeARP)
	putARP(f[etherHeaderLen:], arpPacket{op: arpRequest, sha: s.mac, spa: s.cfg.Addr, tpa: ip})
	s.txCommit(f, minFrameLen)
	s.stats.ARPRequests++
}
