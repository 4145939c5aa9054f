package kvstore

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/internal/loopserve"
)

// serve runs srv on a loopback listener and returns its address.
func serve(t testing.TB, srv *Server) string { return loopserve.Serve(t, srv.ServeConn) }

// client is a line-level protocol client for the tests.
type client struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t, c, bufio.NewReader(c)}
}

// do sends req and reads n lines of answer.
func (c *client) do(req string, n int) string {
	c.t.Helper()
	if _, err := c.c.Write([]byte(req)); err != nil {
		c.t.Fatal(err)
	}
	var b strings.Builder
	for range n {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("%q: %v after %q", req, err, b.String())
		}
		b.WriteString(l)
	}
	return b.String()
}

func TestProtocol(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := NewServer(Config{Now: clock})
	c := dial(t, serve(t, srv))
	steps := []struct{ req, want string }{
		{"set a 5 0 3\r\nabc\r\n", "STORED\r\n"},
		{"get a\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n"},
		{"add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
		{"replace b 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
		{"append a 0 0 2\r\nde\r\n", "STORED\r\n"},
		{"prepend a 0 0 2\r\nzz\r\n", "STORED\r\n"},
		{"get a b\r\n", "VALUE a 5 7\r\nzzabcde\r\nEND\r\n"},
		{"set n 0 0 2\r\n10\r\n", "STORED\r\n"},
		{"incr n 5\r\n", "15\r\n"},
		{"decr n 100\r\n", "0\r\n"},
		{"incr n 18446744073709551615\r\n", "18446744073709551615\r\n"},
		{"incr n 1\r\n", "0\r\n"},
		{"incr a 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{"incr zz 1\r\n", "NOT_FOUND\r\n"},
		{"incr n x\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
		{"delete n\r\n", "DELETED\r\n"},
		{"delete n\r\n", "NOT_FOUND\r\n"},
		{"touch a 10\r\n", "TOUCHED\r\n"},
		{"touch nope 10\r\n", "NOT_FOUND\r\n"},
		{"set q 0 0 1 noreply\r\nq\r\nget q\r\n", "VALUE q 0 1\r\nq\r\nEND\r\n"},
		{"version\r\n", "VERSION " + Version + "\r\n"},
		{"verbosity 1\r\n", "OK\r\n"},
		{"bogus\r\n", "ERROR\r\n"},
		{"set k 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n"},
		{"get " + strings.Repeat("k", 251) + "\r\n", "CLIENT_ERROR key too long or with control characters\r\n"},
		{"set big 0 0 2000000\r\n", "SERVER_ERROR object too large for cache\r\n"},
		{"set bad 0 0 1\r\nxyz\r\n", "CLIENT_ERROR bad data chunk\r\n"},
	}
	for _, s := range steps {
		if s.req == "set big 0 0 2000000\r\n" {
			// The data block follows and is skipped.
			s.req += strings.Repeat("x", 2000000) + "\r\n"
		}
		if got := c.do(s.req, strings.Count(s.want, "\n")); got != s.want {
			t.Fatalf("%q: got %q, want %q", s.req, got, s.want)
		}
	}
	// The bad data chunk's rest (an empty line) is read as a command.
	if r := c.do("version\r\n", 2); r != "ERROR\r\nVERSION "+Version+"\r\n" {
		t.Fatalf("after a bad data chunk: %q", r)
	}
	// gets and cas.
	got := c.do("gets a\r\n", 3)
	var cas uint64
	fmt.Sscanf(strings.SplitN(got, "\r\n", 2)[0], "VALUE a 5 7 %d", &cas)
	if cas == 0 {
		t.Fatalf("gets: %q", got)
	}
	if r := c.do(fmt.Sprintf("cas a 1 0 1 %d\r\nX\r\n", cas+1), 1); r != "EXISTS\r\n" {
		t.Fatalf("cas with a stale unique: %q", r)
	}
	if r := c.do(fmt.Sprintf("cas a 1 0 1 %d\r\nX\r\n", cas), 1); r != "STORED\r\n" {
		t.Fatalf("cas: %q", r)
	}
	if r := c.do("cas gone 0 0 1 1\r\nX\r\n", 1); r != "NOT_FOUND\r\n" {
		t.Fatalf("cas of a missing key: %q", r)
	}
	// Expiry: relative seconds, and gat resets it.
	c.do("set e 0 10 1\r\ne\r\n", 1)
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	if r := c.do("get e\r\n", 1); r != "END\r\n" {
		t.Fatalf("expired item returned: %q", r)
	}
	c.do("set e 0 10 1\r\ne\r\n", 1)
	c.do("gat 100 e\r\n", 3)
	mu.Lock()
	now = now.Add(50 * time.Second)
	mu.Unlock()
	if r := c.do("get e\r\n", 3); r != "VALUE e 0 1\r\ne\r\nEND\r\n" {
		t.Fatalf("gat did not extend: %q", r)
	}
	if r := c.do("flush_all\r\nget e\r\n", 2); r != "OK\r\nEND\r\n" {
		t.Fatalf("flush_all: %q", r)
	}
	if r := c.do("stats\r\n", 1); !strings.HasPrefix(r, "STAT pid") {
		t.Fatalf("stats: %q", r)
	}
	for {
		if l := c.do("", 1); l == "END\r\n" {
			break
		} else if !strings.HasPrefix(l, "STAT ") {
			t.Fatalf("stats line %q", l)
		}
	}
	// A line over the limit ends the connection with an error.
	c.c.Write([]byte(strings.Repeat("g", 5000)))
	if r, _ := c.r.ReadString('\n'); r != "CLIENT_ERROR line too long\r\n" {
		t.Fatalf("long line: %q", r)
	}
}

func TestLRUEviction(t *testing.T) {
	s := NewStore(100*(itemOverhead+2+100), 1000, nil)
	val := make([]byte, 100)
	for i := range 200 {
		s.Store(Set, []byte(fmt.Sprintf("%02x", i)), 0, 0, val, 0)
		if i == 150 {
			s.Get([]byte("00"), false, 0) // 00 is gone by then; 96 is recent
		}
		s.Get([]byte("96"), false, 0)
	}
	st := s.Stats()
	if st.Bytes > 100*(itemOverhead+2+100) || st.CurrItems != 100 || st.Evictions != 100 {
		t.Fatalf("stats %+v", st)
	}
	if _, ok := s.Get([]byte("96"), false, 0); !ok {
		t.Fatal("the most recently used item was evicted")
	}
	if _, ok := s.Get([]byte("10"), false, 0); ok {
		t.Fatal("an old item survived")
	}
}

func TestConnectionLimit(t *testing.T) {
	srv := NewServer(Config{MaxConns: 2})
	addr := serve(t, srv)
	a, b := dial(t, addr), dial(t, addr)
	a.do("version\r\n", 1)
	b.do("version\r\n", 1)
	c := dial(t, addr)
	if r := c.do("", 1); r != "SERVER_ERROR too many open connections\r\n" {
		t.Fatalf("third connection: %q", r)
	}
	if srv.Store().Stats().RejectedConns != 1 {
		t.Fatal("rejection not counted")
	}
}

func TestIdleTimeout(t *testing.T) {
	srv := NewServer(Config{IdleTimeout: 100 * time.Millisecond})
	c := dial(t, serve(t, srv))
	c.do("version\r\n", 1)
	// The server closes an idle connection: the read sees EOF.
	if _, err := c.r.ReadString('\n'); err == nil {
		t.Fatal("idle connection not closed")
	}
}

// TestMemccapable runs libmemcached's conformance checker, every ascii
// test, against the server.
func TestMemccapable(t *testing.T) {
	bin := ""
	for _, name := range []string{"memccapable", "memcapable"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("needs memccapable (Debian package libmemcached-tools)")
	}
	addr := serve(t, NewServer(Config{}))
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(bin, "-a", "-v", "-t", "10", "-h", host, "-p", port).CombinedOutput()
	if err != nil || strings.Contains(string(out), "[FAIL]") {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	if n := strings.Count(string(out), "[pass]"); n < 27 { // memccapable 1.1 has 27 ascii tests
		t.Fatalf("only %d tests passed:\n%s", n, out)
	}
	t.Logf("%s", out)
}

// TestPymemcache drives the server with pymemcache, a Python client.
func TestPymemcache(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3")
	}
	if exec.Command(py, "-c", "import pymemcache").Run() != nil {
		// Debian's package installs into the system python.
		if _, err := os.Stat("/usr/bin/python3"); err == nil && exec.Command("/usr/bin/python3", "-c", "import pymemcache").Run() == nil {
			py = "/usr/bin/python3"
		} else {
			t.Skip("needs pymemcache (Debian package python3-pymemcache)")
		}
	}
	addr := serve(t, NewServer(Config{}))
	host, port, _ := net.SplitHostPort(addr)
	script := `
import sys
from pymemcache.client.base import Client
c = Client((sys.argv[1], int(sys.argv[2])), connect_timeout=10, timeout=10, default_noreply=False)
assert c.set("k", b"v", expire=100)
assert c.get("k") == b"v"
assert c.add("k", b"w") is False
assert c.replace("k", b"w") is True
assert c.append("k", b"x") and c.prepend("k", b"y")
assert c.get("k") == b"ywx"
v, cas = c.gets("k")
assert c.cas("k", b"z", cas) is True
assert c.cas("k", b"q", cas) is False
assert c.get_many(["k", "missing"]) == {"k": b"z"}
c.set("n", b"41")
assert c.incr("n", 1) == 42 and c.decr("n", 50) == 0
assert c.touch("n", 10) is True
assert c.delete("n") is True and c.get("n") is None
c.set_many({"a": b"1", "b": b"2"}, noreply=True)
assert c.get_many(["a", "b"]) == {"a": b"1", "b": b"2"}
assert c.touch("a", 100) is True
big = bytes(range(256)) * 2000
assert c.set("big", big) and c.get("big") == big
assert c.stats()[b"curr_items"] >= 3
assert c.version().startswith(b"1.6")
c.flush_all()
assert c.get("a") is None
print("ok")
`
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("pymemcache: %v\n%s", err, out)
	}
}
