package dhcp

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/rlgo/redleaf/netboot/journal"
)

// testPolicy boots PXE clients into iPXE by firmware and iPXE into a
// script URL; deny lists MACs that are not served.
type testPolicy struct {
	reserved map[string]netip.Addr
	deny     map[string]bool
	local    map[string]bool // no network boot
}

func (p *testPolicy) Boot(c *Client) (Boot, bool) {
	mac := c.MAC.String()
	if p.deny[mac] {
		return Boot{}, false
	}
	if p.local[mac] {
		return Boot{}, true
	}
	switch {
	case c.IPXE:
		return Boot{File: "http://10.0.0.1/ipxe/" + mac}, true
	case c.Firmware() == "bios":
		return Boot{File: "undionly.kpxe"}, true
	case c.Firmware() == "efi-x86_64":
		return Boot{File: "snponly.efi"}, true
	case c.Firmware() == "efi-x86_64-http":
		return Boot{File: "http://10.0.0.1/boot/snponly.efi"}, true
	}
	return Boot{}, true
}

func (p *testPolicy) Reservation(mac net.HardwareAddr) (netip.Addr, bool) {
	a, ok := p.reserved[mac.String()]
	return a, ok
}

func (p *testPolicy) ReservedFor(ip netip.Addr) (net.HardwareAddr, bool) {
	for m, a := range p.reserved {
		if a == ip {
			hw, _ := net.ParseMAC(m)
			return hw, true
		}
	}
	return nil, false
}

var (
	serverIP = netip.MustParseAddr("10.0.0.1")
	mac1     = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}
	mac2     = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 2}
	mac3     = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 3}
)

// clock is a settable time for lease expiry.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newServer(t testing.TB, mode Mode, p *testPolicy, leases *Leases) (*Server, *clock) {
	t.Helper()
	if p == nil {
		p = &testPolicy{}
	}
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := &Server{
		Mode:     mode,
		ServerIP: serverIP,
		Subnets: []Subnet{
			{Prefix: netip.MustParsePrefix("10.0.0.0/24"), Start: netip.MustParseAddr("10.0.0.100"), End: netip.MustParseAddr("10.0.0.199"),
				Router: netip.MustParseAddr("10.0.0.254"), DNS: []netip.Addr{netip.MustParseAddr("10.0.0.53")}},
			{Prefix: netip.MustParsePrefix("10.9.0.0/24"), Start: netip.MustParseAddr("10.9.0.10"), End: netip.MustParseAddr("10.9.0.20")},
		},
		LeaseTime: time.Hour,
		Leases:    leases,
		Policy:    p,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:       clk.now,
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func request(t *testing.T, mac net.HardwareAddr, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(typ)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	// Through the wire format, as the server sees it.
	m, err = dhcpv4.FromBytes(m.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pxe(arch iana.Arch) []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})),
	}
}

func ipxe(arch iana.Arch) []dhcpv4.Modifier {
	return append(pxe(arch), dhcpv4.WithUserClass("iPXE", false))
}

var bcast = &net.UDPAddr{IP: net.IPv4bcast, Port: ClientPort}

// exchange runs DISCOVER and REQUEST and returns the ACK.
func exchange(t *testing.T, s *Server, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	offer, _, tx := s.Handle(request(t, mac, dhcpv4.MessageTypeDiscover, mods...), bcast, ServerPort)
	if offer == nil {
		t.Fatalf("no OFFER: %+v", tx)
	}
	req := request(t, mac, dhcpv4.MessageTypeRequest, append(mods,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(offer.ServerIdentifier())))...)
	ack, _, tx := s.Handle(req, bcast, ServerPort)
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REQUEST for %v answered %v: %+v", offer.YourIPAddr, ack, tx)
	}
	if !ack.YourIPAddr.Equal(offer.YourIPAddr) {
		t.Fatalf("ACK %v for OFFER %v", ack.YourIPAddr, offer.YourIPAddr)
	}
	return ack
}

