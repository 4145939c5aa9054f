package netstack

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/dhcp4"
	"github.com/rlgo/redleaf/idl"
)

// The stack's address by DHCP (Config.DHCP, rl.netaddr=dhcp): the stack
// starts without an address and dhcp4's client, run by net/stack's
// DHCP on UDP port 68, gets one. The domain's polling thread drives the
// client after every poll of the stack, so retransmissions, renewal at
// T1, rebinding at T2 and expiry happen on that thread, with no thread or
// timer of their own. Until a lease comes, Dial and Ping fail with
// ENETDOWN; when it ends, the address goes and open connections fail with
// ENETDOWN; listeners stay and work again under the next lease.

// startDHCP makes the client if the configuration asks for one (under no
// lock: New runs before the polling thread starts).
func (s *Service) startDHCP() error {
	if !s.cfg.DHCP {
		return nil
	}
	c := s.cfg.DHCPClient
	if c.Seed == 0 {
		c.Seed = s.cfg.Stack.Seed*0x9e3779b97f4a7c15 + 1
	}
	d, err := s.st.StartDHCP(c)
	if err != nil {
		return errnoOf("netstack: DHCP", err)
	}
	s.dhcp = d
	return nil
}

// pollDHCP runs the client after a poll of the stack, and logs its
// events (under mu).
func (s *Service) pollDHCP(now time.Duration) {
	if s.dhcp == nil {
		return
	}
	switch s.dhcp.Poll(now) {
	case dhcp4.EventBound:
		l, _ := s.dhcp.Lease()
		s.ctx.Logf("DHCP: %s/%d via %s from server %s, lease %v", ip4(l.Addr), l.PrefixLen, ip4(l.Router), ip4(l.Server), l.Time)
	case dhcp4.EventRenewed:
		l, _ := s.dhcp.Lease()
		s.ctx.Logf("DHCP: %s renewed for %v", ip4(l.Addr), l.Time)
	case dhcp4.EventLost:
		s.ctx.Logf("DHCP: the lease ended (expired, or refused by a server): no address; asking again")
	}
}

// dhcpInfo fills Info's DHCP fields (under mu).
func (s *Service) dhcpInfo(info *idl.InetInfo) {
	if s.dhcp == nil {
		return
	}
	info.DHCPState = uint8(s.dhcp.State()) + idl.DHCPInit
	if l, ok := s.dhcp.Lease(); ok {
		info.DHCPServer = l.Server
		info.LeaseNs = int64(l.Remaining(s.now()))
		if l.Infinite {
			info.LeaseNs = -1
		}
	}
	st := s.dhcp.Stats()
	info.DHCPSent, info.DHCPReceived, info.DHCPLeases, info.DHCPLosses = st.Sent, st.Received, st.Leases, st.Losses
}

func ip4(a [4]byte) string { return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]) }
