// Package dhcp4test puts the project's own DHCP server (netboot/dhcp, the
// one rlbuild netboot serve runs) on an in-memory Ethernet segment for
// tests of DHCP clients: Server answers DHCP payloads (Reply) or whole
// Ethernet frames (Frame: ARP for its address and UDP to port 67), on a
// clock the test sets. It is test-support code, not a domain.
package dhcp4test

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/rlgo/redleaf/netboot/dhcp"
)

// anyone serves every client an address and no boot file.
type anyone struct{}

func (anyone) Boot(*dhcp.Client) (dhcp.Boot, bool)             { return dhcp.Boot{}, true }
func (anyone) Reservation(net.HardwareAddr) (netip.Addr, bool) { return netip.Addr{}, false }
func (anyone) ReservedFor(netip.Addr) (net.HardwareAddr, bool) { return nil, false }

// A Server is a netboot/dhcp server in full mode on one subnet.
type Server struct {
	MAC [6]byte // its Ethernet address, for Frame

	mu  sync.Mutex
	srv *dhcp.Server
	now time.Time
	// Drop, if set, is asked about each reply: true loses it (the
	// server still recorded what it did).
	drop func(t dhcpv4.MessageType) bool
	// Counts of the replies sent, by type.
	sent map[dhcpv4.MessageType]int
}

// Epoch is the server's clock at Advance(0).
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// New makes a server at addr on prefix, leasing Start..End of it for
// lease, with router as the gateway it hands out (invalid: none).
func New(addr netip.Addr, prefix netip.Prefix, start, end, router netip.Addr, lease time.Duration) *Server {
	s := &Server{MAC: [6]byte{0x02, 0xd4, 0xc9, 0, 0, 1}, now: Epoch, sent: map[dhcpv4.MessageType]int{}}
	s.srv = &dhcp.Server{
		Mode:      dhcp.Full,
		ServerIP:  addr,
		Subnets:   []dhcp.Subnet{{Prefix: prefix, Start: start, End: end, Router: router}},
		LeaseTime: lease,
		Policy:    anyone{},
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:       s.clock,
	}
	if err := s.srv.Check(); err != nil {
		panic(err)
	}
	return s
}

func (s *Server) clock() time.Time { return s.now } // under mu (Handle runs under it)

// SetNow sets the server's clock to Epoch+d.
func (s *Server) SetNow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = Epoch.Add(d)
}

// DropReplies makes the server lose the replies for which f returns true
// (nil: none).
func (s *Server) DropReplies(f func(t dhcpv4.MessageType) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = f
}

// Sent is how many replies of type t the server sent (dropped ones not
// counted).
func (s *Server) Sent(t dhcpv4.MessageType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[t]
}

// Addr is the server's address.
func (s *Server) Addr() [4]byte { return s.srv.ServerIP.As4() }

// Reply answers a DHCP message from a client: the reply's bytes and its
// destination address (broadcast, or the client's), ok false for none.
func (s *Server) Reply(req []byte) (reply []byte, dst [4]byte, ok bool) {
	m, err := dhcpv4.FromBytes(req)
	if err != nil {
		return nil, dst, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, to, _ := s.srv.Handle(m, &net.UDPAddr{IP: net.IPv4bcast, Port: dhcp.ClientPort}, dhcp.ServerPort)
	if resp == nil {
		return nil, dst, false
	}
	if s.drop != nil && s.drop(resp.MessageType()) {
		return nil, dst, false
	}
	s.sent[resp.MessageType()]++
	copy(dst[:], to.IP.To4())
	return resp.ToBytes(), dst, true
}

// Frame answers an Ethernet frame: an ARP request for the server's
// address gets a reply, a UDP datagram to port 67 for a broadcast or the
// server's address gets the DHCP reply (to the client's MAC); anything
// else nil.
func (s *Server) Frame(f []byte) []byte {
	if len(f) < 14 {
		return nil
	}
	me := s.Addr()
	switch binary.BigEndian.Uint16(f[12:]) {
	case 0x0806:
		a := f[14:]
		if len(a) < 28 || binary.BigEndian.Uint16(a[6:]) != 1 || [4]byte(a[24:28]) != me {
			return nil
		}
		out := make([]byte, 60)
		copy(out[0:6], a[8:14])
		copy(out[6:12], s.MAC[:])
		binary.BigEndian.PutUint16(out[12:], 0x0806)
		r := out[14:]
		copy(r[0:6], a[0:6])
		binary.BigEndian.PutUint16(r[6:], 2)
		copy(r[8:14], s.MAC[:])
		copy(r[14:18], me[:])
		copy(r[18:24], a[8:14])
		copy(r[24:28], a[14:18])
		return out
	case 0x0800:
		ip := f[14:]
		if len(ip) < 28 || ip[0] != 0x45 || ip[9] != 17 {
			return nil
		}
		dst := [4]byte(ip[16:20])
		if dst != me && dst != [4]byte{255, 255, 255, 255} {
			return nil
		}
		udp := ip[20:]
		if binary.BigEndian.Uint16(udp[2:]) != dhcp.ServerPort {
			return nil
		}
		n := int(binary.BigEndian.Uint16(udp[4:]))
		if n < 8 || n > len(udp) {
			return nil
		}
		reply, to, ok := s.Reply(udp[8:n])
		if !ok {
			return nil
		}
		m, _ := dhcpv4.FromBytes(reply)
		dmac := [6]byte(f[6:12])
		if to == [4]byte{255, 255, 255, 255} {
			dmac = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		} else if m != nil {
			copy(dmac[:], m.ClientHWAddr)
		}
		return UDPFrame(dmac, s.MAC, me, to, dhcp.ServerPort, dhcp.ClientPort, reply)
	}
	return nil
}

// UDPFrame builds an Ethernet frame of an IPv4 UDP datagram (checksums
// filled in).
func UDPFrame(dmac, smac [6]byte, src, dst [4]byte, sport, dport uint16, payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], dmac[:])
	copy(f[6:12], smac[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(0, ip[:20]))
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	var ph [12]byte
	copy(ph[0:4], src[:])
	copy(ph[4:8], dst[:])
	ph[9] = 17
	binary.BigEndian.PutUint16(ph[10:], uint16(8+len(payload)))
	c := checksum(sumOf(0, ph[:]), u)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return f
}

func sumOf(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func checksum(s uint32, b []byte) uint16 {
	s = sumOf(s, b)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