func TestFullExchangePXE(t *testing.T) {
	s, _ := newServer(t, Full, nil, nil)
	offer, dest, tx := s.Handle(request(t, mac1, dhcpv4.MessageTypeDiscover, pxe(iana.INTEL_X86PC)...), bcast, ServerPort)
	if offer == nil {
		t.Fatalf("no offer: %+v", tx)
	}
	if offer.MessageType() != dhcpv4.MessageTypeOffer || dest.String() != "255.255.255.255:68" {
		t.Errorf("reply %v to %v", offer.MessageType(), dest)
	}
	ip := addr(offer.YourIPAddr)
	if !s.Subnets[0].Contains(ip) {
		t.Errorf("offered %v outside the pool", ip)
	}
	if offer.BootFileName != "undionly.kpxe" || offer.BootFileNameOption() != "undionly.kpxe" || !offer.ServerIPAddr.Equal(net.IP(serverIP.AsSlice())) {
		t.Errorf("boot file %q/%q next server %v", offer.BootFileName, offer.BootFileNameOption(), offer.ServerIPAddr)
	}
	if offer.ClassIdentifier() != "PXEClient" || offer.Options.Get(dhcpv4.OptionVendorSpecificInformation) == nil || offer.Options.Get(dhcpv4.OptionClientMachineIdentifier) == nil {
		t.Errorf("PXE options missing: %v", offer.Summary())
	}
	if offer.SubnetMask().String() != "ffffff00" || len(offer.Router()) != 1 || len(offer.DNS()) != 1 || offer.IPAddressLeaseTime(0) != time.Hour {
		t.Errorf("lease options: %v", offer.Summary())
	}
	if tx.Reply != "OFFER" || tx.Firmware != "bios" || tx.Arch != 0 || tx.Boot != "undionly.kpxe" || tx.IP != ip {
		t.Errorf("transaction %+v", tx)
	}
	ack := exchange(t, s, mac1, pxe(iana.INTEL_X86PC)...)
	if addr(ack.YourIPAddr) != ip {
		t.Errorf("ACK %v, offered %v", ack.YourIPAddr, ip)
	}
	if l, ok := s.Leases.ByMAC(mac1); !ok || l.IP != ip || !l.Active(s.now()) {
		t.Errorf("lease %+v %v", l, ok)
	}
	// A plain client gets an address and no boot information.
	ack = exchange(t, s, mac2)
	if ack.BootFileName != "" || ack.ClassIdentifier() != "" || ack.ServerIPAddr != nil && !ack.ServerIPAddr.IsUnspecified() {
		t.Errorf("plain client got boot information: %v", ack.Summary())
	}
}

func TestClientDetection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mods     []dhcpv4.Modifier
		firmware string
		ipxe     bool
		boot     string
		class    string
	}{
		{"bios", pxe(iana.INTEL_X86PC), "bios", false, "undionly.kpxe", "PXEClient"},
		{"efi x64", pxe(iana.EFI_X86_64), "efi-x86_64", false, "snponly.efi", "PXEClient"},
		{"efi bc", pxe(iana.EFI_BC), "efi-x86_64", false, "snponly.efi", "PXEClient"},
		{"efi arm64", pxe(iana.EFI_ARM64), "efi-arm64", false, "", ""},
		{"ipxe bios", ipxe(iana.INTEL_X86PC), "bios", true, "http://10.0.0.1/ipxe/52:54:00:00:00:01", "PXEClient"},
		{"ipxe efi rfc3004", append(pxe(iana.EFI_X86_64), dhcpv4.WithUserClass("iPXE", true)), "efi-x86_64", true, "http://10.0.0.1/ipxe/52:54:00:00:00:01", "PXEClient"},
		{"http boot", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64_HTTP)),
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("HTTPClient:Arch:00016:UNDI:003001")),
		}, "efi-x86_64-http", false, "http://10.0.0.1/boot/snponly.efi", "HTTPClient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newServer(t, Full, nil, nil)
			resp, _, tx := s.Handle(request(t, mac1, dhcpv4.MessageTypeDiscover, tc.mods...), bcast, ServerPort)
			if resp == nil {
				t.Fatalf("no reply: %+v", tx)
			}
			if tx.Firmware != tc.firmware || tx.IPXE != tc.ipxe {
				t.Errorf("firmware %q ipxe %v", tx.Firmware, tx.IPXE)
			}
			if resp.BootFileNameOption() != tc.boot || resp.ClassIdentifier() != tc.class {
				t.Errorf("boot %q class %q", resp.BootFileNameOption(), resp.ClassIdentifier())
			}
			if tc.boot != "" && !resp.ServerIPAddr.Equal(net.IP(serverIP.AsSlice())) {
				// iPXE wants siaddr with any boot file, URLs included.
				t.Errorf("next server %v", resp.ServerIPAddr)
			}
			if tc.ipxe && resp.Options.Get(dhcpv4.OptionVendorSpecificInformation) != nil {
				t.Error("iPXE got PXE vendor options")
			}
		})
	}
}

