package guard

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLoadIdleConnections opens 15,000 idle connections from 250
// loopback addresses (20,000 exhausted the server's descriptors before;
// this process holds the clients' descriptors too, under a limit of
// 20,000). The server holds at most MaxConns, refuses the rest at once,
// and serves again as soon as the header timeout frees the slots. The
// numbers are in BENCHMARKS.md.
func TestLoadIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const clients, perAddr = 15000, 60
	lim := Limits{ReadHeaderTimeout: 3 * time.Second}
	gl, addr := serve(t, lim, http.HandlerFunc(ok))
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	before := fds()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	maxOpen := 0
	for i := range clients {
		c, err := dialFrom(addr, i/perAddr)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%500 == 0 {
			maxOpen = max(maxOpen, gl.Stats().Open)
		}
	}
	opened := time.Since(start)
	waitFor(t, gl, "all accepted or refused", func(s Stats) bool { return s.Accepted+s.Refused >= clients })
	st := gl.Stats()
	maxOpen = max(maxOpen, st.Open)
	busy, _ := get(addr, 1000)
	waitFor(t, gl, "header timeout", func(s Stats) bool { return s.Open == 0 })
	freed := time.Since(start)
	after, err := get(addr, 1000)
	t.Logf("%d idle connections in %v: server held at most %d (limit %d), refused %d; process descriptors %d -> %d (clients' included); a request meanwhile: %q; all freed after %v; then: %q %v",
		clients, opened.Round(time.Millisecond), maxOpen, gl.Limits().MaxConns, st.Refused, before, fds(), strings.SplitN(busy, "\n", 2)[0], freed.Round(time.Millisecond), after, err)
	if maxOpen > gl.Limits().MaxConns || after != "200 ok" {
		t.Errorf("open %d, after %q", maxOpen, after)
	}
}
