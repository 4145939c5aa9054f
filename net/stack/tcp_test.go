package stack

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// stream is a deterministic pseudo-random byte source.
func stream(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// send writes all of data on src and closes it, reading on dst until EOF;
// it returns what dst read.
func (p *pair) send(src, dst Conn, data []byte, limit time.Duration) []byte {
	p.t.Helper()
	var got []byte
	buf := make([]byte, 64<<10)
	off, closed, eof := 0, false, false
	p.until("transfer", limit, func() bool {
		for off < len(data) {
			n, err := src.Write(data[off:])
			if err == ErrWouldBlock {
				break
			}
			if err != nil {
				p.t.Fatalf("write at %d: %v", off, err)
			}
			off += n
		}
		if off == len(data) && !closed {
			if err := src.Shutdown(ShutWrite); err != nil {
				p.t.Fatal(err)
			}
			closed = true
		}
		for !eof {
			n, err := dst.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				eof = true
			} else if err == ErrWouldBlock {
				break
			} else if err != nil {
				p.t.Fatalf("read at %d: %v", len(got), err)
			}
		}
		return eof
	})
	return got
}

func TestHandshakeTransferClose(t *testing.T) {
	p := newPair(t, 1, Config{})
	client, server := p.connect(80)
	if server.State() != StateEstablished || client.Info().MSS != 1460 || server.Info().MSS != 1460 {
		t.Fatalf("after the handshake: client %+v server %+v", client.Info(), server.Info())
	}
	msg := []byte("GET / HTTP/1.0\r\n\r\n")
	if got := p.send(client, server, msg, time.Minute); !bytes.Equal(got, msg) {
		t.Fatalf("server read %q", got)
	}
	// The client shut down writing: FIN-WAIT-2 once its FIN is acked;
	// the server is in CLOSE-WAIT.
	p.until("FIN-WAIT-2", time.Minute, func() bool { return client.State() == StateFinWait2 })
	if server.State() != StateCloseWait {
		t.Fatalf("server state %v, want CLOSE-WAIT", server.State())
	}
	reply := []byte("HTTP/1.0 200 OK\r\n\r\nhello")
	if got := p.send(server, client, reply, time.Minute); !bytes.Equal(got, reply) {
		t.Fatalf("client read %q", got)
	}
	p.until("TIME-WAIT", time.Minute, func() bool { return client.State() == StateTimeWait })
	p.until("server CLOSED", time.Minute, func() bool { return server.State() == StateClosed })
	if server.Err() != nil {
		t.Fatalf("orderly close, server error %v", server.Err())
	}
	// TIME-WAIT lasts 2*MSL, then the connection is closed.
	start := p.now
	p.until("TIME-WAIT over", 2*time.Minute, func() bool { return client.State() == StateClosed })
	if d := p.now - start; d < 2*p.a.cfg.MSL-time.Second {
		t.Fatalf("TIME-WAIT lasted %v, want 2*MSL = %v", d, 2*p.a.cfg.MSL)
	}
	client.Close()
	server.Close()
	if p.a.Conns() != 0 || p.b.Conns() != 0 {
		t.Fatalf("slots in use after close: %d %d", p.a.Conns(), p.b.Conns())
	}
}

// TestStates walks every state of RFC 9293's diagram and checks each is
// reached, on the side and path that reaches it.
func TestStates(t *testing.T) {
	seen := map[State]bool{}
	watch := func(cs ...Conn) {
		for _, c := range cs {
			seen[c.State()] = true
		}
	}
	// Active close by the client: SYN-SENT, ESTABLISHED, FIN-WAIT-1/2,
	// TIME-WAIT; the server: SYN-RECEIVED (inside the table), CLOSE-WAIT,
	// LAST-ACK, CLOSED.
	p := newPair(t, 2, Config{})
	l, _ := p.b.Listen(80, 4)
	seen[StateListen] = true
	c, _ := p.a.Dial(addrB, 80)
	watch(c)
	var s Conn
	p.until("accept", time.Minute, func() bool {
		for i := range p.b.tcp.hiWater {
			seen[p.b.tcp.c[i].state] = true
		}
		var err error
		s, err = l.Accept()
		return err == nil
	})
	watch(c, s)
	c.Shutdown(ShutWrite)
	watch(c)
	p.until("close", time.Minute, func() bool {
		watch(c, s)
		if s.State() == StateCloseWait {
			s.Shutdown(ShutWrite)
			watch(s)
		}
		return c.State() == StateTimeWait && s.State() == StateClosed
	})
	watch(c, s)
	// Simultaneous close: both in FIN-WAIT-1 receive a FIN: CLOSING.
	c2, s2 := p.connect(81)
	c2.Shutdown(ShutWrite)
	s2.Shutdown(ShutWrite)
	watch(c2, s2)
	p.until("simultaneous close", time.Minute, func() bool {
		watch(c2, s2)
		return c2.State() == StateTimeWait && s2.State() == StateTimeWait
	})
	for st := StateClosed; st <= StateTimeWait; st++ {
		if !seen[st] {
			t.Errorf("state %v never reached", st)
		}
	}
}