func TestReservations(t *testing.T) {
	res := netip.MustParseAddr("10.0.0.150")
	outside := netip.MustParseAddr("10.0.0.20") // reservations may lie outside the pool
	p := &testPolicy{reserved: map[string]netip.Addr{mac1.String(): res, mac3.String(): outside}}
	s, _ := newServer(t, Full, p, nil)
	// Fill the pool with other clients: none gets the reserved address.
	for i := range 99 {
		mac := net.HardwareAddr{0x52, 0x54, 1, 0, 0, byte(i)}
		ack := exchange(t, s, mac)
		if addr(ack.YourIPAddr) == res {
			t.Fatalf("client %v got %v, reserved for %v", mac, res, mac1)
		}
	}
	if ack := exchange(t, s, mac1); addr(ack.YourIPAddr) != res {
		t.Errorf("reserved client got %v, want %v", ack.YourIPAddr, res)
	}
	if ack := exchange(t, s, mac3); addr(ack.YourIPAddr) != outside {
		t.Errorf("reserved client got %v, want %v", ack.YourIPAddr, outside)
	}
	// The pool is full now.
	if resp, _, tx := s.Handle(request(t, mac2, dhcpv4.MessageTypeDiscover), bcast, ServerPort); resp != nil || !strings.Contains(tx.Note, "exhausted") {
		t.Errorf("full pool: %v %+v", resp, tx)
	}
	// A client asking for someone else's reserved address is refused.
	req := request(t, mac2, dhcpv4.MessageTypeRequest, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(res.AsSlice())))
	if resp, _, _ := s.Handle(req, bcast, ServerPort); resp == nil || resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("REQUEST for a reserved address: %v", resp)
	}
}

func TestLeasesPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "leases.jsonl")
	leases, err := OpenLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	s, clk := newServer(t, Full, nil, leases)
	ip1 := addr(exchange(t, s, mac1, dhcpv4.WithOption(dhcpv4.OptHostName("node1"))).YourIPAddr)
	ip2 := addr(exchange(t, s, mac2).YourIPAddr)
	leases.Close()

	// A new server on the same file: the same clients get the same
	// addresses, and a new client gets neither.
	leases, err = OpenLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	defer leases.Close()
	if l, ok := leases.ByMAC(mac1); !ok || l.IP != ip1 || l.Hostname != "node1" {
		t.Fatalf("after reopening: %+v %v", l, ok)
	}
	s2, clk2 := newServer(t, Full, nil, leases)
	clk2.t = clk.t.Add(10 * time.Minute)
	if got := addr(exchange(t, s2, mac2).YourIPAddr); got != ip2 {
		t.Errorf("mac2 got %v after restart, had %v", got, ip2)
	}
	offer, _, _ := s2.Handle(request(t, mac3, dhcpv4.MessageTypeDiscover, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip1.AsSlice()))), bcast, ServerPort)
	if got := addr(offer.YourIPAddr); got == ip1 || got == ip2 {
		t.Errorf("new client offered %v, leased to another", got)
	}
	// A client rebooting (INIT-REBOOT: option 50, no server id) keeps
	// its address.
	req := request(t, mac1, dhcpv4.MessageTypeRequest, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip1.AsSlice())))
	if resp, _, tx := s2.Handle(req, bcast, ServerPort); resp == nil || resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("INIT-REBOOT: %v %+v", resp, tx)
	}
	// The journal stays readable as a whole.
	b, _ := os.ReadFile(path)
	if _, err := ParseJournal(bytes.NewReader(b), path); err != nil {
		t.Error(err)
	}
}

