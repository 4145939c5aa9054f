package stack

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/rlgo/redleaf/dhcp4"
	"github.com/rlgo/redleaf/dhcp4/dhcp4test"
)

// serverLink is a stack's Link to a segment whose only other host is the
// project's DHCP server (dhcp4test over netboot/dhcp): it answers ARP for
// its address and DHCP, and records every frame the stack sends.
type serverLink struct {
	mac     [6]byte
	srv     *dhcp4test.Server
	in, rx  [][]byte
	sent    [][]byte
	unicast bool // deliver broadcast DHCP replies as unicast to the offered address, as some servers do
}

func (l *serverLink) HardwareAddr() [6]byte { return l.mac }

func (l *serverLink) Receive() ([][]byte, error) {
	l.rx, l.in = l.in, nil
	return l.rx, nil
}

func (l *serverLink) Transmit(frames [][]byte) (int, error) {
	for _, f := range frames {
		l.sent = append(l.sent, append([]byte(nil), f...))
		r := l.srv.Frame(f)
		if r == nil {
			continue
		}
		if l.unicast && [6]byte(r[:6]) == broadcastMAC && binary.BigEndian.Uint16(r[12:]) == etherTypeIPv4 {
			payload := r[14+20+8:]
			yi := [4]byte(payload[16:20])
			r = dhcp4test.UDPFrame(l.mac, l.srv.MAC, l.srv.Addr(), yi, dhcp4.ServerPort, dhcp4.ClientPort, payload)
		}
		l.in = append(l.in, r)
	}
	return len(frames), nil
}

const testLease = 100 * time.Second

