package dhcp

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/rlgo/redleaf/netboot/privnet"
)

// lab is a server namespace with bridge br0 (10.0.0.1/24) and a client
// namespace joined to it by a veth (eth0 there).
type lab struct {
	srv, cli *privnet.NS
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if err := privnet.Usable(); err != nil {
		t.Skip("needs root for network namespaces: ", err)
	}
	l := &lab{}
	for _, ns := range []**privnet.NS{&l.srv, &l.cli} {
		n, err := privnet.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		*ns = n
	}
	if err := l.srv.AddBridge("br0", netip.MustParsePrefix("10.0.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.AddVeth("vc0", "br0", netip.Prefix{}, l.cli, "eth0", netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	return l
}

// serve runs s on br0 in the server namespace.
func (l *lab) serve(t *testing.T, s *Server) {
	t.Helper()
	var conns Conns
	err := l.srv.Do(func() error {
		var err error
		conns, err = Listen("br0", s.ServerIP, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, conns); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestSockets runs real exchanges through the sockets: a full lease with
// nclient4 (raw sockets, broadcast replies), a restart that keeps it, a
// relayed request and the port 4011 request.
func TestSockets(t *testing.T) {
	l := newLab(t)
	path := filepath.Join(t.TempDir(), "leases")
	leases, err := OpenLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newServer(t, Full, nil, leases)
	s.Now = nil
	ctx, cancel := context.WithCancel(context.Background())
	var conns Conns
	if err := l.srv.Do(func() error { conns, err = Listen("br0", serverIP, true); return err }); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(ctx, conns); close(done) }()

	var client *testClient
	if err := l.cli.Do(func() error { client, err = newTestClient("eth0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	lease, err := client.exchange(mac1, dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")))
	if err != nil {
		t.Fatal(err)
	}
	ip := addr(lease.ACK.YourIPAddr)
	if !s.Subnets[0].Contains(ip) || lease.ACK.BootFileName != "snponly.efi" {
		t.Fatalf("ACK %s", lease.ACK.Summary())
	}

	// Restart: a new server on the same lease file.
	cancel()
	<-done
	leases.Close()
	if leases, err = OpenLeases(path); err != nil {
		t.Fatal(err)
	}
	defer leases.Close()
	s2, _ := newServer(t, Full, nil, leases)
	s2.Now = nil
	l.serve(t, s2)
	lease2, err := client.exchange(mac1)
	if err != nil {
		t.Fatal(err)
	}
	if got := addr(lease2.ACK.YourIPAddr); got != ip {
		t.Errorf("after restart got %v, had %v", got, ip)
	}

	// A relay agent: 10.0.0.2 on our side, 10.9.0.1 on its clients'
	// network, which the server reaches through it.
	for _, a := range []string{"10.0.0.2/24", "10.9.0.1/24"} {
		if err := l.cli.AddAddr("eth0", netip.MustParsePrefix(a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.srv.AddRoute(netip.MustParsePrefix("10.9.0.0/24"), netip.MustParseAddr("10.0.0.2")); err != nil {
		t.Fatal(err)
	}
	var relay *net.UDPConn
	if err := l.cli.Do(func() error {
		relay, err = net.ListenUDP("udp4", &net.UDPAddr{Port: ServerPort})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	d := request(t, mac2, dhcpv4.MessageTypeDiscover, append(pxe(iana.INTEL_X86PC), dhcpv4.WithGatewayIP(net.IPv4(10, 9, 0, 1)))...)
	d.HopCount = 1
	relay.WriteTo(d.ToBytes(), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: ServerPort})
	relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("relay got no reply: %v", err)
	}
	offer, err := dhcpv4.FromBytes(buf[:n])
	if err != nil || offer.MessageType() != dhcpv4.MessageTypeOffer || !s2.Subnets[1].Contains(addr(offer.YourIPAddr)) || offer.BootFileName != "undionly.kpxe" {
		t.Errorf("relay got %v from %v: %v", offer, from, err)
	}

	// Port 4011, unicast from the client's address.
	var pxeConn *net.UDPConn
	if err := l.cli.Do(func() error {
		pxeConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 4011})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pxeConn.Close()
	req := request(t, mac1, dhcpv4.MessageTypeRequest, append(pxe(iana.EFI_X86_64), dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 2)))...)
	pxeConn.WriteTo(req.ToBytes(), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: PXEPort})
	pxeConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err = pxeConn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer on port 4011: %v", err)
	}
	ack, err := dhcpv4.FromBytes(buf[:n])
	if err != nil || ack.MessageType() != dhcpv4.MessageTypeAck || ack.BootFileName != "snponly.efi" {
		t.Errorf("port 4011 answer %v: %v", ack, err)
	}
}

// TestListenErrors checks the messages for a missing interface and a
// taken port.
func TestListenErrors(t *testing.T) {
	l := newLab(t)
	err := l.srv.Do(func() error { _, err := Listen("nosuch0", serverIP, false); return err })
	if err == nil || !strings.Contains(err.Error(), `interface "nosuch0" does not exist`) || !strings.Contains(err.Error(), "br0") {
		t.Errorf("missing interface: %v", err)
	}
	var c1 Conns
	if err := l.srv.Do(func() error { var err error; c1, err = Listen("br0", serverIP, true); return err }); err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	err = l.srv.Do(func() error { _, err := Listen("br0", serverIP, true); return err })
	if err == nil || !strings.Contains(err.Error(), "port 67") || !strings.Contains(err.Error(), "is taken") {
		t.Errorf("taken port: %v", err)
	}
}
