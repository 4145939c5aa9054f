package stack_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rlgo/redleaf/dhcp4"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/netboot/dhcp"
)

type anyClient struct{}

func (anyClient) Boot(*dhcp.Client) (dhcp.Boot, bool)             { return dhcp.Boot{}, true }
func (anyClient) Reservation(net.HardwareAddr) (netip.Addr, bool) { return netip.Addr{}, false }
func (anyClient) ReservedFor(netip.Addr) (net.HardwareAddr, bool) { return nil, false }

// TestLinuxDHCPRouted: over a TAP device in a namespace of its own, the
// stack gets its address from the project's DHCP server (netboot/dhcp on
// real sockets, Linux's stack carrying its replies), with Linux as the
// router; then it connects to an address outside its subnet (on Linux's
// loopback), which it reaches through the gateway: it asks ARP for the
// router only.
func TestLinuxDHCPRouted(t *testing.T) {
	n := newNetns(t)
	run(t, "ip", "-n", n.name, "addr", "add", "192.168.77.1/32", "dev", "lo")
	srv := &dhcp.Server{
		Mode:     dhcp.Full,
		ServerIP: netip.MustParseAddr(linuxIP),
		Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix("10.77.0.0/24"),
			Start: netip.MustParseAddr("10.77.0.100"), End: netip.MustParseAddr("10.77.0.120"),
			Router: netip.MustParseAddr(linuxIP)}},
		Policy: anyClient{},
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	type listeners struct {
		conns dhcp.Conns
		ln    net.Listener
	}
	ls := inNetns(t, n.name, func() (listeners, error) {
		conns, err := dhcp.Listen("rltap0", srv.ServerIP, false)
		if err != nil {
			return listeners{}, err
		}
		ln, err := net.Listen("tcp4", "192.168.77.1:0")
		return listeners{conns, ln}, err
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ls.conns)
	defer ls.ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ls.ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	s, err := stack.New(n.link, stack.Config{Unaddressed: true, Seed: uint64(time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.StartDHCP(dhcp4.Config{Seed: uint64(time.Now().UnixNano()), Retry: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	poll := func() {
		now := time.Since(start)
		if _, err := s.Poll(now); err != nil {
			t.Fatal(err)
		}
		d.Poll(now)
		time.Sleep(100 * time.Microsecond)
	}
	for d.State() != dhcp4.StateBound {
		if time.Now().After(deadline) {
			t.Fatalf("no lease in 30 s: state %v, stats %+v", d.State(), d.Stats())
		}
		poll()
	}
	lease, _ := d.Lease()
	t.Logf("lease after %v: %+v", time.Since(start).Round(time.Millisecond), lease)
	if s.Addr() != lease.Addr || s.Config().Gateway != [4]byte{10, 77, 0, 1} || lease.Addr[2] != 0 || lease.Addr[3] < 100 || lease.Addr[3] > 120 {
		t.Fatalf("stack %v via %v, lease %+v", s.Addr(), s.Config().Gateway, lease)
	}

	port := uint16(ls.ln.Addr().(*net.TCPAddr).Port)
	c, err := s.Dial([4]byte{192, 168, 77, 1}, port)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("routed through the gateway\n")
	var lc net.Conn
	for lc == nil {
		select {
		case lc = <-accepted:
		default:
			if time.Now().After(deadline) {
				t.Fatalf("Linux accepted nothing: connection %v, err %v", c.State(), c.Err())
			}
			poll()
		}
	}
	defer lc.Close()
	if ra := lc.RemoteAddr().(*net.TCPAddr).IP.To4(); [4]byte(ra) != lease.Addr {
		t.Errorf("Linux sees the connection from %v, want the leased %v", ra, lease.Addr)
	}
	for len(msg) > 0 {
		k, err := c.Write(msg)
		if err != nil && err != stack.ErrWouldBlock {
			t.Fatal(err)
		}
		msg = msg[k:]
		poll()
	}
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 64)
		lc.SetReadDeadline(time.Now().Add(20 * time.Second))
		k, _ := io.ReadAtLeast(lc, b, len("routed through the gateway\n"))
		got <- string(b[:k])
	}()
	var line string
	for read := false; !read; {
		select {
		case line = <-got:
			read = true
		default:
			poll()
		}
	}
	if line != "routed through the gateway\n" {
		t.Errorf("Linux read %q", line)
	}
	for _, e := range s.ARPCache(nil) {
		if e.IP != [4]byte{10, 77, 0, 1} {
			t.Errorf("ARP cache has %v: only the router should be asked", e.IP)
		}
	}
}
