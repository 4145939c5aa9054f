package dhcp

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"time"
)

// Subnet is a network the full-mode server hands out addresses on.
type Subnet struct {
	// Prefix is the network, e.g. 10.0.0.0/24.
	Prefix netip.Prefix
	// Start and End bound the dynamic pool, inclusive. Reserved
	// addresses may lie outside it but must be inside Prefix.
	Start, End netip.Addr
	// Router is the default gateway given to clients; zero for none.
	Router netip.Addr
	// DNS servers given to clients.
	DNS []netip.Addr
	// DomainName, if set, is given as option 15.
	DomainName string
	// Agents, if set, are the addresses the relay agents of a relayed
	// subnet send from; requests for the subnet from anywhere else are
	// dropped.
	Agents []netip.Addr
}

// Contains reports whether ip is in the dynamic pool.
func (s *Subnet) Contains(ip netip.Addr) bool {
	return s.Prefix.Contains(ip) && !ip.Less(s.Start) && !s.End.Less(ip)
}

// Check validates the subnet.
func (s *Subnet) Check() error {
	if !s.Prefix.IsValid() || !s.Prefix.Addr().Is4() {
		return fmt.Errorf("subnet %v is not an IPv4 prefix", s.Prefix)
	}
	if !s.Prefix.Contains(s.Start) || !s.Prefix.Contains(s.End) || s.End.Less(s.Start) {
		return fmt.Errorf("pool %v-%v is not a range inside %v", s.Start, s.End, s.Prefix)
	}
	if s.Router.IsValid() && !s.Prefix.Contains(s.Router) {
		return fmt.Errorf("router %v is outside %v", s.Router, s.Prefix)
	}
	return nil
}

// Mask returns the subnet mask.
func (s *Subnet) Mask() net.IPMask { return net.CIDRMask(s.Prefix.Bits(), 32) }

