package stack

import (
	"bytes"
	"testing"
	"time"
)

// closedInTimeWait connects a to b's port, has the server close first
// (so b keeps the 4-tuple in TIME-WAIT), and returns b's listener and the
// client's port.
func closedInTimeWait(t *testing.T, p *pair, port uint16) (Listener, uint16) {
	t.Helper()
	l, err := p.b.Listen(port, 16)
	if err != nil {
		t.Fatal(err)
	}
	client, err := p.a.Dial(addrB, port)
	if err != nil {
		t.Fatal(err)
	}
	var server Conn
	p.until("accept", time.Minute, func() bool {
		server, err = l.Accept()
		return err == nil
	})
	lport := client.LocalPort()
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	p.until("client EOF", time.Minute, func() bool { return client.State() == StateCloseWait })
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	p.until("TIME-WAIT", time.Minute, func() bool {
		return p.b.Conns() == 1 && p.b.tcp.c[p.b.tcp.lookup(addrA, lport, port)].state == StateTimeWait && p.a.Conns() == 0
	})
	return l, lport
}

// dialFrom dials b's port from a's local port lport (the random port
// choice made to meet the old connection) with initial sequence number
// iss.
func dialFrom(t *testing.T, p *pair, port, lport uint16, iss seqnum) Conn {
	t.Helper()
	c, err := p.a.Dial(addrB, port)
	if err != nil {
		t.Fatal(err)
	}
	tb := &p.a.tcp
	x := &tb.c[c.idx]
	tb.unhash(c.idx)
	x.lport = lport
	x.iss = iss
	x.una, x.nxt, x.sndMax = iss, iss, iss
	tb.insert(c.idx)
	return c
}

func TestSynReopensTimeWait(t *testing.T) {
	p := newPair(t, 31, Config{})
	const port = 80
	l, lport := closedInTimeWait(t, p, port)
	old := p.b.tcp.c[p.b.tcp.lookup(addrA, lport, port)].rcvNxt

	// A new incarnation with a sequence number beyond the old one's: the
	// server takes it at once, before the client's SYN would be
	// retransmitted (InitialRTO, 1 s of virtual time).
	c := dialFrom(t, p, port, lport, old.add(1<<20))
	p.until("established", 500*time.Millisecond, func() bool { return c.State() == StateEstablished })
	if got := p.b.Stats().TCPTimeWaitReopened; got != 1 {
		t.Fatalf("TCPTimeWaitReopened %d, want 1", got)
	}
	if got := p.a.Stats().TCPRetransmits; got != 0 {
		t.Fatalf("client retransmitted %d times", got)
	}
	var server Conn
	p.until("accept", time.Minute, func() bool {
		var err error
		server, err = l.Accept()
		return err == nil
	})
	msg := []byte("second incarnation")
	if got := p.send(c, server, msg, time.Minute); !bytes.Equal(got, msg) {
		t.Fatalf("server read %q", got)
	}
}

func TestOldSynDoesNotReopenTimeWait(t *testing.T) {
	p := newPair(t, 32, Config{})
	const port = 80
	_, lport := closedInTimeWait(t, p, port)
	old := p.b.tcp.c[p.b.tcp.lookup(addrA, lport, port)].rcvNxt

	// A SYN at or below the old incarnation's sequence numbers could be
	// an old duplicate: the TIME-WAIT connection takes it, answers with
	// an ACK of its own state, and no new connection opens.
	out := p.b.Stats().TCPSegsOut
	dialFrom(t, p, port, lport, old.add(-1000))
	p.until("the answer", 500*time.Millisecond, func() bool { return p.b.Stats().TCPSegsOut > out })
	if st := p.b.Stats(); st.TCPTimeWaitReopened != 0 || st.TCPEstablished != 1 {
		t.Fatalf("TCPTimeWaitReopened %d, TCPEstablished %d: want 0 and 1", st.TCPTimeWaitReopened, st.TCPEstablished)
	}
}
