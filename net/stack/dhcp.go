package stack

import (
	"errors"
	"time"

	"github.com/rlgo/redleaf/dhcp4"
)

// A DHCP runs dhcp4's client on a stack: it owns UDP port 68, sends
// the client's messages from it (from 0.0.0.0 to 255.255.255.255 while
// the stack has no address), feeds it what arrives, and applies the
// client's events: SetAddr on a lease (the router as the gateway),
// ClearAddr when it ends. Its owner calls Poll after each Stack.Poll, on
// the same thread; it allocates nothing then.
type DHCP struct {
	s    *Stack
	c    *dhcp4.Client
	sock UDPConn
	out  []byte
	in   []byte

	stats DHCPStats
	last  dhcp4.Event
}

// DHCPStats are a DHCP client's counters.
type DHCPStats struct {
	Sent, Received uint64
	Ignored        uint64 // replies for others, stale or malformed
	Leases         uint64 // EventBound
	Renewals       uint64 // EventRenewed
	Losses         uint64 // EventLost
}

// StartDHCP binds UDP port 68 and makes a client with cfg (its MAC is
// the link's). The stack should be Unaddressed: the lease's address
// replaces any it has.
func (s *Stack) StartDHCP(cfg dhcp4.Config) (*DHCP, error) {
	cfg.MAC = s.mac
	c, err := dhcp4.New(cfg)
	if err != nil {
		return nil, err
	}
	sock, err := s.BindUDP(dhcp4.ClientPort)
	if err != nil {
		return nil, err
	}
	return &DHCP{s: s, c: c, sock: sock, out: make([]byte, dhcp4.MaxMessage), in: make([]byte, s.cfg.MTU)}, nil
}

// Poll runs the client at now: it takes the datagrams received on port
// 68, fires its timers, queues what it sends (the next Stack.Poll
// transmits it) and applies a new or lost lease to the stack. It returns
// the last event (EventNone if nothing changed).
func (d *DHCP) Poll(now time.Duration) dhcp4.Event {
	ev := dhcp4.EventNone
	if now < d.c.Next() && d.s.udp[d.sock.idx].rx.n == 0 {
		return ev // the common case: nothing arrived, nothing due
	}
	for {
		n, _, port, err := d.sock.RecvFrom(d.in)
		if err != nil {
			break
		}
		if port != dhcp4.ServerPort || n > len(d.in) {
			d.stats.Ignored++
			continue
		}
		d.stats.Received++
		e, err := d.c.Input(now, d.in[:n])
		if err != nil {
			d.stats.Ignored++
		}
		if e != dhcp4.EventNone {
			ev = e
			d.apply(e)
		}
	}
	n, dst, e := d.c.Poll(now, d.out)
	if e != dhcp4.EventNone {
		ev = e
		d.apply(e)
	}
	if n > 0 {
		if err := d.sock.SendTo(d.out[:n], dst, dhcp4.ServerPort); err == nil {
			d.stats.Sent++
		} else if !errors.Is(err, ErrWouldBlock) {
			d.stats.Ignored++ // cannot happen for a message of MaxMessage bytes
		}
	}
	if ev != dhcp4.EventNone {
		d.last = ev
	}
	return ev
}

// apply makes an event's change to the stack.
func (d *DHCP) apply(e dhcp4.Event) {
	switch e {
	case dhcp4.EventBound, dhcp4.EventRenewed:
		l, _ := d.c.Lease()
		if e == dhcp4.EventBound {
			d.stats.Leases++
		} else {
			d.stats.Renewals++
		}
		if err := d.s.SetAddr(l.Addr, l.PrefixLen, l.Router); err != nil {
			d.stats.Ignored++ // dhcp4 gives unicast addresses and prefixes of 1..32 only
		}
	case dhcp4.EventLost:
		d.stats.Losses++
		d.s.ClearAddr()
	}
}

// Next is when the client next needs Poll (a retransmission, T1, T2, the
// lease's end), on the caller's clock.
func (d *DHCP) Next() time.Duration { return d.c.Next() }

// State is the client's state.
func (d *DHCP) State() dhcp4.State { return d.c.State() }

// Lease is the lease in effect, if any.
func (d *DHCP) Lease() (dhcp4.Lease, bool) { return d.c.Lease() }

// Stats returns the counters.
func (d *DHCP) Stats() DHCPStats { return d.stats }
