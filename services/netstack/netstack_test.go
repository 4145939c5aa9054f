package netstack_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

func pair(t *testing.T) (m *domain.Manager, a, b idl.Inet) {
	t.Helper()
	m = domain.NewManager()
	t.Cleanup(m.Close)
	da, db, err := netstacktest.StartPair(m)
	if err != nil {
		t.Fatal(err)
	}
	if a, err = domain.Connect[idl.Inet](m.Kernel(), da); err != nil {
		t.Fatal(err)
	}
	if b, err = domain.Connect[idl.Inet](m.Kernel(), db); err != nil {
		t.Fatal(err)
	}
	return m, a, b
}

// guardedPair is pair with b's stack behind a shadow, g.
func guardedPair(t *testing.T) (m *domain.Manager, a, b idl.Inet, g *shadow.Guard) {
	t.Helper()
	m = domain.NewManager()
	t.Cleanup(m.Close)
	da, db, err := netstacktest.StartPair(m)
	if err != nil {
		t.Fatal(err)
	}
	if g, err = shadow.New(m, db, shadow.Policy{}); err != nil {
		t.Fatal(err)
	}
	if a, err = domain.Connect[idl.Inet](m.Kernel(), da); err != nil {
		t.Fatal(err)
	}
	if b, err = domain.Connect[idl.Inet](m.Kernel(), g); err != nil {
		t.Fatal(err)
	}
	return m, a, b, g
}

// wait waits (in MaxWait steps, at most 20 s) for one of events on sock.
func wait(t *testing.T, n idl.Inet, sock int64, events uint8) uint8 {
	t.Helper()
	for range 20 {
		r, err := n.Wait(sock, events, idl.MaxWait)
		if err != nil {
			t.Fatalf("wait %d: %v", sock, err)
		}
		if r&events != 0 {
			return r
		}
	}
	t.Fatalf("socket %d: not ready for %#x in 20 s", sock, events)
	return 0
}

