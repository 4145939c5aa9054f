package stack

import (
	"testing"
	"time"
)

func TestUDPAndPing(t *testing.T) {
	p := newPair(t, 30, Config{PingQueue: 4})
	ub, err := p.b.BindUDP(7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.b.BindUDP(7); err != ErrAddrInUse {
		t.Fatalf("second bind: %v", err)
	}
	ua, _ := p.a.BindUDP(0)
	if ua.LocalPort() < 49152 {
		t.Fatalf("ephemeral port %d", ua.LocalPort())
	}
	if err := ua.SendTo([]byte("ping?"), addrB, 7); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	p.until("datagram", time.Minute, func() bool { return ub.Ready()&EventReadable != 0 })
	n, from, port, err := ub.RecvFrom(buf)
	if err != nil || string(buf[:n]) != "ping?" || from != addrA || port != ua.LocalPort() {
		t.Fatalf("got %q from %v:%d, %v", buf[:n], from, port, err)
	}
	if err := ub.SendTo(make([]byte, 1473), addrA, port); err != ErrMessageSize {
		t.Fatalf("oversized: %v", err)
	}
	// ICMP echo: b pings a (whose address b learned by ARP).
	p.until("ping sent", time.Minute, func() bool { return p.b.Ping(addrA, 42, 1, []byte("abcdefgh")) == nil })
	p.until("echo reply", time.Minute, func() bool { return p.b.pings.n > 0 })
	r, ok := p.b.EchoReply(buf)
	if !ok || r.From != addrA || r.ID != 42 || r.Seq != 1 || string(buf[:r.Len]) != "abcdefgh" || p.a.Stats().EchoReplies != 1 {
		t.Fatalf("reply %+v %v", r, ok)
	}
	// The ARP caches hold each other.
	if e := p.a.ARPCache(nil); len(e) != 1 || e[0].IP != addrB || e[0].MAC != p.net.b.mac || !e[0].Resolved {
		t.Fatalf("ARP cache %+v", e)
	}
}

func TestARPTimeout(t *testing.T) {
	p := newPair(t, 31, Config{ARPTimeout: 10 * time.Second})
	client, server := p.connect(80)
	req := p.a.Stats().ARPRequests
	p.now += 11 * time.Second
	client.Write([]byte("x"))
	p.until("data", time.Minute, func() bool { r, _ := server.Buffered(); return r > 0 })
	if p.a.Stats().ARPRequests == req {
		t.Fatal("a stale ARP entry was not refreshed")
	}
}

func TestConfigErrors(t *testing.T) {
	n := newSimNet(1)
	for _, c := range []Config{{}, {Addr: addrA, MTU: 9000}, {Addr: addrA, PrefixLen: 33}, {Addr: addrA, MaxConns: -1}} {
		if _, err := New(n.a, c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

// TestUDPUnresolvedDropped: a datagram to a neighbour that never answers
// ARP is dropped after udpARPWait retries, and the broadcast queued behind
// it goes out.
func TestUDPUnresolvedDropped(t *testing.T) {
	p := newPair(t, 32, Config{})
	ua, _ := p.a.BindUDP(68)
	ub, _ := p.b.BindUDP(67)
	if err := ua.SendTo([]byte("to nobody"), [4]byte{10, 0, 0, 99}, 67); err != nil {
		t.Fatal(err)
	}
	if err := ua.SendTo([]byte("to all"), broadcastIP, 67); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		p.round()
	}
	if ub.Ready()&EventReadable != 0 {
		t.Fatal("the broadcast overtook the datagram waiting for ARP")
	}
	dropped := p.a.Stats().TxDropped
	p.now += udpARPWait * time.Second
	p.until("broadcast", time.Minute, func() bool { return ub.Ready()&EventReadable != 0 })
	buf := make([]byte, 64)
	n, _, _, _ := ub.RecvFrom(buf)
	if string(buf[:n]) != "to all" || p.a.Stats().TxDropped != dropped+1 {
		t.Errorf("got %q, dropped %d (was %d)", buf[:n], p.a.Stats().TxDropped, dropped)
	}
}