func TestRefusedAndReset(t *testing.T) {
	p := newPair(t, 3, Config{})
	c, err := p.a.Dial(addrB, 9)
	if err != nil {
		t.Fatal(err)
	}
	p.until("refused", time.Minute, func() bool { return c.State() == StateClosed })
	if !errors.Is(c.Err(), ErrRefused) {
		t.Fatalf("dial to a closed port: %v, want ErrRefused", c.Err())
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrRefused) {
		t.Fatalf("read: %v", err)
	}
	c.Close()

	client, server := p.connect(80)
	client.Abort()
	p.until("reset", time.Minute, func() bool { return server.State() == StateClosed })
	if !errors.Is(server.Err(), ErrReset) || p.b.Stats().TCPResetsReceived == 0 {
		t.Fatalf("peer aborted: %v", server.Err())
	}
	if _, err := server.Write([]byte("x")); !errors.Is(err, ErrReset) {
		t.Fatalf("write after reset: %v", err)
	}
	if _, err := client.Read(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("stale handle: %v", err)
	}
}

// TestRSTChallenge sends a RST with a wrong (in-window) sequence number:
// the connection survives and answers with a challenge ACK (RFC 5961).
func TestRSTChallenge(t *testing.T) {
	p := newPair(t, 4, Config{})
	client, server := p.connect(80)
	x, _ := client.get()
	// Forge a RST from the server's port with seq = RCV.NXT + 10.
	var fake tcb
	fake.raddr, fake.lport, fake.rport = addrA, server.LocalPort(), client.LocalPort()
	p.b.tcp.emitTo(&fake, p.a.mac, flagRST, x.rcvNxt.add(10), 0, 0, 0)
	p.round()
	p.round()
	if client.State() != StateEstablished || p.a.Stats().TCPChallengeAcks == 0 {
		t.Fatalf("after an off-by-ten RST: state %v, challenge ACKs %d", client.State(), p.a.Stats().TCPChallengeAcks)
	}
	p.b.tcp.emitTo(&fake, p.a.mac, flagRST, x.rcvNxt, 0, 0, 0)
	p.round()
	p.round()
	if client.State() != StateClosed || !errors.Is(client.Err(), ErrReset) {
		t.Fatalf("after an exact RST: %v %v", client.State(), client.Err())
	}
}

func TestImpairedTransfers(t *testing.T) {
	cases := []struct {
		name                        string
		loss, dup, reorder, corrupt float64
	}{
		{"clean", 0, 0, 0, 0},
		{"loss 2%", 0.02, 0, 0, 0},
		{"loss 10%", 0.10, 0, 0, 0},
		{"duplicates 5%", 0, 0.05, 0, 0},
		{"reordering 10%", 0, 0, 0.10, 0},
		{"corruption 3%", 0, 0, 0, 0.03},
		{"everything", 0.03, 0.03, 0.05, 0.02},
	}
	for k, tc := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(tc.name, func(t *testing.T) {
				p := newPair(t, seed*100+uint64(k), Config{})
				client, server := p.connect(80)
				p.net.loss, p.net.dup, p.net.reorder, p.net.corrupt = tc.loss, tc.dup, tc.reorder, tc.corrupt
				data := stream(seed, 1<<20)
				got := p.send(client, server, data, 30*time.Minute)
				if sha256.Sum256(got) != sha256.Sum256(data) {
					t.Fatalf("received %d bytes, checksum differs from the %d sent", len(got), len(data))
				}
				st := p.a.Stats()
				switch {
				case tc.loss > 0 && st.TCPRetransmits == 0:
					t.Errorf("loss but no retransmission: %+v", st)
				case tc.loss >= 0.02 && st.TCPFastRetransmits == 0:
					t.Errorf("loss but no fast retransmit: %+v", st)
				case tc.reorder > 0 && p.b.Stats().TCPOutOfOrder == 0:
					t.Errorf("reordering but no out-of-order segment kept: %+v", p.b.Stats())
				case tc.corrupt > 0 && p.a.Stats().RxChecksumErrors+p.b.Stats().RxChecksumErrors == 0:
					t.Errorf("corruption but no checksum error: %+v %+v", p.a.Stats(), p.b.Stats())
				}
			})
		}
	}
}
