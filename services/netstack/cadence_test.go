package netstack_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/services/netstack"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// echoHost answers ARP requests for addr and sends UDP datagrams back to
// where they came from: a segment that answers at once, on the
// transmitting thread.
func echoHost(mac [6]byte, addr [4]byte) func([]byte) [][]byte {
	return func(f []byte) [][]byte {
		if len(f) < 42 {
			return nil
		}
		switch binary.BigEndian.Uint16(f[12:]) {
		case 0x0806: // ARP
			if binary.BigEndian.Uint16(f[20:]) != 1 || [4]byte(f[38:42]) != addr {
				return nil
			}
			r := make([]byte, 42)
			copy(r[0:], f[6:12])
			copy(r[6:], mac[:])
			copy(r[12:22], f[12:22])
			binary.BigEndian.PutUint16(r[20:], 2)
			copy(r[22:], mac[:])
			copy(r[28:], addr[:])
			copy(r[32:], f[22:32]) // the asker's MAC and address
			return [][]byte{r}
		case 0x0800: // IPv4
			if f[14+9] != 17 || len(f) < 14+20+8 {
				return nil
			}
			r := append([]byte(nil), f...)
			copy(r[0:], f[6:12])
			copy(r[6:], mac[:])
			ip := r[14:]
			copy(ip[12:], f[14+16:14+20]) // swap the addresses
			copy(ip[16:], f[14+12:14+16])
			u := ip[20:]
			copy(u[0:], f[14+20+2:14+20+4]) // and the ports
			copy(u[2:], f[14+20:14+20+2])
			u[6], u[7] = 0, 0 // no UDP checksum
			return [][]byte{r}
		}
		return nil
	}
}

// TestCadenceKickAndWake: with a polling thread that sleeps an hour after
// an idle poll, a datagram still goes out at once (SendTo kicks the
// thread), and the caller blocked in Wait learns of the echo as soon as
// a poll takes it (the polling thread wakes it; it does not poll itself).
func TestCadenceKickAndWake(t *testing.T) {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	peerMAC, peer := [6]byte{0x02, 0, 0, 0, 0, 0x99}, [4]byte{10, 0, 0, 9}
	end := netstacktest.Wire([6]byte{0x02, 0, 0, 0, 0, 0x01}, echoHost(peerMAC, peer))
	nd, err := m.Create(netstacktest.WireKind, domain.Name("wire"), domain.GrantDevice("end", end))
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Create(netstack.Kind, domain.Name("netstack"), domain.Grant(netstack.GrantNet, nd),
		domain.GrantDevice(netstack.GrantConfig, netstack.Config{Idle: time.Hour, MinIdle: time.Hour,
			Stack: stack.Config{Addr: [4]byte{10, 0, 0, 1}, Seed: 7}}))
	if err != nil {
		t.Fatal(err)
	}
	n, err := domain.Connect[idl.Inet](m.Kernel(), d)
	if err != nil {
		t.Fatal(err)
	}
	u, err := n.BindUDP(4000)
	if err != nil {
		t.Fatal(err)
	}
	buf := rref.New(m.Kernel().Heap(), idl.IOBuf{})
	start := time.Now()
	const rounds = 3
	for round := range rounds { // the first resolves the peer's address too
		msg := []byte{'e', 'c', 'h', 'o', byte('0' + round)}
		copy(buf.Get()[:], msg)
		if _, err := n.SendTo(u, peer, 5000, buf.Borrow(), int32(len(msg))); err != nil {
			t.Fatal(err)
		}
		r, err := n.Wait(u, idl.SockReadable, idl.MaxWait)
		if err != nil || r&idl.SockReadable == 0 {
			t.Fatalf("round %d: Wait: ready %b, %v (the datagram was not sent, or the echo not seen)", round, r, err)
		}
		var dg idl.Datagram
		buf, dg, err = n.RecvFrom(u, buf, idl.IOSize)
		if err != nil || string(buf.Get()[:dg.N]) != string(msg) || dg.Addr != peer || dg.Port != 5000 {
			t.Fatalf("round %d: RecvFrom: %+v %q, %v", round, dg, buf.Get()[:dg.N], err)
		}
	}
	// A Wait that nobody wakes ends at its timeout, MaxWait (1 s), and
	// sees the echo then: the rounds would take at least 3 s. Woken, each
	// takes a round trip through the domain.
	if el := time.Since(start); el >= rounds*time.Duration(idl.MaxWait)*5/6 {
		t.Fatalf("%d rounds took %v: Wait was not woken when the echo came", rounds, el)
	}
}

// TestMinIdleAboveIdle: a configuration error, not a silent fix.
func TestMinIdleAboveIdle(t *testing.T) {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	a, _ := netstacktest.Pair([6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2})
	nd, err := m.Create(netstacktest.WireKind, domain.Name("nic"), domain.GrantDevice("end", a))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Create(netstack.Kind, domain.Name("netstack"), domain.Grant(netstack.GrantNet, nd),
		domain.GrantDevice(netstack.GrantConfig, netstack.Config{Idle: time.Millisecond, MinIdle: time.Second,
			Stack: stack.Config{Addr: [4]byte{10, 0, 0, 1}, Seed: 7}}))
	if err == nil {
		t.Fatal("MinIdle above Idle was accepted")
	}
	t.Log(err)
}
