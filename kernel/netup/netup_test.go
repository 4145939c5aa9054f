package netup

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/rlgo/redleaf/dhcp4"
)

func TestChoose(t *testing.T) {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	a := candidate{name: "eth0", mac: mac("52:54:00:00:00:01")}
	b := candidate{name: "eth1", mac: mac("52:54:00:00:00:02"), carrier: true}
	c := candidate{name: "eth2", mac: mac("52:54:00:00:00:03"), carrier: true}
	for _, tc := range []struct {
		name  string
		cands []candidate
		mac   net.HardwareAddr
		want  string
	}{
		{"MAC wins without carrier", []candidate{a, b, c}, a.mac, "eth0"},
		{"MAC wins over order", []candidate{a, b, c}, c.mac, "eth2"},
		{"unknown MAC: first with carrier", []candidate{a, b, c}, mac("52:54:00:ff:ff:ff"), "eth1"},
		{"no MAC: first with carrier", []candidate{a, b, c}, nil, "eth1"},
		{"none with carrier", []candidate{a}, nil, ""},
		{"nothing", nil, a.mac, ""},
	} {
		got, ok := choose(tc.cands, tc.mac)
		if got.name != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: got %q %v, want %q", tc.name, got.name, ok, tc.want)
		}
	}
}

// TestLeaseFromACK: an ACK built by insomniacslk/dhcp (as the netboot
// server builds them) turns into the lease Up configures, through
// dhcp4.
func TestLeaseFromACK(t *testing.T) {
	parse := func(ack *dhcpv4.DHCPv4) (lease, error) {
		m, err := dhcp4.Parse(ack.ToBytes())
		if err != nil {
			return lease{}, err
		}
		l, err := dhcp4.LeaseFromAck(&m)
		return fromLease(l), err
	}
	ack, err := dhcpv4.New(
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 77, 0, 100)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(10, 77, 0, 254)),
		dhcpv4.WithLeaseTime(3600),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 77, 0, 1))),
	)
	if err != nil {
		t.Fatal(err)
	}
	l, err := parse(ack)
	if err != nil {
		t.Fatal(err)
	}
	if l.addr != netip.MustParsePrefix("10.77.0.100/24") || l.router != netip.MustParseAddr("10.77.0.254") ||
		l.server != netip.MustParseAddr("10.77.0.1") || l.time != time.Hour {
		t.Errorf("lease %+v", l)
	}

	// No mask: the classful default; no router: none.
	ack, _ = dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(192, 168, 7, 9)), dhcpv4.WithLeaseTime(60))
	if l, err := parse(ack); err != nil || l.addr != netip.MustParsePrefix("192.168.7.9/24") || l.router.IsValid() {
		t.Errorf("classful: %+v %v", l, err)
	}

	// No address, or no lease time: an error, not a zero lease.
	ack, _ = dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithLeaseTime(60))
	if _, err := parse(ack); err == nil {
		t.Error("ACK without yiaddr accepted")
	}
	ack, _ = dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(192, 168, 7, 9)))
	if _, err := parse(ack); err == nil {
		t.Error("ACK without a lease time accepted")
	}
}