func TestExpiry(t *testing.T) {
	s, clk := newServer(t, Full, nil, nil)
	s.Subnets[0].Start = netip.MustParseAddr("10.0.0.100")
	s.Subnets[0].End = netip.MustParseAddr("10.0.0.100") // one address
	ip := addr(exchange(t, s, mac1).YourIPAddr)
	if resp, _, _ := s.Handle(request(t, mac2, dhcpv4.MessageTypeDiscover), bcast, ServerPort); resp != nil {
		t.Fatalf("offered %v while leased", resp.YourIPAddr)
	}
	// Renewal (ciaddr, unicast) extends the lease.
	clk.t = clk.t.Add(50 * time.Minute)
	renew := request(t, mac1, dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(ip.AsSlice()))
	resp, dest, _ := s.Handle(renew, &net.UDPAddr{IP: ip.AsSlice(), Port: ClientPort}, ServerPort)
	if resp == nil || resp.MessageType() != dhcpv4.MessageTypeAck || dest.String() != ip.String()+":68" {
		t.Fatalf("renewal: %v to %v", resp, dest)
	}
	clk.t = clk.t.Add(59 * time.Minute)
	if resp, _, _ := s.Handle(request(t, mac2, dhcpv4.MessageTypeDiscover), bcast, ServerPort); resp != nil {
		t.Fatalf("offered %v before the renewed lease expired", resp.YourIPAddr)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	if got := addr(exchange(t, s, mac2).YourIPAddr); got != ip {
		t.Errorf("after expiry mac2 got %v, want %v", got, ip)
	}
	// mac1 comes back: its address is gone, the pool is full.
	renew = request(t, mac1, dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(ip.AsSlice()))
	if resp, _, _ := s.Handle(renew, nil, ServerPort); resp == nil || resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("renewal of a lost lease: %v", resp)
	}
}

func TestDeclineRelease(t *testing.T) {
	s, clk := newServer(t, Full, nil, nil)
	ip := addr(exchange(t, s, mac1).YourIPAddr)
	// The client finds the address in use and declines it.
	decl := request(t, mac1, dhcpv4.MessageTypeDecline, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice())))
	if resp, _, tx := s.Handle(decl, bcast, ServerPort); resp != nil || !strings.Contains(tx.Note, "declined") {
		t.Fatalf("DECLINE: %v %+v", resp, tx)
	}
	ip2 := addr(exchange(t, s, mac1).YourIPAddr)
	if ip2 == ip {
		t.Fatalf("declined address %v offered again", ip)
	}
	if _, ok := s.Leases.Declined(ip, clk.t); !ok {
		t.Error("address not marked declined")
	}
	clk.t = clk.t.Add(11 * time.Minute)
	if _, ok := s.Leases.Declined(ip, clk.t); ok {
		t.Error("decline did not time out")
	}
	// RELEASE ends the lease; the client gets the same address back.
	rel := request(t, mac1, dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(ip2.AsSlice()))
	if resp, _, tx := s.Handle(rel, nil, ServerPort); resp != nil || !strings.Contains(tx.Note, "released") {
		t.Fatalf("RELEASE: %v %+v", resp, tx)
	}
	if l, _ := s.Leases.ByMAC(mac1); l.Active(clk.t) {
		t.Error("lease still active after RELEASE")
	}
	if got := addr(exchange(t, s, mac1).YourIPAddr); got != ip2 {
		t.Errorf("after RELEASE got %v, want %v back", got, ip2)
	}
	// RELEASE of someone else's address is ignored.
	rel = request(t, mac2, dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(ip2.AsSlice()))
	s.Handle(rel, nil, ServerPort)
	if l, _ := s.Leases.ByMAC(mac1); !l.Active(clk.t) {
		t.Error("another client released mac1's lease")
	}
}

