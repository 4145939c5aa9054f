package stack

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

func TestWindowScaling(t *testing.T) {
	p := newPair(t, 10, Config{RecvBuf: 1 << 20, SendBuf: 1 << 20})
	client, server := p.connect(80)
	ci, si := client.Info(), server.Info()
	if ci.RecvShift == 0 || ci.SendShift != si.RecvShift || si.SendShift != ci.RecvShift {
		t.Fatalf("window scale not agreed: client %+v server %+v", ci, si)
	}
	// A window larger than 64 KiB in use: more than 64 KiB in flight.
	data := stream(3, 4<<20)
	maxFlight := 0
	off := 0
	p.until("big flight", time.Minute, func() bool {
		for off < len(data) {
			n, err := client.Write(data[off:])
			if err != nil {
				break
			}
			off += n
		}
		maxFlight = max(maxFlight, client.Info().InFlight)
		buf := make([]byte, 1<<20)
		server.Read(buf)
		return maxFlight > 0xffff
	})
	if w := client.Info().SendWindow; w <= 0xffff {
		t.Fatalf("client sees a send window of %d, want the scaled 1 MiB", w)
	}

}

// TestNoWindowScaleOption checks a SYN without the option turns scaling off
// both ways, by filtering the option out of the SYN on the wire.
func TestNoWindowScaleOption(t *testing.T) {
	p := newPair(t, 12, Config{RecvBuf: 1 << 20})
	p.net.a.filter = func(f []byte) bool {
		if len(f) > 14+20+20 && f[14+9] == protoTCP && f[14+20+13]&flagSYN != 0 {
			seg := f[14+20:]
			for i := 20; i+3 <= int(seg[12]>>4)*4; i++ {
				if seg[i] == optWScale && seg[i+1] == 3 {
					seg[i], seg[i+1], seg[i+2] = optNOP, optNOP, optNOP
				}
			}
			seg[16], seg[17] = 0, 0
			ip := f[14:34]
			var src, dst [4]byte
			copy(src[:], ip[12:16])
			copy(dst[:], ip[16:20])
			n := len(f) - 34
			c := fold(sum(pseudoSum(src, dst, protoTCP, n), seg[:n]))
			seg[16], seg[17] = byte(c>>8), byte(c)
		}
		return true
	}
	client, server := p.connect(80)
	if ci, si := client.Info(), server.Info(); ci.SendShift != 0 || ci.RecvShift != 0 || si.SendShift != 0 || si.RecvShift != 0 {
		t.Fatalf("scaling on without the option: %+v %+v", ci, si)
	}
	data := stream(4, 1<<20)
	if got := p.send(client, server, data, time.Minute); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("transfer without scaling corrupted")
	}
}

func TestManyConnections(t *testing.T) {
	const n = 200
	p := newPair(t, 13, Config{MaxConns: 512, SendBuf: 8 << 10, RecvBuf: 8 << 10})
	p.net.loss = 0.01
	l, err := p.b.Listen(80, n)
	if err != nil {
		t.Fatal(err)
	}
	var clients, servers []Conn
	for range n {
		c, err := p.a.Dial(addrB, 80)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	p.until("all accepted", 10*time.Minute, func() bool {
		for {
			c, err := l.Accept()
			if err != nil {
				break
			}
			servers = append(servers, c)
		}
		return len(servers) == n
	})
	// Each client sends its own 16 KiB; each server echoes its peer's
	// port in what it received, checked by content.
	want := map[uint16][]byte{}
	sent := make([]int, n)
	for i, c := range clients {
		want[c.LocalPort()] = stream(uint64(c.LocalPort()), 16<<10)
		_ = i
	}
	got := map[uint16][]byte{}
	buf := make([]byte, 4096)
	p.until("all data", 30*time.Minute, func() bool {
		for i, c := range clients {
			d := want[c.LocalPort()]
			if sent[i] < len(d) {
				k, _ := c.Write(d[sent[i]:])
				sent[i] += k
			}
		}
		done := 0
		for _, s := range servers {
			for {
				k, err := s.Read(buf)
				if err != nil {
					break
				}
				got[s.RemotePort()] = append(got[s.RemotePort()], buf[:k]...)
			}
			if len(got[s.RemotePort()]) == 16<<10 {
				done++
			}
		}
		return done == n
	})
	for port, d := range want {
		if string(got[port]) != string(d) {
			t.Fatalf("connection from port %d: data differs", port)
		}
	}
}

func TestTransfer64MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("a 64 MiB transfer: skipped with -short")
	}
	p := newPair(t, 14, Config{RecvBuf: 1 << 20, SendBuf: 1 << 20})
	client, server := p.connect(80)
	p.net.loss, p.net.reorder = 0.001, 0.001
	data := stream(64, 64<<20)
	got := p.send(client, server, data, time.Hour)
	if len(got) != len(data) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("64 MiB: received %d bytes, SHA-256 differs", len(got))
	}
}

func TestRetransmissionTimeout(t *testing.T) {
	p := newPair(t, 15, Config{MaxRetries: 5})
	client, _ := p.connect(80)
	p.net.down = true
	client.Write([]byte("into the void"))
	start := p.now
	p.until("timeout", time.Hour, func() bool { return client.State() == StateClosed })
	if !errors.Is(client.Err(), ErrTimeout) {
		t.Fatalf("err %v", client.Err())
	}
	// 5 retransmissions with exponential backoff from the initial RTO
	// (or the estimate): at least 1+2+4+8+16+32 times MinRTO.
	if d := p.now - start; d < 63*p.a.cfg.MinRTO {
		t.Fatalf("gave up after %v: backoff too short", d)
	}
	if st := p.a.Stats(); st.TCPTimeouts < 5 {
		t.Fatalf("timeouts %d", st.TCPTimeouts)
	}
}

