package dhcp

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// FuzzHandle feeds arbitrary packets to both modes on both ports: each
// is answered or dropped, never a panic, and every reply encodes.
func FuzzHandle(f *testing.F) {
	seed := func(mac net.HardwareAddr, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) {
		m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(typ)}, mods...)...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.ToBytes())
	}
	seed(mac1, dhcpv4.MessageTypeDiscover, pxe(iana.INTEL_X86PC)...)
	seed(mac1, dhcpv4.MessageTypeDiscover, ipxe(iana.EFI_X86_64)...)
	seed(mac2, dhcpv4.MessageTypeRequest, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 150))))
	seed(mac2, dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 150)))
	seed(mac2, dhcpv4.MessageTypeDecline, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 150))))
	seed(mac3, dhcpv4.MessageTypeInform, dhcpv4.WithGatewayIP(net.IPv4(10, 9, 0, 1)))
	seed(mac3, dhcpv4.MessageTypeDiscover, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0})))
	full, _ := newServer(f, Full, &testPolicy{}, nil)
	proxy, _ := newServer(f, Proxy, &testPolicy{}, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		c := ParseClient(m)
		_ = c.Firmware()
		for _, s := range []*Server{full, proxy} {
			for _, port := range []int{ServerPort, PXEPort} {
				resp, dest, _ := s.Handle(m, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 9), Port: 68}, port)
				if resp == nil {
					continue
				}
				if dest == nil {
					t.Fatal("reply without destination")
				}
				if _, err := dhcpv4.FromBytes(resp.ToBytes()); err != nil {
					t.Fatalf("reply does not parse: %v", err)
				}
				if s.Mode == Proxy && !resp.YourIPAddr.IsUnspecified() {
					t.Fatalf("proxy gave an address: %v", resp.Summary())
				}
			}
		}
	})
}

// FuzzParseJournal checks that a damaged lease file is refused or read,
// never a panic, and that what is read writes back the same.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`{"op":"lease","mac":"52:54:00:00:00:01","ip":"10.0.0.5","expires":"2030-01-01T00:00:00Z"}` + "\n"))
	f.Add([]byte(`{"op":"decline","ip":"10.0.0.6","expires":"2030-01-01T00:00:00Z"}` + "\n{\"op\":"))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseJournal(bytes.NewReader(b), "leases")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "leases:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		for _, r := range l.snapshot() {
			if err := r.check(); err != nil {
				t.Fatalf("kept an invalid record %+v: %v", r, err)
			}
			buf.WriteString(r.Op)
		}
		for _, lease := range l.All() {
			if other, ok := l.ByIP(lease.IP); !ok || other.MAC != lease.MAC {
				t.Fatalf("indexes disagree on %v", lease.IP)
			}
		}
	})
}