func TestRequestEdgeCases(t *testing.T) {
	s, _ := newServer(t, Full, nil, nil)
	offer, _, _ := s.Handle(request(t, mac1, dhcpv4.MessageTypeDiscover), bcast, ServerPort)
	// The client takes another server's offer: no reply, offer dropped.
	other := request(t, mac1, dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 77))),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 2))))
	if resp, _, tx := s.Handle(other, bcast, ServerPort); resp != nil || !strings.Contains(tx.Note, "chose server") {
		t.Errorf("REQUEST to another server: %v %+v", resp, tx)
	}
	if len(s.offers) != 0 {
		t.Errorf("offer %v kept", offer.YourIPAddr)
	}
	// A client from another network is told to start over, by broadcast.
	away := request(t, mac1, dhcpv4.MessageTypeRequest, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 1, 5))))
	resp, dest, _ := s.Handle(away, bcast, ServerPort)
	if resp == nil || resp.MessageType() != dhcpv4.MessageTypeNak || dest.String() != "255.255.255.255:68" {
		t.Errorf("INIT-REBOOT from elsewhere: %v to %v", resp, dest)
	}
	// INFORM: options, no address, unicast.
	inform := request(t, mac2, dhcpv4.MessageTypeInform, dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 30)))
	resp, dest, _ = s.Handle(inform, nil, ServerPort)
	if resp == nil || resp.MessageType() != dhcpv4.MessageTypeAck || !resp.YourIPAddr.IsUnspecified() || dest.String() != "10.0.0.30:68" {
		t.Errorf("INFORM: %v to %v", resp, dest)
	}
	// Replies and garbage.
	bad := request(t, mac1, dhcpv4.MessageTypeDiscover)
	bad.OpCode = dhcpv4.OpcodeBootReply
	if resp, _, _ := s.Handle(bad, bcast, ServerPort); resp != nil {
		t.Error("answered a BOOTREPLY")
	}
}

func TestRelay(t *testing.T) {
	s, _ := newServer(t, Full, nil, nil)
	relay := net.IPv4(10, 9, 0, 1)
	d := request(t, mac1, dhcpv4.MessageTypeDiscover, append(pxe(iana.EFI_X86_64), dhcpv4.WithGatewayIP(relay))...)
	resp, dest, tx := s.Handle(d, &net.UDPAddr{IP: relay, Port: ServerPort}, ServerPort)
	if resp == nil {
		t.Fatalf("no reply: %+v", tx)
	}
	if !s.Subnets[1].Contains(addr(resp.YourIPAddr)) || dest.String() != "10.9.0.1:67" || !resp.GatewayIPAddr.Equal(relay) {
		t.Errorf("relayed offer %v to %v, giaddr %v", resp.YourIPAddr, dest, resp.GatewayIPAddr)
	}
	if tx.Relay.String() != "10.9.0.1" || resp.BootFileNameOption() != "snponly.efi" {
		t.Errorf("%+v", tx)
	}
	d = request(t, mac1, dhcpv4.MessageTypeDiscover, dhcpv4.WithGatewayIP(net.IPv4(172, 16, 0, 1)))
	if resp, _, tx := s.Handle(d, &net.UDPAddr{IP: net.IPv4(172, 16, 0, 1), Port: ServerPort}, ServerPort); resp != nil || !strings.Contains(tx.Note, "no subnet") {
		t.Errorf("unknown relay: %v %+v", resp, tx)
	}
}

