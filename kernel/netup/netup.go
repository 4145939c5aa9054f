// Package netup brings the machine's network up through Linux's own
// stack, so that the domain kernel can talk to the netboot server that
// booted it: it picks the interface (the one whose MAC the server booted,
// else the first with carrier), sets it up, gets an address by DHCP
// (dhcp4's client, the one the network stack domain runs, over
// github.com/insomniacslk/dhcp's nclient4 UDP on a packet socket, so the
// interface needs no address first) and configures address and default
// route with netlink. Report then posts to the server's API.
//
// Every netlink call runs on the goroutine that called Up: the package
// functions of vishvananda/netlink open their socket in the calling
// thread's network namespace, which is what lets a test run Up inside a
// namespace of its own (on a locked thread). The DHCP socket, once
// opened, stays in the namespace it was opened in, whatever thread uses
// it.
package netup

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/dhcp4"
)

// Config configures Up. The zero value brings up the first interface
// with carrier.
type Config struct {
	// MAC selects the interface with this address, if there is one
	// (rl.mac= on the command line: the NIC that netbooted).
	MAC net.HardwareAddr
	// CarrierWait bounds the wait for a link's carrier (default 10 s).
	CarrierWait time.Duration
	// DHCPTimeout is the wait for the first DHCP reply (default 3 s);
	// later waits double up to 16 s, and Up keeps asking until its
	// context ends.
	DHCPTimeout time.Duration
	// Logf reports progress (nil: nothing).
	Logf func(format string, args ...any)
}

// Link is an interface that is up with an IPv4 address.
type Link struct {
	Name string
	MAC  net.HardwareAddr
	// Addr is the interface's address and subnet.
	Addr netip.Prefix
	// Router is the default gateway (invalid if the server sent none).
	Router netip.Addr
	// DHCPServer is the server that gave the address (invalid if the
	// interface already had one).
	DHCPServer netip.Addr
	// Lease is the lease time the server gave.
	Lease time.Duration
}

func (l *Link) String() string {
	s := fmt.Sprintf("%s (%s) %s", l.Name, l.MAC, l.Addr)
	if l.Router.IsValid() {
		s += " via " + l.Router.String()
	}
	if l.DHCPServer.IsValid() {
		s += " from DHCP server " + l.DHCPServer.String()
	}
	return s
}