func TestTCPAcrossStacks(t *testing.T) {
	m, a, b := pair(t)
	heap := m.Kernel().Heap()
	l, err := b.Listen(80, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Accept(l); !errors.Is(err, errno.EAGAIN) {
		t.Fatalf("accept with nobody connecting: %v, want EAGAIN", err)
	}
	c, err := a.Dial(netstacktest.AddrB, 80)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, b, l, idl.SockReadable)
	s, err := b.Accept(l)
	if err != nil {
		t.Fatal(err)
	}
	if addr, _, err := b.Peer(s); err != nil || addr != netstacktest.AddrA {
		t.Fatalf("peer: %v %v, want %v", addr, err, netstacktest.AddrA)
	}
	wait(t, a, c, idl.SockWritable)

	// 200 KiB from a to b, then b's FIN.
	want := make([]byte, 200<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	out := rref.New(heap, idl.IOBuf{})
	in := rref.New(heap, idl.IOBuf{})
	var got []byte
	sent := 0
	for len(got) < len(want) {
		if sent < len(want) {
			k := copy(out.Get()[:], want[sent:])
			n, err := a.Send(c, out.Borrow(), int32(k))
			switch {
			case err == nil:
				sent += int(n)
			case !errors.Is(err, errno.EAGAIN):
				t.Fatal(err)
			}
		}
		var n int32
		in, n, err = b.Recv(s, in, idl.IOSize)
		switch {
		case err == nil && n == 0:
			t.Fatalf("EOF after %d bytes", len(got))
		case err == nil:
			got = append(got, in.Get()[:n]...)
		case errors.Is(err, errno.EAGAIN):
			wait(t, b, s, idl.SockReadable)
		default:
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes received differ from those sent")
	}
	if err := a.Close(c); err != nil {
		t.Fatal(err)
	}
	wait(t, b, s, idl.SockReadable)
	var n int32
	if in, n, err = b.Recv(s, in, idl.IOSize); err != nil || n != 0 {
		t.Fatalf("after the peer's close: %d bytes, %v; want EOF", n, err)
	}
	if err := b.Close(s); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Recv(s, in, 1); !errors.Is(err, errno.EBADF) {
		t.Fatalf("recv on a closed socket: %v, want EBADF", err)
	}
	if info, err := b.Info(); err != nil || info.Sockets != 1 || info.Addr != netstacktest.AddrB {
		t.Fatalf("info: %+v %v, want 1 socket (the listener) at %v", info, err, netstacktest.AddrB)
	}
}

func TestRefusedAndPing(t *testing.T) {
	m, a, _ := pair(t)
	buf := rref.New(m.Kernel().Heap(), idl.IOBuf{})
	c, err := a.Dial(netstacktest.AddrB, 9)
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, a, c, idl.SockClosed); r&idl.SockClosed == 0 {
		t.Fatalf("readiness %#x", r)
	}
	if _, err := a.Send(c, buf.Borrow(), 1); !errors.Is(err, errno.ECONNREFUSED) {
		t.Fatalf("send on a refused connection: %v, want ECONNREFUSED", err)
	}
	for seq := range uint16(3) {
		r, err := a.Ping(netstacktest.AddrB, seq, 56, idl.MaxWait)
		if err != nil || !r.Got {
			t.Fatalf("ping %d: %+v %v", seq, r, err)
		}
	}
	if r, err := a.Ping([4]byte{10, 0, 0, 99}, 0, 56, 50e6); err != nil || r.Got {
		t.Fatalf("ping of nobody: %+v %v, want no reply", r, err)
	}
}

func TestBadArguments(t *testing.T) {
	m, a, _ := pair(t)
	buf := rref.New(m.Kernel().Heap(), idl.IOBuf{})
	for _, err := range []error{
		func() error { _, err := a.Listen(0, 1); return err }(),
		func() error { _, err := a.Listen(80, 0); return err }(),
		func() error { _, err := a.Dial(netstacktest.AddrB, 0); return err }(),
		a.Shutdown(1, 9),
		func() error { _, err := a.Ping(netstacktest.AddrB, 0, 1<<20, 0); return err }(),
	} {
		if err == nil {
			t.Error("a bad argument was accepted")
		}
	}
	for _, h := range []int64{-1, 0, 1, 1 << 30} {
		if err := a.Close(h); !errors.Is(err, errno.EBADF) {
			t.Errorf("close %d: %v, want EBADF", h, err)
		}
	}
	l, err := a.Listen(80, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Listen(80, 1); !errors.Is(err, errno.EADDRINUSE) {
		t.Errorf("second listen on 80: %v, want EADDRINUSE", err)
	}
	if _, err := a.Send(l, buf.Borrow(), 1); !errors.Is(err, errno.EINVAL) {
		t.Errorf("send on a listener: %v, want EINVAL", err)
	}
}

// A stack behind a shadow comes back after its domain dies: the sockets
// it held are gone (their numbers fail with ENETRESET, even once the new
// instance has a socket in the same slot), and new ones work.
func TestShadowRestart(t *testing.T) {
	m, a, b, g := guardedPair(t)
	l, err := b.Listen(80, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Kill(g.Current())
	if _, err := b.Accept(l); !errors.Is(err, errno.ENETRESET) || !strings.Contains(err.Error(), "the network stack restarted") {
		t.Fatalf("accept on the dead instance's listener: %v, want ENETRESET saying the stack restarted", err)
	}
	if g.Restarts() != 1 {
		t.Fatalf("%d restarts, want 1", g.Restarts())
	}
	old := l
	if l, err = b.Listen(80, 1); err != nil {
		t.Fatal(err)
	}
	if l == old {
		t.Fatalf("the new instance's listener has the old one's number %#x", l)
	}
	if err := b.Close(old); !errors.Is(err, errno.ENETRESET) {
		t.Fatalf("close of the old listener: %v, want ENETRESET", err)
	}
	var req idl.SockPoll
	req.N, req.Socks[0], req.Events[0] = 1, old, idl.SockReadable
	if r, err := b.PollSocks(req, 0); err != nil || r.Ready[0] != idl.SockStale {
		t.Fatalf("poll of the old listener: %#x, %v; want SockStale", r.Ready[0], err)
	}
	c, err := a.Dial(netstacktest.AddrB, 80)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, b, l, idl.SockReadable)
	if _, err := b.Accept(l); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, a, c, idl.SockWritable); r&idl.SockClosed != 0 {
		t.Fatalf("the connection to the restarted stack: readiness %#x", r)
	}
}

// A socket number of an instance that died is never a socket of the
// instance that replaced it: after the restart the new instance's first
// sockets fill the same slots, and the old numbers must still fail with
// ENETRESET, not reach someone else's connection.
func TestStaleSocketsAfterRestart(t *testing.T) {
	m, a, b, g := guardedPair(t)
	var old []int64
	for port := uint16(80); port < 84; port++ {
		l, err := b.Listen(port, 1)
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, l)
	}
	m.Kill(g.Current())
	if _, err := b.Info(); err != nil { // restarts it
		t.Fatal(err)
	}
	l, err := b.Listen(80, 1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Dial(netstacktest.AddrB, 80)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, b, l, idl.SockReadable)
	s, err := b.Accept(l)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, a, c, idl.SockWritable)
	for _, h := range old {
		if h == l || h == s {
			t.Errorf("the restarted stack reused socket number %d of the instance before", h)
		}
		if _, err := b.Accept(h); !errors.Is(err, errno.ENETRESET) {
			t.Errorf("accept on socket %d of the dead instance: %v, want ENETRESET", h, err)
		}
		if err := b.Close(h); !errors.Is(err, errno.ENETRESET) {
			t.Errorf("close of socket %d of the dead instance: %v, want ENETRESET", h, err)
		}
	}
	if _, _, err := b.Peer(s); err != nil {
		t.Fatalf("the new instance's connection after stale closes: %v", err)
	}
}