// TestRelayFromLocalLink: a client on our link that sets giaddr gets
// nothing from the relayed subnet; only a packet from a relay agent's
// address and port 67 (and, if listed, from one of the subnet's agents)
// is relayed.
func TestRelayFromLocalLink(t *testing.T) {
	s, _ := newServer(t, Full, nil, nil)
	relay := net.IPv4(10, 9, 0, 1)
	d := request(t, mac1, dhcpv4.MessageTypeDiscover, append(pxe(iana.EFI_X86_64), dhcpv4.WithGatewayIP(relay))...)
	for _, peer := range []*net.UDPAddr{
		nil,
		{IP: net.IPv4zero, Port: ClientPort},
		{IP: net.IPv4(10, 0, 0, 150), Port: ClientPort},
		{IP: net.IPv4bcast, Port: ServerPort},
		{IP: net.IPv4zero, Port: ServerPort},
	} {
		if resp, _, tx := s.Handle(d, peer, ServerPort); resp != nil || !strings.Contains(tx.Note, "giaddr") {
			t.Errorf("giaddr from %v: %v %+v", peer, resp, tx)
		}
	}
	agent := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: ServerPort}
	if resp, _, tx := s.Handle(d, agent, ServerPort); resp == nil {
		t.Errorf("from a relay agent: %+v", tx)
	}
	s.Subnets[1].Agents = []netip.Addr{netip.MustParseAddr("10.0.0.3")}
	if resp, _, tx := s.Handle(d, agent, ServerPort); resp != nil || !strings.Contains(tx.Note, "not one of the subnet's relay agents") {
		t.Errorf("from an agent not listed: %v %+v", resp, tx)
	}
	if resp, _, tx := s.Handle(d, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 3), Port: ServerPort}, ServerPort); resp == nil {
		t.Errorf("from the listed agent: %+v", tx)
	}
}

func TestProxy(t *testing.T) {
	s, _ := newServer(t, Proxy, &testPolicy{local: map[string]bool{mac3.String(): true}}, nil)
	// Not a netboot client: not ours.
	if resp, _, _ := s.Handle(request(t, mac1, dhcpv4.MessageTypeDiscover), bcast, ServerPort); resp != nil {
		t.Error("proxy answered a plain client")
	}
	resp, dest, tx := s.Handle(request(t, mac1, dhcpv4.MessageTypeDiscover, pxe(iana.INTEL_X86PC)...), bcast, ServerPort)
	if resp == nil {
		t.Fatalf("no proxy offer: %+v", tx)
	}
	if resp.MessageType() != dhcpv4.MessageTypeOffer || !resp.YourIPAddr.IsUnspecified() || dest.String() != "255.255.255.255:68" {
		t.Errorf("proxy offer %v yiaddr %v to %v", resp.MessageType(), resp.YourIPAddr, dest)
	}
	if resp.BootFileName != "undionly.kpxe" || !resp.ServerIPAddr.Equal(net.IP(serverIP.AsSlice())) || resp.ClassIdentifier() != "PXEClient" {
		t.Errorf("proxy offer: %s", resp.Summary())
	}
	if resp.Options.Get(dhcpv4.OptionIPAddressLeaseTime) != nil || resp.Options.Get(dhcpv4.OptionRouter) != nil {
		t.Error("proxy offer carries lease options")
	}
	// REQUESTs on port 67 belong to the real DHCP server.
	req := request(t, mac1, dhcpv4.MessageTypeRequest, pxe(iana.EFI_X86_64)...)
	if resp, _, _ := s.Handle(req, bcast, ServerPort); resp != nil {
		t.Error("proxy answered a REQUEST on port 67")
	}
	// UEFI asks port 4011 for the boot file.
	client := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 123), Port: 68}
	req = request(t, mac2, dhcpv4.MessageTypeRequest, append(pxe(iana.EFI_X86_64), dhcpv4.WithClientIP(client.IP))...)
	resp, dest, tx = s.Handle(req, client, PXEPort)
	if resp == nil || resp.MessageType() != dhcpv4.MessageTypeAck || dest.String() != client.String() {
		t.Fatalf("port 4011: %v to %v: %+v", resp, dest, tx)
	}
	if resp.BootFileName != "snponly.efi" || !resp.YourIPAddr.IsUnspecified() || resp.Options.Get(dhcpv4.OptionClientMachineIdentifier) == nil {
		t.Errorf("port 4011 ACK: %s", resp.Summary())
	}
	// A machine that boots locally gets no proxy offer.
	if resp, _, tx := s.Handle(request(t, mac3, dhcpv4.MessageTypeDiscover, pxe(iana.INTEL_X86PC)...), bcast, ServerPort); resp != nil || !strings.Contains(tx.Note, "local") {
		t.Errorf("local boot: %v %+v", resp, tx)
	}
	// HTTP boot in proxy mode.
	http := request(t, mac1, dhcpv4.MessageTypeDiscover,
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64_HTTP)),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("HTTPClient:Arch:00016:UNDI:003001")))
	resp, _, _ = s.Handle(http, bcast, ServerPort)
	if resp == nil || resp.ClassIdentifier() != "HTTPClient" || resp.BootFileNameOption() != "http://10.0.0.1/boot/snponly.efi" {
		t.Errorf("HTTP boot proxy offer: %v", resp)
	}
}