// usable reports whether ip may be handed out at all in s: not the
// network or broadcast address.
func (s *Subnet) usable(ip netip.Addr) bool {
	if !s.Prefix.Contains(ip) {
		return false
	}
	if s.Prefix.Bits() >= 31 {
		return true
	}
	return ip != s.Prefix.Masked().Addr() && ip != broadcast(s.Prefix)
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ErrPoolExhausted means no address is free for a new client.
var ErrPoolExhausted = errors.New("address pool exhausted")

// offerHold is how long an offered address stays set aside for the
// client's REQUEST.
const offerHold = 60 * time.Second

type offer struct {
	mac   string
	until time.Time
}

// allocation is one address decision's inputs.
type allocation struct {
	mac      string
	subnet   *Subnet
	want     netip.Addr            // option 50 or ciaddr, if any
	reserved netip.Addr            // the client's reservation, if any
	taken    func(netip.Addr) bool // reserved for another client, or ours
	now      time.Time
}

// free reports whether ip can go to a.mac: in the subnet, not reserved
// for or leased (actively) to another client, not offered to another
// client, not declined. l.mu is held.
func (l *Leases) free(a *allocation, ip netip.Addr, offers map[netip.Addr]offer, allowExpiredOthers bool) bool {
	if !a.subnet.usable(ip) || a.taken(ip) {
		return false
	}
	if until, ok := l.declined[ip]; ok && a.now.Before(until) {
		return false
	}
	if o, ok := offers[ip]; ok && o.mac != a.mac && a.now.Before(o.until) {
		return false
	}
	if lease := l.byIP[ip]; lease != nil && lease.MAC != a.mac {
		if lease.Active(a.now) || !allowExpiredOthers {
			return false
		}
	}
	return true
}

// choose picks the address for a client, in this order: its
// reservation; its current or last address; the address it asks for;
// a free pool address never leased before, starting at a point derived
// from the MAC (so that clients spread and keep their place); an
// address whose lease expired. l.mu is held.
func (l *Leases) choose(a *allocation, offers map[netip.Addr]offer) (netip.Addr, error) {
	if a.reserved.IsValid() {
		if !a.subnet.Prefix.Contains(a.reserved) {
			return netip.Addr{}, fmt.Errorf("reserved address %v is outside the client's subnet %v", a.reserved, a.subnet.Prefix)
		}
		// A reservation wins over a stale lease of someone else.
		return a.reserved, nil
	}
	if lease := l.byMAC[a.mac]; lease != nil && a.subnet.Contains(lease.IP) && l.free(a, lease.IP, offers, false) {
		return lease.IP, nil
	}
	for ip, o := range offers {
		if o.mac == a.mac && a.now.Before(o.until) && a.subnet.Contains(ip) && l.free(a, ip, offers, false) {
			return ip, nil
		}
	}
	if a.want.IsValid() && a.subnet.Contains(a.want) && l.free(a, a.want, offers, false) {
		return a.want, nil
	}
	start, end := toU32(a.subnet.Start), toU32(a.subnet.End)
	size := uint64(end-start) + 1
	h := fnv.New32a()
	h.Write([]byte(a.mac))
	first := uint64(h.Sum32()) % size
	for _, allowExpired := range []bool{false, true} {
		for i := range size {
			ip := fromU32(start + uint32((first+i)%size))
			if l.free(a, ip, offers, allowExpired) {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, ErrPoolExhausted
}

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromU32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// offer picks an address for a DISCOVER and sets it aside for a while.
func (l *Leases) offer(a *allocation, offers map[netip.Addr]offer) (netip.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ip, err := l.choose(a, offers)
	if err != nil {
		return ip, err
	}
	for other, o := range offers {
		if o.mac == a.mac || !a.now.Before(o.until) {
			delete(offers, other)
		}
	}
	offers[ip] = offer{mac: a.mac, until: a.now.Add(offerHold)}
	return ip, nil
}

// bind leases ip to the client for d if the address may go to it, and
// journals the lease.
func (l *Leases) bind(a *allocation, ip netip.Addr, d time.Duration, hostname string, offers map[netip.Addr]offer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.reserved.IsValid() {
		if ip != a.reserved {
			return fmt.Errorf("%v is not the client's reserved address %v", ip, a.reserved)
		}
	} else if !a.subnet.Contains(ip) {
		if lease := l.byMAC[a.mac]; lease == nil || lease.IP != ip || !a.subnet.Prefix.Contains(ip) {
			return fmt.Errorf("%v is outside the pool %v-%v", ip, a.subnet.Start, a.subnet.End)
		}
		// An address the client leased from an earlier, larger pool:
		// let it keep it.
	}
	// The reserved address goes to its client even if another one holds
	// it, typically from before the reservation: that client is refused
	// at its next renewal and moves.
	if ip != a.reserved && !l.free(a, ip, offers, true) {
		return fmt.Errorf("%v is in use by another client", ip)
	}
	if err := l.write(record{Op: "lease", MAC: a.mac, IP: ip, Expires: a.now.Add(d).UTC(), Hostname: hostname}, a.now); err != nil {
		return err
	}
	delete(offers, ip)
	return nil
}

// release ends a client's lease early; the address stays its hint.
func (l *Leases) release(mac string, ip netip.Addr, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	lease := l.byMAC[mac]
	if lease == nil || lease.IP != ip {
		return fmt.Errorf("%s holds no lease on %v", mac, ip)
	}
	return l.write(record{Op: "release", MAC: mac, IP: ip, Expires: now.UTC(), Hostname: lease.Hostname}, now)
}

// decline marks an address as in use by someone we do not know (the
// client found it taken) until the given time. Only the client the
// address was offered or leased to may decline it (anyone else's
// DECLINE would take addresses out of the pool at will), and at most a
// quarter of a subnet's pool is out of use through declines at once.
func (l *Leases) decline(a *allocation, ip netip.Addr, until time.Time, offers map[netip.Addr]offer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	lease := l.byIP[ip]
	o, offered := offers[ip]
	switch {
	case lease != nil && lease.MAC == a.mac && lease.Active(a.now):
	case offered && o.mac == a.mac && a.now.Before(o.until):
	default:
		return fmt.Errorf("DECLINE of %v ignored: it was not offered or leased to %s", ip, a.mac)
	}
	l.expireDeclines(a.now)
	n := 0
	for d := range l.declined {
		if a.subnet.Contains(d) {
			n++
		}
	}
	if limit := max(1, int(toU32(a.subnet.End)-toU32(a.subnet.Start)+1)/4); n >= limit {
		return fmt.Errorf("DECLINE of %v ignored: %d addresses of the pool are declined already (the limit is a quarter of the pool); if clients keep finding addresses taken, another host uses the pool's addresses: move it or the pool", ip, n)
	}
	delete(offers, ip)
	return l.write(record{Op: "decline", IP: ip, Expires: until.UTC()}, a.now)
}