func (c Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// Up brings the network up: loopback, then the chosen interface with an
// address by DHCP (an interface that already has a global IPv4 address
// keeps it). It returns when the interface is configured, or with the
// last error when ctx ends.
func Up(ctx context.Context, c Config) (*Link, error) {
	if c.CarrierWait <= 0 {
		c.CarrierWait = 10 * time.Second
	}
	if c.DHCPTimeout <= 0 {
		c.DHCPTimeout = 3 * time.Second
	}
	if lo, err := netlink.LinkByName("lo"); err == nil {
		if err := netlink.LinkSetUp(lo); err != nil {
			c.logf("loopback: %v", err)
		}
	}
	link, err := pickLink(ctx, c)
	if err != nil {
		return nil, err
	}
	attrs := link.Attrs()
	l := &Link{Name: attrs.Name, MAC: attrs.HardwareAddr}
	if a, ok := globalIPv4(link); ok {
		l.Addr = a
		c.logf("%s already has %s: no DHCP", l.Name, a)
		return l, nil
	}
	if err := waitRandom(ctx); err != nil {
		return nil, err
	}
	c.logf("DHCP on %s (%s)", l.Name, l.MAC)
	lease, err := getLease(ctx, c, l.Name, l.MAC)
	if err != nil {
		return nil, err
	}
	if err := lease.apply(link); err != nil {
		return nil, err
	}
	l.Addr, l.Router, l.DHCPServer, l.Lease = lease.addr, lease.router, lease.server, lease.time
	return l, nil
}

// candidate is what pickLink knows about an interface.
type candidate struct {
	name    string
	mac     net.HardwareAddr
	carrier bool
}

// choose picks the interface: the one with mac if there is one, else the
// first with carrier. ok is false when none qualifies (yet).
func choose(cands []candidate, mac net.HardwareAddr) (candidate, bool) {
	if len(mac) > 0 {
		for _, c := range cands {
			if c.mac.String() == mac.String() {
				return c, true
			}
		}
	}
	for _, c := range cands {
		if c.carrier {
			return c, true
		}
	}
	return candidate{}, false
}

// ethernet lists the Ethernet interfaces that are not loopback, in
// index order (the kernel's order of discovery).
func ethernet() ([]netlink.Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	var out []netlink.Link
	for _, l := range links {
		a := l.Attrs()
		if a.Flags&net.FlagLoopback != 0 || len(a.HardwareAddr) != 6 || a.EncapType != "ether" {
			continue
		}
		switch l.Type() {
		case "device", "veth", "tuntap":
		default:
			continue // bridges, bonds, vlans: not a NIC of its own
		}
		out = append(out, l)
	}
	return out, nil
}

// pickLink sets the candidate interfaces up and waits until choose finds
// one with carrier, then returns it. Interfaces it set up and did not
// choose are set down again.
func pickLink(ctx context.Context, c Config) (netlink.Link, error) {
	links, err := ethernet()
	if err != nil {
		return nil, err
	}
	if len(links) == 0 {
		return nil, errors.New("no Ethernet interface (is the NIC's driver in the kernel?)")
	}
	// With a matching MAC only that one is touched.
	if len(c.MAC) > 0 {
		for _, l := range links {
			if l.Attrs().HardwareAddr.String() == c.MAC.String() {
				links = []netlink.Link{l}
				break
			}
		}
	}
	var wasDown []netlink.Link
	for _, l := range links {
		if l.Attrs().Flags&net.FlagUp == 0 {
			if err := netlink.LinkSetUp(l); err != nil {
				c.logf("setting %s up: %v", l.Attrs().Name, err)
				continue
			}
			wasDown = append(wasDown, l)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.CarrierWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var cands []candidate
		byName := map[string]netlink.Link{}
		for _, l := range links {
			// Fresh attributes: carrier comes and goes.
			fresh, err := netlink.LinkByIndex(l.Attrs().Index)
			if err != nil {
				continue
			}
			a := fresh.Attrs()
			byName[a.Name] = fresh
			cands = append(cands, candidate{name: a.Name, mac: a.HardwareAddr, carrier: a.RawFlags&unix.IFF_LOWER_UP != 0})
		}
		if ch, ok := choose(cands, c.MAC); ok && ch.carrier {
			for _, l := range wasDown {
				if l.Attrs().Name != ch.name {
					netlink.LinkSetDown(l)
				}
			}
			return byName[ch.name], nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			var names []string
			for _, cd := range cands {
				names = append(names, cd.name+" ("+cd.mac.String()+")")
			}
			return nil, fmt.Errorf("no carrier within %v on %s", c.CarrierWait, strings.Join(names, ", "))
		}
	}
}

// globalIPv4 returns the link's first global IPv4 address.
func globalIPv4(l netlink.Link) (netip.Prefix, bool) {
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, false
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || !ip.Unmap().IsGlobalUnicast() {
			continue
		}
		ones, _ := a.Mask.Size()
		return netip.PrefixFrom(ip.Unmap(), ones), true
	}
	return netip.Prefix{}, false
}

// lease is what Up takes from a DHCP ACK.
type lease struct {
	addr   netip.Prefix
	router netip.Addr
	server netip.Addr
	time   time.Duration
}

// fromLease converts dhcp4's lease (an infinite one lasts the
// longest time.Duration).
func fromLease(l dhcp4.Lease) lease {
	out := lease{addr: netip.PrefixFrom(netip.AddrFrom4(l.Addr), l.PrefixLen), time: l.Time}
	if l.Router != ([4]byte{}) {
		out.router = netip.AddrFrom4(l.Router)
	}
	if l.Server != ([4]byte{}) {
		out.server = netip.AddrFrom4(l.Server)
	}
	if l.Infinite {
		out.time = time.Duration(1<<63 - 1)
	}
	return out
}

// getLease gets a lease on iface with dhcp4's client, the one the
// network stack domain runs too, over nclient4's UDP on a packet socket
// (the interface has no address yet). The client retransmits with
// backoff and starts over after NAKs or unanswered REQUESTs, until ctx
// ends.
func getLease(ctx context.Context, c Config, iface string, mac net.HardwareAddr) (lease, error) {
	if len(mac) != 6 {
		return lease{}, fmt.Errorf("DHCP on %s: hardware address %v is not Ethernet's", iface, mac)
	}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return lease{}, fmt.Errorf("DHCP on %s: %w", iface, err)
	}
	cl, err := dhcp4.New(dhcp4.Config{MAC: [6]byte(mac), Seed: binary.LittleEndian.Uint64(seed[:]),
		Retry: c.DHCPTimeout, MaxRetry: max(c.DHCPTimeout, 16*time.Second)})
	if err != nil {
		return lease{}, fmt.Errorf("DHCP on %s: %w", iface, err)
	}
	conn, err := nclient4.NewRawUDPConn(iface, dhcp4.ClientPort)
	if err != nil {
		return lease{}, fmt.Errorf("DHCP on %s: opening a packet socket: %w", iface, err)
	}
	defer conn.Close()
	start := time.Now()
	now := func() time.Duration { return time.Since(start) }
	out, in := make([]byte, dhcp4.MaxMessage), make([]byte, 1500)
	sent, last := 0, error(nil)
	for {
		n, dst, _ := cl.Poll(now(), out)
		if n > 0 {
			sent++
			if _, err := conn.WriteTo(out[:n], &net.UDPAddr{IP: net.IP(dst[:]), Port: dhcp4.ServerPort}); err != nil {
				last = err
				c.logf("DHCP on %s: sending: %v", iface, err)
			}
		}
		if err := ctx.Err(); err != nil {
			if last == nil {
				last = fmt.Errorf("no reply (state %v)", cl.State())
			}
			return lease{}, fmt.Errorf("DHCP on %s: no lease after %d messages: %w (%w)", iface, sent, last, err)
		}
		// Wake for the next retransmission, and at least every second to
		// see ctx end.
		conn.SetReadDeadline(start.Add(min(cl.Next(), now()+time.Second)))
		k, _, err := conn.ReadFrom(in)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return lease{}, fmt.Errorf("DHCP on %s: receiving: %w", iface, err)
			}
			continue
		}
		ev, err := cl.Input(now(), in[:k])
		if err != nil {
			last = err
			continue
		}
		if ev == dhcp4.EventBound {
			l, _ := cl.Lease()
			return fromLease(l), nil
		}
	}
}

// apply configures the lease on the link: the address (replacing one
// the link had), then the default route if there is a router.
func (l lease) apply(link netlink.Link) error {
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: l.addr.Addr().AsSlice(), Mask: net.CIDRMask(l.addr.Bits(), 32)}}
	if l.addr.Bits() < 31 {
		bcast := l.addr.Masked().Addr().As4()
		host := ^uint32(0) >> l.addr.Bits()
		for i := range 4 {
			bcast[i] |= byte(host >> (8 * (3 - i)))
		}
		addr.Broadcast = net.IP(bcast[:])
	}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("adding %s to %s: %w", l.addr, link.Attrs().Name, err)
	}
	if l.router.IsValid() && l.addr.Contains(l.router) {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: l.router.AsSlice(), Dst: nil}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("default route via %s on %s: %w", l.router, link.Attrs().Name, err)
		}
	}
	return nil
}