func TestDenyUnknown(t *testing.T) {
	for _, mode := range []Mode{Full, Proxy} {
		s, _ := newServer(t, mode, &testPolicy{deny: map[string]bool{mac1.String(): true}}, nil)
		resp, _, tx := s.Handle(request(t, mac1, dhcpv4.MessageTypeDiscover, pxe(iana.INTEL_X86PC)...), bcast, ServerPort)
		if resp != nil || !strings.Contains(tx.Note, "unknown") {
			t.Errorf("%s: denied client got %v (%+v)", mode, resp, tx)
		}
	}
}

func TestJournal(t *testing.T) {
	good := `{"op":"lease","mac":"52:54:00:00:00:01","ip":"10.0.0.5","expires":"2030-01-01T00:00:00Z"}
{"op":"decline","ip":"10.0.0.6","expires":"2030-01-01T00:00:00Z"}
{"op":"lease","mac":"52:54:00:00:00:02","ip":"10.0.0.5","expires":"2030-01-01T00:00:00Z"}
`
	l, err := ParseJournal(strings.NewReader(good+`{"op":"lease","mac":"52:5`), "leases")
	if err != nil {
		t.Fatalf("truncated last line: %v", err)
	}
	if all := l.All(); len(all) != 1 || all[0].MAC != "52:54:00:00:00:02" {
		t.Errorf("leases %+v", all)
	}
	if _, ok := l.ByMAC(mac1); ok {
		t.Error("mac1 kept a lease on an address given to mac2")
	}
	for _, bad := range []string{
		"{not json}\n",
		`{"op":"lease","mac":"zz","ip":"10.0.0.5"}` + "\n",
		`{"op":"lease","mac":"52:54:00:00:00:01","ip":"::1"}` + "\n",
		`{"op":"explode","ip":"10.0.0.5"}` + "\n",
	} {
		// Damaged in the middle: an error naming the line.
		_, err := ParseJournal(strings.NewReader(bad+good), "leases")
		if err == nil || !strings.Contains(err.Error(), "leases:1:") {
			t.Errorf("%q: %v", bad, err)
		}
		// Damaged last line (a write cut short, even with its newline):
		// skipped, never a refusal to serve.
		l, err := ParseJournal(strings.NewReader(good+bad), "leases")
		if err != nil || len(l.All()) != 1 {
			t.Errorf("%q last: %v", bad, err)
		}
	}
}

// TestJournalDamagedLastLine: a server whose journal ends in a damaged
// record starts, with a warning, and keeps the leases before it.
func TestJournalDamagedLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	os.WriteFile(path, []byte(`{"op":"lease","mac":"52:54:00:00:00:01","ip":"10.0.0.5","expires":"2030-01-01T00:00:00Z"}`+"\n"+`{"op":"lea{"op":"lease"}`+"\n"), 0o600)
	l, err := OpenLeases(path)
	if err != nil {
		t.Fatalf("refused to start: %v", err)
	}
	defer l.Close()
	if _, ok := l.ByMAC(mac1); !ok || !strings.Contains(l.Warning, "line 2") {
		t.Errorf("lease lost or no warning: %q", l.Warning)
	}
}

