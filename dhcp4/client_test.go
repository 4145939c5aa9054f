package dhcp4_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/rlgo/redleaf/dhcp4"
	"github.com/rlgo/redleaf/dhcp4/dhcp4test"
)

var (
	mac   = [6]byte{0x02, 0, 0, 0, 0xaa, 0x01}
	bcast = [4]byte{255, 255, 255, 255}
)

const leaseTime = 100 * time.Second

func newServer(subnet string) *dhcp4test.Server {
	p := netip.MustParsePrefix(subnet)
	base := p.Addr().As4()
	at := func(last byte) netip.Addr { a := base; a[3] = last; return netip.AddrFrom4(a) }
	return dhcp4test.New(at(1), p, at(100), at(120), at(1), leaseTime)
}

func newClient(t *testing.T) *dhcp4.Client {
	t.Helper()
	c, err := dhcp4.New(dhcp4.Config{MAC: mac, Seed: 42, Retry: time.Second, MaxRetry: 8 * time.Second, MinRenew: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exchange lets the client send what is due at now to srv and takes the
// reply; it returns the event and the message the client sent (nil if
// none).
func exchange(t *testing.T, c *dhcp4.Client, srv *dhcp4test.Server, now time.Duration) (dhcp4.Event, *dhcpv4.DHCPv4, [4]byte) {
	t.Helper()
	var buf [dhcp4.MaxMessage]byte
	srv.SetNow(now)
	n, dst, ev := c.Poll(now, buf[:])
	if n == 0 {
		return ev, nil, dst
	}
	sent, err := dhcpv4.FromBytes(buf[:n])
	if err != nil {
		t.Fatalf("the client sent a message insomniacslk/dhcp cannot parse: %v", err)
	}
	reply, _, ok := srv.Reply(buf[:n])
	if !ok {
		return ev, sent, dst
	}
	ev2, err := c.Input(now, reply)
	if err != nil {
		t.Fatalf("the client refused the server's reply to its %v: %v", sent.MessageType(), err)
	}
	if ev2 != dhcp4.EventNone {
		ev = ev2
	}
	return ev, sent, dst
}

// bind runs the client from INIT until it is bound, at time 0.
func bind(t *testing.T, c *dhcp4.Client, srv *dhcp4test.Server) dhcp4.Lease {
	t.Helper()
	ev, d, dst := exchange(t, c, srv, 0)
	if ev != dhcp4.EventNone || d.MessageType() != dhcpv4.MessageTypeDiscover || dst != bcast || c.State() != dhcp4.StateRequesting {
		t.Fatalf("first poll: event %v, sent %v to %v, state %v", ev, d.MessageType(), dst, c.State())
	}
	if cls := d.ClassIdentifier(); cls != dhcp4.ClassID {
		t.Errorf("DISCOVER's class identifier is %q, want %q", cls, dhcp4.ClassID)
	}
	ev, r, dst := exchange(t, c, srv, 0)
	if ev != dhcp4.EventBound || r.MessageType() != dhcpv4.MessageTypeRequest || dst != bcast {
		t.Fatalf("second poll: event %v, sent %v to %v", ev, r.MessageType(), dst)
	}
	if r.TransactionID != d.TransactionID {
		t.Errorf("REQUEST's xid %v differs from the DISCOVER's %v", r.TransactionID, d.TransactionID)
	}
	l, ok := c.Lease()
	if !ok || c.State() != dhcp4.StateBound {
		t.Fatalf("no lease after the ACK (state %v)", c.State())
	}
	return l
}

func TestBound(t *testing.T) {
	srv := newServer("10.0.0.0/24")
	c := newClient(t)
	l := bind(t, c, srv)
	// The server sends T1 and T2 in whole seconds (50 and 87).
	want := dhcp4.Lease{Addr: l.Addr, PrefixLen: 24, Router: [4]byte{10, 0, 0, 1}, Server: [4]byte{10, 0, 0, 1},
		Time: leaseTime, T1: leaseTime / 2, T2: 87 * time.Second}
	if l != want || l.Addr[3] < 100 || l.Addr[3] > 120 {
		t.Errorf("lease %+v, want %+v", l, want)
	}
	if got := c.Next(); got != l.T1 {
		t.Errorf("Next = %v while bound, want T1 %v", got, l.T1)
	}
	// Nothing to send until T1.
	if ev, m, _ := exchange(t, c, srv, l.T1-1); ev != dhcp4.EventNone || m != nil {
		t.Errorf("before T1: event %v, sent %v", ev, m)
	}
}

// TestLostOffers: the server's first two OFFERs are lost; the client sends
// the DISCOVER again after Retry, then 2*Retry (each ±1/8), with the same
// xid, and is bound after the third.
func TestLostOffers(t *testing.T) {
	srv := newServer("10.0.0.0/24")
	lost := 0
	srv.DropReplies(func(ty dhcpv4.MessageType) bool {
		if ty == dhcpv4.MessageTypeOffer && lost < 2 {
			lost++
			return true
		}
		return false
	})
	c := newClient(t)
	_, first, _ := exchange(t, c, srv, 0)
	now := time.Duration(0)
	for i, base := range []time.Duration{time.Second, 2 * time.Second} {
		next := c.Next()
		if d := next - now; d < base*7/8 || d > base*9/8 {
			t.Fatalf("retransmission %d after %v, want %v ±1/8", i+1, d, base)
		}
		if ev, m, _ := exchange(t, c, srv, next-1); m != nil || ev != dhcp4.EventNone {
			t.Fatalf("sent %v before the retransmission was due", m.MessageType())
		}
		now = next
		_, m, _ := exchange(t, c, srv, now)
		if m == nil || m.MessageType() != dhcpv4.MessageTypeDiscover || m.TransactionID != first.TransactionID {
			t.Fatalf("retransmission %d: %v", i+1, m)
		}
	}
	if c.State() != dhcp4.StateRequesting {
		t.Fatalf("after the third DISCOVER: state %v", c.State())
	}
	if ev, _, _ := exchange(t, c, srv, now); ev != dhcp4.EventBound {
		t.Fatalf("REQUEST: event %v", ev)
	}
	if srv.Sent(dhcpv4.MessageTypeOffer) != 1 || lost != 2 {
		t.Errorf("offers sent %d, lost %d", srv.Sent(dhcpv4.MessageTypeOffer), lost)
	}
}

// TestRenewRebindExpire: renewal at T1 goes to the server by unicast and
// extends the lease; when the server stops answering, the client rebinds
// by broadcast at T2 and drops the address when the lease ends.
func TestRenewRebindExpire(t *testing.T) {
	srv := newServer("10.0.0.0/24")
	c := newClient(t)
	l := bind(t, c, srv)
	ev, m, dst := exchange(t, c, srv, l.T1)
	if ev != dhcp4.EventRenewed || m.MessageType() != dhcpv4.MessageTypeRequest || dst != l.Server {
		t.Fatalf("at T1: event %v, %v to %v", ev, m.MessageType(), dst)
	}
	if got := m.ClientIPAddr.To4(); got == nil || [4]byte(got) != l.Addr || m.ServerIdentifier() != nil || m.RequestedIPAddress() != nil {
		t.Errorf("renewing REQUEST: ciaddr %v, server id %v, requested %v (want ciaddr only)", m.ClientIPAddr, m.ServerIdentifier(), m.RequestedIPAddress())
	}
	l2, _ := c.Lease()
	if l2.Start != l.T1 || l2.Addr != l.Addr {
		t.Fatalf("renewed lease %+v: want Start %v", l2, l.T1)
	}
	// The server goes silent.
	srv.DropReplies(func(dhcpv4.MessageType) bool { return true })
	now := l2.Start + l2.T1
	ev, m, dst = exchange(t, c, srv, now)
	if ev != dhcp4.EventNone || m == nil || dst != l.Server || c.State() != dhcp4.StateRenewing {
		t.Fatalf("second T1: event %v, sent to %v, state %v", ev, dst, c.State())
	}
	renews, rebinds := 1, 0
	for c.State() != dhcp4.StateInit {
		next := c.Next()
		if next <= now {
			t.Fatalf("Next %v is not after %v (state %v)", next, now, c.State())
		}
		now = next
		ev, m, dst = exchange(t, c, srv, now)
		switch {
		case ev == dhcp4.EventLost:
			if now != l2.Start+l2.Time {
				t.Errorf("lease lost at %v, want its end %v", now, l2.Start+l2.Time)
			}
			if m == nil || m.MessageType() != dhcpv4.MessageTypeDiscover {
				t.Errorf("after the loss the client sent %v, want a DISCOVER at once", m)
			}
			if _, ok := c.Lease(); ok {
				t.Error("Lease still reports a lease after EventLost")
			}
		case c.State() == dhcp4.StateRenewing:
			renews++
			if dst != l.Server || now >= l2.Start+l2.T2 {
				t.Errorf("renewing at %v to %v", now, dst)
			}
		case c.State() == dhcp4.StateRebinding:
			rebinds++
			if dst != bcast || now < l2.Start+l2.T2 {
				t.Errorf("rebinding at %v to %v", now, dst)
			}
		}
		if c.State() == dhcp4.StateSelecting {
			break
		}
	}
	if renews < 2 || rebinds < 1 {
		t.Errorf("%d renewing and %d rebinding REQUESTs before the lease ended", renews, rebinds)
	}
}

// TestNak: the client moves to another network (a server for another
// subnet); its renewal is refused with a NAK, it drops the address and
// gets one on the new network.
func TestNak(t *testing.T) {
	c := newClient(t)
	l := bind(t, c, newServer("10.0.0.0/24"))
	moved := newServer("10.1.0.0/24")
	// Renewing goes to the old server's address, which nobody answers;
	// rebinding's broadcast reaches the new server, which NAKs.
	moved.DropReplies(func(dhcpv4.MessageType) bool { return false })
	now := l.T1
	var ev dhcp4.Event
	var nakAt time.Duration
	for ev == dhcp4.EventNone && now < l.Time {
		nakAt = now
		var buf [dhcp4.MaxMessage]byte
		moved.SetNow(now)
		n, dst, _ := c.Poll(now, buf[:])
		if n > 0 && dst == bcast {
			if reply, _, ok := moved.Reply(buf[:n]); ok {
				var err error
				if ev, err = c.Input(now, reply); err != nil {
					t.Fatal(err)
				}
			}
		}
		now = c.Next()
	}
	if ev != dhcp4.EventLost || moved.Sent(dhcpv4.MessageTypeNak) != 1 {
		t.Fatalf("event %v, NAKs %d", ev, moved.Sent(dhcpv4.MessageTypeNak))
	}
	if c.State() != dhcp4.StateInit || c.Next() <= nakAt {
		t.Errorf("after the NAK: state %v, next %v (want INIT after a pause)", c.State(), c.Next())
	}
	var l2 dhcp4.Lease
	for t0 := c.Next(); ; t0 = c.Next() {
		if ev, _, _ := exchange(t, c, moved, t0); ev == dhcp4.EventBound {
			l2, _ = c.Lease()
			break
		}
		if t0 > l.Time*4 {
			t.Fatal("no new lease")
		}
	}
	if l2.Addr[0] != 10 || l2.Addr[1] != 1 || l2.Router != [4]byte{10, 1, 0, 1} {
		t.Errorf("new lease %+v", l2)
	}
}

// TestIgnored: replies for another MAC, another xid, or of the wrong type
// change nothing.
func TestIgnored(t *testing.T) {
	srv := newServer("10.0.0.0/24")
	c := newClient(t)
	var buf [dhcp4.MaxMessage]byte
	n, _, _ := c.Poll(0, buf[:])
	offer, _, _ := srv.Reply(buf[:n])
	m, _ := dhcpv4.FromBytes(offer)

	other := *m
	other.ClientHWAddr = []byte{2, 0, 0, 0, 0xbb, 2}
	if _, err := c.Input(0, other.ToBytes()); !errors.Is(err, dhcp4.ErrNotOurs) {
		t.Errorf("another MAC's offer: %v", err)
	}
	other = *m
	other.TransactionID[0] ^= 0xff
	if _, err := c.Input(0, other.ToBytes()); !errors.Is(err, dhcp4.ErrXid) {
		t.Errorf("another xid: %v", err)
	}
	other = *m
	other.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeAck))
	if _, err := c.Input(0, other.ToBytes()); !errors.Is(err, dhcp4.ErrUnexpected) {
		t.Errorf("an ACK while selecting: %v", err)
	}
	if _, err := c.Input(0, offer[:100]); !errors.Is(err, dhcp4.ErrShort) {
		t.Errorf("a short message: %v", err)
	}
	if c.State() != dhcp4.StateSelecting {
		t.Fatalf("state %v after ignored replies", c.State())
	}
	if _, err := c.Input(0, offer); err != nil {
		t.Fatal(err)
	}
}

// TestNoAllocs: a whole exchange, once warmed up, allocates nothing in the
// client (the server is outside the measurement: its replies are kept).
func TestNoAllocs(t *testing.T) {
	srv := newServer("10.0.0.0/24")
	c := newClient(t)
	var buf [dhcp4.MaxMessage]byte
	n, _, _ := c.Poll(0, buf[:])
	offer, _, _ := srv.Reply(buf[:n])
	c.Input(0, offer)
	n, _, _ = c.Poll(0, buf[:])
	ack, _, _ := srv.Reply(buf[:n])
	now := time.Duration(0)
	allocs := testing.AllocsPerRun(100, func() {
		c2 := *c
		c2.Poll(now, buf[:])
		c2.Input(now, ack)
		dhcp4.Parse(offer)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per exchange", allocs)
	}
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []dhcp4.Config{
		{},
		{MAC: [6]byte{1, 0, 0, 0, 0, 1}},
		{MAC: mac, Retry: 10 * time.Second, MaxRetry: time.Second},
		{MAC: mac, Class: string(make([]byte, 65))},
	} {
		if _, err := dhcp4.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
}
