package netstack_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/rlgo/redleaf/dhcp4"
	"github.com/rlgo/redleaf/dhcp4/dhcp4test"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/services/netstack"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// TestDHCPStates: the idl's DHCP states are dhcp4's, shifted by one.
func TestDHCPStates(t *testing.T) {
	for st := dhcp4.StateInit; st <= dhcp4.StateRebinding; st++ {
		if got := idl.DHCPStateName(uint8(st) + idl.DHCPInit); got != st.String() {
			t.Errorf("state %v is %q in idl", st, got)
		}
	}
}

// until polls f (a view of the domain's state through Info) until it
// holds, for at most 20 s.
func until(t *testing.T, n idl.Inet, what string, f func(idl.InetInfo) bool) idl.InetInfo {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := n.Info()
		if err != nil {
			t.Fatal(err)
		}
		if f(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s: %+v", what, info)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDomainDHCP runs the stack domain with rl.netaddr=dhcp's
// configuration over a NIC whose segment has the project's DHCP server
// with 2-second leases: no address (ENETDOWN) while the server is silent;
// a lease when it answers; renewals; when it goes silent again, the lease
// expires, the address goes and an open connection fails with ENETDOWN;
// and a new lease when it comes back.
func TestDomainDHCP(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a lease to expire (about 3 s)")
	}
	srv := dhcp4test.New(netip.MustParseAddr("10.9.0.1"), netip.MustParsePrefix("10.9.0.0/24"),
		netip.MustParseAddr("10.9.0.50"), netip.MustParseAddr("10.9.0.60"), netip.MustParseAddr("10.9.0.1"), 2*time.Second)
	silent := func(dhcpv4.MessageType) bool { return true }
	srv.DropReplies(silent)
	end := netstacktest.Wire([6]byte{0x02, 0, 0, 0, 0, 0x44}, func(f []byte) [][]byte {
		if r := srv.Frame(f); r != nil {
			return [][]byte{r}
		}
		return nil
	})
	m := domain.NewManager()
	t.Cleanup(m.Close)
	nd, err := m.Create(netstacktest.WireKind, domain.Name("wire"), domain.GrantDevice("end", end))
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Create(netstack.Kind, domain.Name("netstack"), domain.Grant(netstack.GrantNet, nd),
		domain.GrantDevice(netstack.GrantConfig, netstack.Config{DHCP: true, Stack: stack.Config{Seed: 5},
			DHCPClient: dhcp4.Config{Retry: 50 * time.Millisecond, MaxRetry: 200 * time.Millisecond, MinRenew: 100 * time.Millisecond}}))
	if err != nil {
		t.Fatal(err)
	}
	n, err := domain.Connect[idl.Inet](m.Kernel(), d)
	if err != nil {
		t.Fatal(err)
	}
	until(t, n, "DISCOVERs retransmitted", func(i idl.InetInfo) bool { return i.DHCPSent >= 2 && i.DHCPState == idl.DHCPSelecting })
	if _, err := n.Dial([4]byte{10, 9, 0, 1}, 80); !errors.Is(err, errno.ENETDOWN) {
		t.Fatalf("Dial without an address: %v", err)
	}

	srv.DropReplies(nil)
	info := until(t, n, "a lease", func(i idl.InetInfo) bool { return i.DHCPState == idl.DHCPBound })
	if a := info.Addr; a[0] != 10 || a[1] != 9 || a[2] != 0 || a[3] < 50 || a[3] > 60 || info.PrefixLen != 24 ||
		info.Gateway != [4]byte{10, 9, 0, 1} || info.DHCPServer != [4]byte{10, 9, 0, 1} || info.LeaseNs <= 0 || info.LeaseNs > int64(2*time.Second) {
		t.Fatalf("bound: %+v", info)
	}
	until(t, n, "a renewal", func(i idl.InetInfo) bool { return srv.Sent(dhcpv4.MessageTypeAck) >= 2 && i.DHCPState == idl.DHCPBound })

	c, err := n.Dial([4]byte{10, 9, 0, 1}, 80) // nobody answers: SYN-SENT until the address goes
	if err != nil {
		t.Fatal(err)
	}
	srv.DropReplies(silent)
	info = until(t, n, "the lease's end", func(i idl.InetInfo) bool { return i.DHCPLosses == 1 })
	if info.Addr != ([4]byte{}) || info.Gateway != ([4]byte{}) {
		t.Errorf("after expiry the stack has %v via %v", info.Addr, info.Gateway)
	}
	r, err := n.Wait(c, idl.SockWritable, idl.MaxWait)
	if err != nil || r&idl.SockClosed == 0 {
		t.Errorf("the connection after expiry: ready %b, %v", r, err)
	}
	buf := rref.New(m.Kernel().Heap(), idl.IOBuf{})
	if _, err := n.Send(c, buf.Borrow(), 1); !errors.Is(err, errno.ENETDOWN) {
		t.Errorf("Send after expiry: %v, want ENETDOWN", err)
	}

	srv.DropReplies(nil)
	info = until(t, n, "a new lease", func(i idl.InetInfo) bool { return i.DHCPState == idl.DHCPBound && i.DHCPLeases == 2 })
	if info.Addr == ([4]byte{}) {
		t.Errorf("bound again without an address: %+v", info)
	}
}
