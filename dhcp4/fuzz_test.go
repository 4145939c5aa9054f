package dhcp4_test

import (
	"net/netip"
	"testing"

	"github.com/rlgo/redleaf/dhcp4"
)

// FuzzParse: any bytes give a message or an error, never a panic; a parsed
// ACK gives a lease or an error, and a lease is self-consistent; the
// client takes any bytes as input in any state without panicking.
func FuzzParse(f *testing.F) {
	srv := newServer("10.0.0.0/24")
	c, _ := dhcp4.New(dhcp4.Config{MAC: mac, Seed: 1})
	var buf [dhcp4.MaxMessage]byte
	n, _, _ := c.Poll(0, buf[:])
	offer, _, _ := srv.Reply(buf[:n])
	f.Add(offer)
	c.Input(0, offer)
	n, _, _ = c.Poll(0, buf[:])
	ack, _, _ := srv.Reply(buf[:n])
	f.Add(ack)
	f.Add(buf[:n])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcp4.Parse(b)
		if err == nil {
			if l, err := dhcp4.LeaseFromAck(&m); err == nil {
				if l.PrefixLen < 1 || l.PrefixLen > 32 || l.T1 > l.T2 || (!l.Infinite && l.T2 > l.Time) {
					t.Fatalf("inconsistent lease %+v from %+v", l, m)
				}
				if l.Router != ([4]byte{}) && !netip.PrefixFrom(netip.AddrFrom4(l.Addr), l.PrefixLen).Contains(netip.AddrFrom4(l.Router)) {
					t.Fatalf("router %v off the lease's subnet %+v", l.Router, l)
				}
			}
		}
		// The fuzzed bytes with the client's xid and MAC reach its checks.
		if len(b) >= 240 {
			cl, _ := dhcp4.New(dhcp4.Config{MAC: mac, Seed: 1})
			var out [dhcp4.MaxMessage]byte
			cl.Poll(0, out[:])
			x := cl.Xid()
			b[4], b[5], b[6], b[7] = byte(x>>24), byte(x>>16), byte(x>>8), byte(x)
			copy(b[28:34], mac[:])
			cl.Input(0, b)
			cl.Poll(1, out[:])
		}
	})
}
