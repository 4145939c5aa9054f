package tcpbench

import (
	"io"
	"net"
	"strings"
	"testing"
)

// serve runs Serve on the server end of a TCP connection over loopback
// and returns the client end and a channel with Serve's outcome.
func serve(t *testing.T) (net.Conn, <-chan error, <-chan Result) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	errc := make(chan error, 1)
	resc := make(chan Result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		r, err := Serve(c, make([]byte, 8<<10))
		c.Close()
		resc <- r
		errc <- err
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, errc, resc
}

func TestUploadAndDownload(t *testing.T) {
	for _, n := range []int64{1, 1000, 3<<20 + 17} {
		c, errc, resc := serve(t)
		if err := Upload(c, n, make([]byte, 4096)); err != nil {
			t.Fatalf("upload %d: %v", n, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("server of upload %d: %v", n, err)
		}
		if r := <-resc; r.Op != Recv || r.Bytes != n {
			t.Errorf("server saw %+v, want recv of %d", r, n)
		}

		c, errc, resc = serve(t)
		if err := Download(c, n, make([]byte, 4096)); err != nil {
			t.Fatalf("download %d: %v", n, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("server of download %d: %v", n, err)
		}
		if r := <-resc; r.Op != Send || r.Bytes != n {
			t.Errorf("server saw %+v, want send of %d", r, n)
		}
	}
}

func TestBadRequestsGetAnError(t *testing.T) {
	for _, req := range []string{"get 5\n", "recv\n", "recv -1\n", "send 0\n", "send 99999999999999999999\n", "send 1x\n", strings.Repeat("x", 100)} {
		c, errc, _ := serve(t)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err == nil {
			t.Errorf("%q: the server took it", req)
		}
		if !strings.Contains(req, "\n") {
			continue // no line: the server closes without an answer
		}
		got, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(got), "error bad ") {
			t.Errorf("%q: answer %q, want an error line", req, got)
		}
	}
}

func TestShortUploadIsAnError(t *testing.T) {
	c, errc, resc := serve(t)
	if _, err := io.WriteString(c, "recv 1000\n0123456789"); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "after 10 of 1000 bytes") {
		t.Errorf("server: %v, want it to say the client ended after 10 of 1000 bytes", err)
	}
	if r := <-resc; r.Bytes != 10 {
		t.Errorf("server counted %d bytes, want 10", r.Bytes)
	}
}

func TestClientsCheckTheirArguments(t *testing.T) {
	c, _, _ := serve(t)
	if err := Upload(c, 0, make([]byte, 4096)); err == nil {
		t.Error("an upload of 0 bytes was accepted")
	}
	if err := Download(c, MaxBytes+1, make([]byte, 4096)); err == nil {
		t.Error("a download beyond MaxBytes was accepted")
	}
	if _, err := Serve(c, make([]byte, 10)); err == nil {
		t.Error("Serve took a 10-byte buffer")
	}
}

// rw is a client that sends in and collects what the server writes.
type rw struct {
	in  *strings.Reader
	out strings.Builder
}

func (c *rw) Read(p []byte) (int, error) { return c.in.Read(p) }
func (c *rw) Write(p []byte) (int, error) {
	if c.out.Len() > 1<<20 { // a client that stops reading
		return 0, io.ErrClosedPipe
	}
	return c.out.Write(p)
}

// Whatever a client sends, Serve answers or fails with an error, never
// a panic, and never sends more than it was asked for.
func FuzzServe(f *testing.F) {
	for _, s := range []string{"recv 3\nabc", "send 10\n", "send 1\r\n", "recv 5\nab", "x\n", "", "recv 1", "send 99999999999\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c := &rw{in: strings.NewReader(in)}
		r, err := Serve(c, make([]byte, 1024))
		if r.Op == Send && int64(c.out.Len()) != r.Bytes {
			t.Errorf("sent %d bytes, reported %d (%v)", c.out.Len(), r.Bytes, err)
		}
	})
}