// TestJournalWriteFails: a lease the journal could not record is not
// given: the client gets a NAK, and memory holds no lease a restart
// would forget.
func TestJournalWriteFails(t *testing.T) {
	l, err := OpenLeases(filepath.Join(t.TempDir(), "leases"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newServer(t, Full, nil, l)
	offer, _, _ := s.Handle(request(t, mac1, dhcpv4.MessageTypeDiscover), bcast, ServerPort)
	l.j.Close() // every later append fails
	req := request(t, mac1, dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(offer.ServerIdentifier())))
	resp, _, tx := s.Handle(req, bcast, ServerPort)
	if resp == nil || resp.MessageType() != dhcpv4.MessageTypeNak || !strings.Contains(tx.Note, "lease file") {
		t.Errorf("REQUEST with a failing journal: %v %+v", resp, tx)
	}
	if _, ok := l.ByMAC(mac1); ok {
		t.Error("a lease the journal did not take is in memory")
	}
}

// TestDeclineOnlyOwnAddress: a DECLINE counts only for an address
// offered or leased to the client that sends it, and declines cannot
// take more than a quarter of the pool.
func TestDeclineOnlyOwnAddress(t *testing.T) {
	s, clk := newServer(t, Full, nil, nil)
	ip := addr(exchange(t, s, mac1).YourIPAddr)
	for _, tc := range []struct {
		mac net.HardwareAddr
		ip  netip.Addr
	}{
		{mac2, netip.MustParseAddr("8.8.8.8")},
		{mac2, ip},                                // mac1's
		{mac2, netip.MustParseAddr("10.0.0.150")}, // nobody's
		{mac1, netip.MustParseAddr("10.0.0.151")}, // not mac1's
	} {
		decl := request(t, tc.mac, dhcpv4.MessageTypeDecline, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(tc.ip.AsSlice())))
		s.Handle(decl, bcast, ServerPort)
		if _, ok := s.Leases.Declined(tc.ip, clk.t); ok {
			t.Errorf("%s declined %v", tc.mac, tc.ip)
		}
	}
	if l, ok := s.Leases.ByMAC(mac1); !ok || !l.Active(clk.t) || l.IP != ip {
		t.Errorf("mac1 lost its lease to another client's DECLINE")
	}
	// 100 clients each declining the address they were offered: the
	// pool (100 addresses) keeps three quarters.
	declined := 0
	for i := range 100 {
		mac := net.HardwareAddr{0x52, 0x54, 1, 0, 0, byte(i)}
		offer, _, _ := s.Handle(request(t, mac, dhcpv4.MessageTypeDiscover), bcast, ServerPort)
		if offer == nil {
			t.Fatalf("client %d got no offer: pool starved", i)
		}
		decl := request(t, mac, dhcpv4.MessageTypeDecline, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)))
		if _, _, tx := s.Handle(decl, bcast, ServerPort); strings.Contains(tx.Note, "out of the pool") {
			declined++
		}
		delete(s.offers, addr(offer.YourIPAddr)) // the client went away
	}
	if declined != 25 {
		t.Errorf("%d of 100 declines honoured, want 25 (a quarter of the pool)", declined)
	}
}

// TestDeclinesExpireFromJournal: expired declines are compacted away.
func TestDeclinesExpireFromJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	l, err := OpenLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	s, clk := newServer(t, Full, nil, l)
	clk.t = time.Now()
	ip := addr(exchange(t, s, mac1).YourIPAddr)
	decl := request(t, mac1, dhcpv4.MessageTypeDecline, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice())))
	s.Handle(decl, bcast, ServerPort)
	if _, ok := l.Declined(ip, clk.t); !ok {
		t.Fatal("not declined")
	}
	l.Close()
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"decline"`)) {
		t.Fatalf("decline not journaled:\n%s", b)
	}
	// Reopened after the decline ran out: compaction drops it.
	l.mu.Lock()
	l.declined[ip] = clk.t.Add(-time.Second)
	l.mu.Unlock()
	l.j, _, _ = journal.Open(path, func([]byte, int64) error { return nil })
	l.compact(time.Now())
	l.Close()
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(`"decline"`)) {
		t.Errorf("expired decline still in the journal:\n%s", b)
	}
}

func TestCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	l, err := OpenLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	s, clk := newServer(t, Full, nil, l)
	for range 1500 {
		clk.t = clk.t.Add(time.Second)
		exchange(t, s, mac1)
	}
	l.Close()
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n")); n > 1100 {
		t.Errorf("journal has %d lines for one lease", n)
	}
	l, err = OpenLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if lease, ok := l.ByMAC(mac1); !ok || !lease.Expires.Equal(clk.t.Add(time.Hour)) {
		t.Errorf("after compaction: %+v", lease)
	}
}