func dhcpSetup(t testing.TB, unicast bool) (*Stack, *DHCP, *serverLink) {
	t.Helper()
	srv := dhcp4test.New(netip.MustParseAddr("10.9.0.1"), netip.MustParsePrefix("10.9.0.0/24"),
		netip.MustParseAddr("10.9.0.50"), netip.MustParseAddr("10.9.0.60"), netip.MustParseAddr("10.9.0.1"), testLease)
	l := &serverLink{mac: [6]byte{2, 0, 0, 0, 0, 0x33}, srv: srv, unicast: unicast}
	s, err := New(l, Config{Unaddressed: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.StartDHCP(dhcp4.Config{Seed: 9, Retry: time.Second, MinRenew: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, d, l
}

// run polls stack and client at now (the server's clock too) a few times,
// so that a whole exchange completes, and returns the last event.
func run(s *Stack, d *DHCP, l *serverLink, now time.Duration) dhcp4.Event {
	l.srv.SetNow(now)
	ev := dhcp4.EventNone
	for range 6 {
		s.Poll(now)
		if e := d.Poll(now); e != dhcp4.EventNone {
			ev = e
		}
	}
	return ev
}

func TestDHCPLease(t *testing.T) {
	for _, unicast := range []bool{false, true} {
		s, d, l := dhcpSetup(t, unicast)
		if _, err := s.Dial([4]byte{10, 9, 0, 1}, 80); !errors.Is(err, ErrNoAddr) {
			t.Fatalf("Dial without an address: %v", err)
		}
		if ev := run(s, d, l, 0); ev != dhcp4.EventBound {
			t.Fatalf("unicast %v: event %v, state %v, stats %+v", unicast, ev, d.State(), d.Stats())
		}
		// The DISCOVER went from 0.0.0.0:68 to 255.255.255.255:67, to the
		// broadcast MAC.
		f := l.sent[0]
		ip := f[etherHeaderLen:]
		if [6]byte(f[:6]) != broadcastMAC || [4]byte(ip[12:16]) != ([4]byte{}) || [4]byte(ip[16:20]) != broadcastIP ||
			binary.BigEndian.Uint16(ip[20:]) != 68 || binary.BigEndian.Uint16(ip[22:]) != 67 {
			t.Errorf("first frame % x", f[:42])
		}
		lease, _ := d.Lease()
		c := s.Config()
		if s.Addr() != lease.Addr || c.PrefixLen != 24 || c.Gateway != [4]byte{10, 9, 0, 1} || lease.Addr[3] < 50 || lease.Addr[3] > 60 {
			t.Errorf("unicast %v: stack %v/%d via %v, lease %+v", unicast, s.Addr(), c.PrefixLen, c.Gateway, lease)
		}
	}
}

// TestDHCPGateway: with the lease's router as gateway, a connection to an
// address off the subnet goes to the router's MAC (found by ARP for the
// router, not for the destination).
func TestDHCPGateway(t *testing.T) {
	s, d, l := dhcpSetup(t, false)
	if run(s, d, l, 0) != dhcp4.EventBound {
		t.Fatal("no lease")
	}
	l.sent = nil
	c, err := s.Dial([4]byte{192, 168, 77, 1}, 80)
	if err != nil {
		t.Fatal(err)
	}
	run(s, d, l, time.Millisecond)
	var askedGW, synToGW bool
	for _, f := range l.sent {
		switch binary.BigEndian.Uint16(f[12:]) {
		case etherTypeARP:
			p, _ := parseARP(f[etherHeaderLen:])
			if p.tpa == ([4]byte{192, 168, 77, 1}) {
				t.Errorf("ARP for the off-subnet destination")
			}
			askedGW = askedGW || p.tpa == [4]byte{10, 9, 0, 1}
		case etherTypeIPv4:
			ip := f[etherHeaderLen:]
			if ip[9] == protoTCP && [4]byte(ip[16:20]) == [4]byte{192, 168, 77, 1} {
				synToGW = [6]byte(f[:6]) == l.srv.MAC && [4]byte(ip[12:16]) == s.Addr()
			}
		}
	}
	if !askedGW || !synToGW {
		t.Errorf("ARP for the gateway %v, SYN to the gateway's MAC %v (%d frames)", askedGW, synToGW, len(l.sent))
	}
	if c.State() != StateSynSent {
		t.Errorf("connection %v", c.State())
	}
}

// TestDHCPRenewAndExpiry: the stack renews at T1 (unicast to the server,
// the address kept); when the server goes silent the lease runs out, the
// address goes, and a connection is told with ErrAddrLost; then the
// client starts over from 0.0.0.0.
func TestDHCPRenewAndExpiry(t *testing.T) {
	s, d, l := dhcpSetup(t, false)
	if run(s, d, l, 0) != dhcp4.EventBound {
		t.Fatal("no lease")
	}
	lease, _ := d.Lease()
	if ev := run(s, d, l, lease.T1); ev != dhcp4.EventRenewed {
		t.Fatalf("at T1: %v (state %v, stats %+v)", ev, d.State(), d.Stats())
	}
	lease, _ = d.Lease()
	if lease.Start != testLease/2 || s.Addr() != lease.Addr {
		t.Fatalf("after renewal: lease %+v, stack %v", lease, s.Addr())
	}
	c, err := s.Dial([4]byte{10, 9, 0, 1}, 80)
	if err != nil {
		t.Fatal(err)
	}
	l.srv.DropReplies(func(dhcpv4.MessageType) bool { return true })
	now := lease.Start
	var ev dhcp4.Event
	for ev != dhcp4.EventLost {
		next := d.Next()
		if next <= now || next > lease.Start+lease.Time {
			t.Fatalf("next %v after %v (lease ends %v)", next, now, lease.Start+lease.Time)
		}
		now = next
		ev = run(s, d, l, now)
	}
	if now != lease.Start+lease.Time || s.HasAddr() || s.Config().Gateway != ([4]byte{}) {
		t.Errorf("lost at %v (lease end %v), stack has %v via %v", now, lease.Start+lease.Time, s.Addr(), s.Config().Gateway)
	}
	if !errors.Is(c.Err(), ErrAddrLost) || c.Ready()&EventError == 0 || s.Stats().AddrLostConns != 1 {
		t.Errorf("connection: err %v, ready %v, lost conns %d", c.Err(), c.Ready(), s.Stats().AddrLostConns)
	}
	if st := d.Stats(); st.Leases != 1 || st.Renewals != 1 || st.Losses != 1 {
		t.Errorf("stats %+v", st)
	}
	// Starting over: the last frame is a DISCOVER from 0.0.0.0.
	f := l.sent[len(l.sent)-1]
	if ip := f[etherHeaderLen:]; [4]byte(ip[12:16]) != ([4]byte{}) || d.State() != dhcp4.StateSelecting {
		t.Errorf("after expiry: state %v, last frame from %v", d.State(), [4]byte(ip[12:16]))
	}
}

// TestDHCPSteadyNoAllocs: once bound, a poll of stack and client
// allocates nothing.
func TestDHCPSteadyNoAllocs(t *testing.T) {
	s, d, l := dhcpSetup(t, false)
	run(s, d, l, 0)
	now := time.Millisecond
	if a := testing.AllocsPerRun(200, func() {
		now += time.Millisecond
		s.Poll(now)
		d.Poll(now)
	}); a != 0 {
		t.Errorf("%v allocations per poll", a)
	}
}

// BenchmarkIdlePoll is the cost of an idle poll of a stack with a static
// address (the baseline) and of one holding a DHCP lease (its client polled
// too): what DHCP adds to every turn of the stack's loop.
func BenchmarkIdlePoll(b *testing.B) {
	b.Run("static", func(b *testing.B) {
		l := &serverLink{mac: [6]byte{2, 0, 0, 0, 0, 0x33}}
		s, err := New(l, Config{Addr: [4]byte{10, 9, 0, 50}, Seed: 7})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.Poll(time.Duration(i) * time.Microsecond)
		}
	})
	b.Run("dhcp", func(b *testing.B) {
		s, d, l := dhcpSetup(b, false)
		if run(s, d, l, 0) != dhcp4.EventBound {
			b.Fatal("no lease")
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			now := time.Duration(i) * time.Microsecond
			s.Poll(now)
			d.Poll(now)
		}
	})
}

// TestDHCPMovedNetwork: the stack is bound on one network and its link is
// moved to another (a server for another subnet, whose first OFFER is
// lost): when rebinding reaches the new server it NAKs, the stack drops
// its address, retransmits the DISCOVER and takes the new network's
// address and gateway.
func TestDHCPMovedNetwork(t *testing.T) {
	s, d, l := dhcpSetup(t, false)
	if run(s, d, l, 0) != dhcp4.EventBound {
		t.Fatal("no lease")
	}
	lease, _ := d.Lease()
	moved := dhcp4test.New(netip.MustParseAddr("10.8.0.1"), netip.MustParsePrefix("10.8.0.0/24"),
		netip.MustParseAddr("10.8.0.50"), netip.MustParseAddr("10.8.0.60"), netip.MustParseAddr("10.8.0.1"), testLease)
	lostOffers := 0
	moved.DropReplies(func(ty dhcpv4.MessageType) bool {
		if ty == dhcpv4.MessageTypeOffer && lostOffers == 0 {
			lostOffers++
			return true
		}
		return false
	})
	l.srv = moved
	now, events := time.Duration(0), []dhcp4.Event{}
	for len(events) < 2 && now < lease.Time*2 {
		now = d.Next()
		if ev := run(s, d, l, now); ev != dhcp4.EventNone {
			events = append(events, ev)
			if ev == dhcp4.EventLost && (s.HasAddr() || now >= lease.Time) {
				t.Errorf("NAK at %v: stack still has %v (lease ends %v)", now, s.Addr(), lease.Time)
			}
		}
	}
	if len(events) != 2 || events[0] != dhcp4.EventLost || events[1] != dhcp4.EventBound || moved.Sent(dhcpv4.MessageTypeNak) != 1 || lostOffers != 1 {
		t.Fatalf("events %v, NAKs %d, lost offers %d", events, moved.Sent(dhcpv4.MessageTypeNak), lostOffers)
	}
	if a := s.Addr(); a[1] != 8 || s.Config().Gateway != [4]byte{10, 8, 0, 1} {
		t.Errorf("after the move the stack has %v via %v", a, s.Config().Gateway)
	}
}
