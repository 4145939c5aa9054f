package stack

import (
	"errors"
	"testing"
	"time"
)

// TestResetFromRestartedPeer: the server's stack restarts (a new Stack on
// the same link and address, its ARP cache empty) and listens on the same
// port again. The client's next segment on the connection the old stack
// had must come back as a RST it accepts, sent to the MAC the segment
// came from, so the client learns at once that its connection is gone.
func TestResetFromRestartedPeer(t *testing.T) {
	p := newPair(t, 5, Config{})
	client, _ := p.connect(80)
	b, err := New(p.net.b, Config{Addr: addrB, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	p.b = b
	if _, err := p.b.Listen(80, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	p.until("the client sees the reset", 5*time.Second, func() bool { return client.State() == StateClosed })
	if !errors.Is(client.Err(), ErrReset) {
		t.Fatalf("the connection the peer forgot ended with %v, want ErrReset", client.Err())
	}
	if p.b.Stats().TCPResetsSent == 0 {
		t.Fatal("the restarted stack sent no RST")
	}
}
