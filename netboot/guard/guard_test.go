package guard

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve runs handler behind a guarded listener on 127.0.0.1.
func serve(t testing.TB, lim Limits, handler http.Handler) (*Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := Listen(ln, lim, quiet())
	hs := HTTPServer(handler, gl, quiet())
	go hs.Serve(gl)
	t.Cleanup(func() { hs.Close() })
	return gl, ln.Addr().String()
}

// dialFrom connects from a loopback address of its own (all of
// 127.0.0.0/8 is loopback), so that clients differ by address.
func dialFrom(addr string, i int) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(i>>8), byte(i)+1)}}
	return d.Dial("tcp4", addr)
}

// waitFor polls the listener's counts until cond holds.
func waitFor(t testing.TB, gl *Listener, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(gl.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, gl.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ok(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

func get(addr string, from int) (string, error) {
	c, err := dialFrom(addr, from)
	if err != nil {
		return "", err
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b), nil
}

// TestConnectionLimits: idle connections beyond the limits are refused
// at once with 503; the open ones end at the header timeout.
func TestConnectionLimits(t *testing.T) {
	gl, addr := serve(t, Limits{MaxConns: 20, MaxPerClient: 5, ReadHeaderTimeout: 2 * time.Second}, http.HandlerFunc(ok))
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// Client 0 opens 8: 5 are kept, 3 refused.
	for range 8 {
		c, err := dialFrom(addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	waitFor(t, gl, "per-client limit", func(s Stats) bool { return s.Open == 5 && s.Refused == 3 })
	if got, _ := get(addr, 0); !strings.HasPrefix(got, "503") {
		t.Errorf("sixth connection of a client: %q", got)
	}
	// 20 more clients with 1 each: 15 fit, 5 are refused.
	for i := 1; i <= 20; i++ {
		c, err := dialFrom(addr, i)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	waitFor(t, gl, "total limit", func(s Stats) bool { return s.Open == 20 && s.Refused == 3+1+5 })
	// The header timeout frees every slot; then a request goes through.
	waitFor(t, gl, "header timeout", func(s Stats) bool { return s.Open == 0 })
	if got, err := get(addr, 99); got != "200 ok" {
		t.Errorf("after the idle ones timed out: %q %v", got, err)
	}
}

// TestTrickledBody: a body sent a byte at a time ends at ReadTimeout.
func TestTrickledBody(t *testing.T) {
	readErr := make(chan error, 1)
	gl, addr := serve(t, Limits{ReadTimeout: 300 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	c, err := dialFrom(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("trickled body read to the end")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("trickled body still being read")
	}
	waitFor(t, gl, "connection closed", func(s Stats) bool { return s.Open == 0 })
}

// TestStalledReader: a client that stops reading a large response is
// cut off after WriteProgress; a slow one that keeps reading is not.
func TestStalledReader(t *testing.T) {
	wrote := make(chan error, 2)
	gl, addr := serve(t, Limits{WriteProgress: 300 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1<<20)
		var err error
		for i := 0; i < 64 && err == nil; i++ {
			_, err = w.Write(buf)
		}
		wrote <- err
	}))
	c, err := dialFrom(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("64 MiB written to a client that reads nothing")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("writer still blocked")
	}
	waitFor(t, gl, "connection closed", func(s Stats) bool { return s.Open == 0 })
	// A slow reader: 64 MiB read in pieces with pauses shorter than the
	// progress limit.
	c2, err := dialFrom(addr, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8<<20)
	var n int64
	for {
		m, err := io.ReadFull(resp.Body, buf)
		n += int64(m)
		if err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := <-wrote; err != nil || n != 64<<20 {
		t.Errorf("slow reader: %d bytes, writer %v", n, err)
	}
}
