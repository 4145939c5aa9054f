package all_test

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/dhcp4/dhcp4test"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/services/netstack"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
	"github.com/rlgo/redleaf/system/sh"
)

// TestIfconfig: ifconfig shows the stacks the process holds (here one
// whose address came from the project's DHCP server, with its lease), and
// the NICs through the monitor's view; without a stack's capability it
// shows only the NICs.
func TestIfconfig(t *testing.T) {
	srv := dhcp4test.New(netip.MustParseAddr("10.9.0.1"), netip.MustParsePrefix("10.9.0.0/24"),
		netip.MustParseAddr("10.9.0.50"), netip.MustParseAddr("10.9.0.60"), netip.MustParseAddr("10.9.0.1"), time.Hour)
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
		domain.GrantDevice(netstack.GrantConfig, netstack.Config{DHCP: true, Stack: stack.Config{Seed: 5}}))
	if err != nil {
		t.Fatal(err)
	}
	n, err := domain.Connect[idl.Inet](m.Kernel(), d)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if info, err := n.Info(); err == nil && info.DHCPState == idl.DHCPBound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no lease in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20, Manager: m,
		Grants: map[string]domain.Provider{"inet:d": d},
		Monitor: func(r *sh.Registry) {
			r.RegisterView("ifconfig", "the NICs (a fixed test listing)", sh.Func(func(_ context.Context, p *sh.Proc) int {
				fmt.Fprintln(p.Stdout, "virtio-net: test NIC, link up")
				return 0
			}))
		}})
	s.Caps = []string{"inet:d"}
	out, st := s.Run(t, "ifconfig")
	re := regexp.MustCompile(`inet:d: 10\.9\.0\.(5\d|60)/24 via 10\.9\.0\.1, mac 02:00:00:00:00:44, dhcp bound \(server 10\.9\.0\.1, lease (59m\d+s|1h0m0s) left\)\n` +
		`  rx \d+ frames \(0 dropped\), tx \d+ frames \(0 dropped\); udp in 2 out 2; tcp established 0, retransmitted 0\n` +
		`  sockets 0, connections 0; dhcp sent 2, received 2, leases 1, lost 0\n` +
		`virtio-net: test NIC, link up\n`)
	if st.Status != 0 || !re.MatchString(out) {
		t.Errorf("ifconfig with inet:d: %+v:\n%s", st, out)
	}
	s.Caps = nil
	if out, st := s.Run(t, "ifconfig"); st.Status != 0 || strings.Contains(out, "inet:") || !strings.Contains(out, "virtio-net: test NIC") {
		t.Errorf("ifconfig without a stack: %+v:\n%s", st, out)
	}
	if out, st := s.Run(t, "ifconfig", "eth0"); st.Status != 2 || !strings.Contains(out, "usage: ifconfig") {
		t.Errorf("ifconfig eth0: %+v:\n%s", st, out)
	}
}
