package stack

import (
	"encoding/binary"
	"fmt"
)

// The stack's address can change while it runs: a DHCP client (package
// dhcp4, driven by the stack's owner) starts it without one
// (Config.Unaddressed), sets the leased one with SetAddr, and drops it with
// ClearAddr when the lease ends.
//
// Without an address the stack sends from 0.0.0.0 and takes in only UDP
// (broadcast, or unicast to its MAC for any IPv4 address: a DHCP server
// may send an OFFER to the address it offers), which is what a DHCP client
// needs (RFC 2131, section 4.1); it neither answers nor asks ARP, and Dial
// and Ping fail with ErrNoAddr.

// HasAddr reports whether the stack has an address.
func (s *Stack) HasAddr() bool { return s.cfg.Addr != ([4]byte{}) }

// SetAddr gives the stack an address, prefix length and gateway (zero:
// none). If the address changes, the TCP connections of the old one are
// aborted with ErrAddrLost and the ARP cache is emptied (the neighbours
// are another network's); listeners and UDP sockets stay, on the new
// address.
func (s *Stack) SetAddr(addr [4]byte, prefixLen int, gateway [4]byte) error {
	if addr == ([4]byte{}) || addr == broadcastIP || addr[0] >= 224 {
		return fmt.Errorf("stack: SetAddr: %d.%d.%d.%d is not a unicast address", addr[0], addr[1], addr[2], addr[3])
	}
	if prefixLen < 1 || prefixLen > 32 {
		return fmt.Errorf("stack: SetAddr: prefix length %d is not in 1..32", prefixLen)
	}
	if addr != s.cfg.Addr || prefixLen != s.cfg.PrefixLen {
		s.dropConns()
	}
	s.cfg.Addr, s.cfg.PrefixLen, s.cfg.Gateway = addr, prefixLen, gateway
	s.setMask()
	return nil
}

// ClearAddr drops the stack's address and gateway: its TCP connections
// are aborted with ErrAddrLost (no RST: the address is no longer ours to
// send from), the ARP cache is emptied, and the stack is back to the
// unaddressed mode above.
func (s *Stack) ClearAddr() {
	s.dropConns()
	s.cfg.Addr, s.cfg.Gateway = [4]byte{}, [4]byte{}
	s.setMask()
}

// setMask derives the mask and subnet broadcast from cfg.
func (s *Stack) setMask() {
	s.mask = ^uint32(0) << (32 - s.cfg.PrefixLen)
	binary.BigEndian.PutUint32(s.subnetBroadcast[:], binary.BigEndian.Uint32(s.cfg.Addr[:])|^s.mask)
	if s.cfg.PrefixLen >= 31 || !s.HasAddr() {
		s.subnetBroadcast = broadcastIP
	}
}

// dropConns closes every TCP connection with ErrAddrLost and empties the
// ARP cache.
func (s *Stack) dropConns() {
	t := &s.tcp
	for i := range t.hiWater {
		if c := &t.c[i]; c.inUse && c.state != StateClosed {
			t.closeConn(int32(i), ErrAddrLost)
			s.stats.AddrLostConns++
		}
	}
	clear(s.arp.e)
}