func TestSynRetriesAndARPFailure(t *testing.T) {
	p := newPair(t, 16, Config{SynRetries: 3})
	p.net.down = true
	c, _ := p.a.Dial(addrB, 80)
	p.until("SYN timeout", time.Hour, func() bool { return c.State() == StateClosed })
	if !errors.Is(c.Err(), ErrTimeout) {
		t.Fatalf("err %v", c.Err())
	}
	if p.a.Stats().ARPRequests < 2 {
		t.Fatalf("ARP requests %d: not retried", p.a.Stats().ARPRequests)
	}
}

func TestRTTEstimate(t *testing.T) {
	p := newPair(t, 17, Config{})
	p.step = 5 * time.Millisecond // one-way delay: RTT 10 ms
	client, server := p.connect(80)
	p.send(client, server, stream(5, 256<<10), time.Minute)
	srtt := time.Duration(client.Info().SRTT)
	if srtt < 5*time.Millisecond || srtt > 40*time.Millisecond {
		t.Fatalf("SRTT %v for a 10 ms path", srtt)
	}
	if rto := time.Duration(client.Info().RTO); rto != p.a.cfg.MinRTO {
		t.Fatalf("RTO %v, want the 200 ms floor", rto)
	}
}

func TestSynBacklog(t *testing.T) {
	p := newPair(t, 18, Config{})
	l, _ := p.b.Listen(80, 2)
	var cs []Conn
	for range 5 {
		c, _ := p.a.Dial(addrB, 80)
		cs = append(cs, c)
	}
	p.until("backlog full", time.Minute, func() bool { return p.b.Stats().TCPSynDropped > 0 })
	accepted := 0
	p.until("everyone accepted", 10*time.Minute, func() bool {
		for {
			c, err := l.Accept()
			if err != nil {
				break
			}
			c.Close()
			accepted++
		}
		return accepted == 5
	})
	for _, c := range cs {
		if c.State() == StateClosed && c.Err() != nil {
			t.Fatalf("client failed: %v", c.Err())
		}
	}
}

func TestZeroWindow(t *testing.T) {
	p := newPair(t, 19, Config{RecvBuf: 4096})
	client, server := p.connect(80)
	data := stream(6, 64<<10)
	off := 0
	// The server does not read: the client fills the 4 KiB window and
	// stops; persist probes keep asking.
	p.until("window closed", time.Minute, func() bool {
		if k, err := client.Write(data[off:]); err == nil {
			off += k
		}
		return client.Info().SendWindow == 0 && client.Info().InFlight == 0
	})
	probesBefore := p.b.Stats().TCPSegsIn
	p.now += 10 * time.Second
	for range 100 {
		p.round()
	}
	if p.b.Stats().TCPSegsIn == probesBefore {
		t.Fatal("no window probe in 10 s of a zero window")
	}
	if client.State() != StateEstablished {
		t.Fatalf("zero window killed the connection: %v", client.Err())
	}
	rest := data[off:]
	got := make([]byte, 0, len(data))
	buf := make([]byte, 1000)
	p.until("drained", 10*time.Minute, func() bool {
		if len(rest) > 0 {
			if k, err := client.Write(rest); err == nil {
				rest = rest[k:]
			}
		}
		if k, err := server.Read(buf); err == nil {
			got = append(got, buf[:k]...)
		}
		return len(got) == len(data)
	})
	if string(got) != string(data) {
		t.Fatal("data differs after a zero window")
	}
}

func TestKeepAlive(t *testing.T) {
	p := newPair(t, 20, Config{KeepAliveIdle: time.Minute, KeepAliveInterval: 10 * time.Second, KeepAliveCount: 3})
	client, server := p.connect(80)
	client.SetKeepAlive(true)
	// An answering peer: probes go out, the connection stays.
	p.until("probes", time.Hour, func() bool { return p.a.Stats().TCPKeepAliveProbes >= 2 })
	if client.State() != StateEstablished || server.State() != StateEstablished {
		t.Fatalf("keep-alive broke a live connection: %v %v", client.State(), client.Err())
	}
	// A vanished peer: dropped after KeepAliveCount probes.
	p.net.down = true
	p.until("dead peer", time.Hour, func() bool { return client.State() == StateClosed })
	if !errors.Is(client.Err(), ErrTimeout) {
		t.Fatalf("err %v", client.Err())
	}
}

func TestOrphanCloseAndSlots(t *testing.T) {
	p := newPair(t, 21, Config{MaxConns: 4, MSL: time.Second})
	for i := range 20 { // more than the slots: TIME-WAIT ones are recycled
		client, server := p.connect(uint16(1000 + i))
		client.Write([]byte("bye"))
		client.Close()
		buf := make([]byte, 16)
		p.until("bye", time.Minute, func() bool {
			n, _ := server.Read(buf)
			return n > 0 || server.State() == StateCloseWait
		})
		server.Close()
		p.until("closed", time.Minute, func() bool { return p.b.Conns() == 0 })
	}
	p.until("all slots free", time.Minute, func() bool { return p.a.Conns() == 0 })
}

func TestCloseWithUnreadDataResets(t *testing.T) {
	p := newPair(t, 22, Config{})
	client, server := p.connect(80)
	client.Write([]byte("unread"))
	p.until("arrived", time.Minute, func() bool { r, _ := server.Buffered(); return r > 0 })
	server.Close()
	p.until("reset", time.Minute, func() bool { return client.State() == StateClosed })
	if !errors.Is(client.Err(), ErrReset) {
		t.Fatalf("err %v", client.Err())
	}
}
