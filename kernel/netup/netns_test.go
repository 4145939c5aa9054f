package netup

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/rlgo/redleaf/netboot/dhcp"
	"github.com/rlgo/redleaf/netboot/privnet"
)

// anyone serves every client an address and no boot file.
type anyone struct{}

func (anyone) Boot(*dhcp.Client) (dhcp.Boot, bool)             { return dhcp.Boot{}, true }
func (anyone) Reservation(net.HardwareAddr) (netip.Addr, bool) { return netip.Addr{}, false }
func (anyone) ReservedFor(netip.Addr) (net.HardwareAddr, bool) { return nil, false }

// TestReportBootedNetns runs ReportBooted in a namespace of its own whose
// only NIC is an unconfigured veth (plus a second one without carrier,
// which it must not pick), against the netboot DHCP server and an HTTP
// server in another namespace: it must get an address and a default
// route, and post "booted" with the token.
func TestReportBootedNetns(t *testing.T) {
	if err := privnet.Usable(); err != nil {
		t.Skip("needs root for network namespaces: ", err)
	}
	srvNS, err := privnet.New()
	if err != nil {
		t.Fatal(err)
	}
	defer srvNS.Close()
	cliNS, err := privnet.New()
	if err != nil {
		t.Fatal(err)
	}
	defer cliNS.Close()
	if err := srvNS.AddBridge("br0", netip.MustParsePrefix("10.0.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := srvNS.AddVeth("vc0", "br0", netip.Prefix{}, cliNS, "eth0", netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	// eth0 down (Up sets it up), and a NIC that never gets carrier (its
	// peer stays down), which Up must leave alone.
	if err := cliNS.Do(func() error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "dead0"}, PeerName: "dead1"}); err != nil {
			return err
		}
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		return netlink.LinkSetDown(eth0)
	}); err != nil {
		t.Fatal(err)
	}

	s := &dhcp.Server{
		Mode:     dhcp.Full,
		ServerIP: netip.MustParseAddr("10.0.0.1"),
		Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix("10.0.0.0/24"),
			Start: netip.MustParseAddr("10.0.0.100"), End: netip.MustParseAddr("10.0.0.120"),
			Router: netip.MustParseAddr("10.0.0.1")}},
		Policy: anyone{},
		Log:    slogDiscard(),
	}
	var conns dhcp.Conns
	var ln net.Listener
	if err := srvNS.Do(func() error {
		var err error
		if conns, err = dhcp.Listen("br0", s.ServerIP, false); err != nil {
			return err
		}
		ln, err = net.Listen("tcp4", "10.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx, conns)
	got := make(chan Booted, 1)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/booted" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		var b Booted
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("body %q: %v", body, err)
		}
		got <- b
	})}
	go hs.Serve(ln)
	defer hs.Close()

	// The HTTP client dials on goroutines of its own: dial inside the
	// namespace explicitly.
	r := &Reporter{URL: "http://" + ln.Addr().String() + "/api", Token: "tok", Logf: t.Logf,
		Client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: func(_ context.Context, network, addr string) (net.Conn, error) { return cliNS.Dial(network, addr) },
		}}}
	var link *Link
	start := time.Now()
	err = cliNS.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		link, err = ReportBooted(ctx, Config{CarrierWait: 5 * time.Second, Logf: t.Logf}, r, Booted{Boot: "b1", Kernel: "Linux test", Image: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("up in %v: %s", time.Since(start).Round(time.Millisecond), link)
	if link.Name != "eth0" || !link.Addr.Addr().IsValid() || link.Addr.Bits() != 24 || link.Router != s.ServerIP || link.DHCPServer != s.ServerIP {
		t.Errorf("link %+v", link)
	}
	b := <-got
	if b.Status != "booted" || b.Boot != "b1" || b.IP != link.Addr.String() || b.Interface != "eth0" || b.MAC != link.MAC.String() {
		t.Errorf("report %+v", b)
	}
	// The configuration is in the namespace: address and default route.
	if err := cliNS.Do(func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if a, ok := globalIPv4(l); !ok || a != link.Addr {
			t.Errorf("eth0 has %v, want %v", a, link.Addr)
		}
		routes, err := netlink.RouteList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		def := false
		for _, rt := range routes {
			if (rt.Dst == nil || rt.Dst.IP.IsUnspecified()) && rt.Gw.Equal(net.IPv4(10, 0, 0, 1)) {
				def = true
			}
		}
		if !def {
			t.Errorf("no default route via 10.0.0.1: %v", routes)
		}
		dead, err := netlink.LinkByName("dead0")
		if err == nil && dead.Attrs().Flags&net.FlagUp != 0 {
			t.Errorf("dead0 left up")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