// UDP datagrams go both ways between two stacks, with their senders'
// addresses; PollSocks sees the one that arrived.
func TestUDP(t *testing.T) {
	m, a, b := pair(t)
	ua, err := a.BindUDP(0)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := b.BindUDP(5353)
	if err != nil {
		t.Fatal(err)
	}
	addr, port, err := a.Local(ua)
	if err != nil || addr != netstacktest.AddrA || port == 0 {
		t.Fatalf("local of an ephemeral UDP socket: %v:%d, %v", addr, port, err)
	}
	if _, err := b.BindUDP(5353); !errors.Is(err, errno.EADDRINUSE) {
		t.Errorf("second bind of 5353: %v, want EADDRINUSE", err)
	}
	buf := rref.New(m.Kernel().Heap(), idl.IOBuf{})
	copy(buf.Get()[:], "hello")
	if n, err := a.SendTo(ua, netstacktest.AddrB, 5353, buf.Borrow(), 5); err != nil || n != 5 {
		t.Fatalf("sendto: %d, %v", n, err)
	}
	if _, err := a.SendTo(ua, netstacktest.AddrB, 5353, buf.Borrow(), 1473); !errors.Is(err, errno.EMSGSIZE) {
		t.Errorf("sendto of 1473 bytes: %v, want EMSGSIZE", err)
	}
	var req idl.SockPoll
	req.N = 2
	req.Socks[0], req.Events[0] = ua, idl.SockReadable
	req.Socks[1], req.Events[1] = ub, idl.SockReadable
	for {
		r, err := b.PollSocks(req, idl.MaxWait)
		if err != nil {
			t.Fatal(err)
		}
		if r.Ready[0] != idl.SockStale {
			t.Fatalf("a's socket polled on b: %#x, want SockStale (another instance's)", r.Ready[0])
		}
		if r.Ready[1]&idl.SockReadable != 0 {
			break
		}
	}
	buf, d, err := b.RecvFrom(ub, buf, 3)
	if err != nil || d.N != 3 || d.Len != 5 || d.Addr != netstacktest.AddrA || d.Port != port || string(buf.Get()[:3]) != "hel" {
		t.Fatalf("recvfrom: %+v %q, %v", d, buf.Get()[:d.N], err)
	}
	if buf, _, err = b.RecvFrom(ub, buf, 3); !errors.Is(err, errno.EAGAIN) {
		t.Errorf("recvfrom of an empty socket: %v, want EAGAIN", err)
	}
	if _, err := b.Send(ub, buf.Borrow(), 1); !errors.Is(err, errno.EINVAL) {
		t.Errorf("send on a UDP socket: %v, want EINVAL", err)
	}
}
