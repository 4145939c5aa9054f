package httpd

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/internal/loopserve"
)

// memFS is an FS in memory, for the tests.
type memFS map[string]memFile

type memFile struct {
	data string
	mod  time.Time
	dir  bool
}

func (m memFile) Stat() (FileInfo, error) {
	return FileInfo{Size: int64(len(m.data)), ModTime: m.mod, IsDir: m.dir}, nil
}
func (m memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	return copy(p, m.data[off:]), nil
}
func (m memFile) Close() error { return nil }

func (fs memFS) Open(name string) (File, error) {
	f, ok := fs[name]
	if !ok {
		return nil, ErrNotExist
	}
	return f, nil
}

var mod = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testFS() memFS {
	return memFS{
		"":                {dir: true, mod: mod},
		"index.html":      {data: "<h1>home</h1>\n", mod: mod},
		"style.css":       {data: "body{}", mod: mod},
		"docs":            {dir: true, mod: mod},
		"docs/index.html": {data: "docs", mod: mod},
		"empty":           {dir: true, mod: mod},
		"big.bin":         {data: strings.Repeat("0123456789", 100_000), mod: mod},
	}
}

// serve runs srv on a loopback listener and returns its address.
func serve(t testing.TB, srv *Server) string { return loopserve.Serve(t, srv.ServeConn) }

func curl(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl")
	}
	out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "30"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestCurl(t *testing.T) {
	srv := NewServer(testFS(), Config{})
	base := "http://" + serve(t, srv)

	// Headers of a file; 200, type, length, last-modified.
	h := curl(t, "-i", base+"/style.css")
	for _, want := range []string{"HTTP/1.1 200 OK\r\n", "Content-Type: text/css; charset=utf-8\r\n", "Content-Length: 6\r\n",
		"Last-Modified: Fri, 02 Jan 2026 03:04:05 GMT\r\n", "\r\n\r\nbody{}"} {
		if !strings.Contains(h, want) {
			t.Errorf("GET /style.css: no %q in\n%s", want, h)
		}
	}
	// A directory's index file has the index file's type.
	if h := curl(t, "-i", base+"/"); !strings.Contains(h, "Content-Type: text/html; charset=utf-8\r\n") {
		t.Errorf("GET /: not served as HTML:\n%s", h)
	}
	// Keep-alive: curl reuses one connection for several URLs.
	out := curl(t, "-v", base+"/", base+"/docs/", base+"/big.bin", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null")
	if strings.Count(out, "Connected to") != 1 || !strings.Contains(out, "e-using existing connection") {
		t.Errorf("no keep-alive:\n%s", out)
	}
	if got := curl(t, base+"/big.bin"); len(got) != 1_000_000 {
		t.Errorf("big.bin: %d bytes", len(got))
	}
	codes := []struct {
		args []string
		want string
	}{
		{[]string{base + "/"}, "200"},
		{[]string{base + "/docs"}, "301"},
		{[]string{base + "/missing"}, "404"},
		{[]string{base + "/empty/"}, "404"},
		{[]string{"-X", "POST", base + "/"}, "405"},
		{[]string{"-X", "DELETE", base + "/"}, "405"},
		{[]string{"-I", base + "/"}, "200"},
		{[]string{"-H", "If-Modified-Since: Fri, 02 Jan 2026 03:04:05 GMT", base + "/"}, "304"},
		{[]string{"-H", "If-Modified-Since: Thu, 01 Jan 2026 03:04:05 GMT", base + "/"}, "200"},
		{[]string{"--path-as-is", base + "/../../etc/passwd"}, "404"},
		{[]string{base + "/%2e%2e/%2e%2e/etc/passwd"}, "404"},
		{[]string{base + "/a%00b"}, "400"},
		{[]string{"-H", "X-Big: " + strings.Repeat("a", 9000), base + "/"}, "431"},
		{[]string{"--data-binary", "@-", base + "/"}, "413"},
	}
	for _, c := range codes {
		args := append([]string{"-o", "/dev/null", "-w", "%{http_code}"}, c.args...)
		cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "30"}, args...)...)
		cmd.Stdin = strings.NewReader(strings.Repeat("x", 100_000))
		got, _ := cmd.Output()
		if string(got) != c.want {
			t.Errorf("curl %v: %s, want %s", c.args, got, c.want)
		}
	}
}

// raw sends a raw request and returns the status line.
func raw(t *testing.T, addr, req string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(req))
	l, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(l)
}

func TestMalformed(t *testing.T) {
	addr := serve(t, NewServer(testFS(), Config{}))
	for req, want := range map[string]string{
		"GARBAGE\r\n\r\n":                                                "HTTP/1.1 400 Bad Request",
		"GET / HTTP/2.0\r\n\r\n":                                         "HTTP/1.1 400 Bad Request",
		"GET http://x/ HTTP/1.1\r\n\r\n":                                 "HTTP/1.1 400 Bad Request",
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n":                              "HTTP/1.1 400 Bad Request",
		"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n":                    "HTTP/1.1 400 Bad Request",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n":          "HTTP/1.1 501 Not Implemented",
		"\r\nGET / HTTP/1.0\r\n\r\n":                                     "HTTP/1.1 200 OK",
		"GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 2000) + "\r\n": "HTTP/1.1 431 Request Header Fields Too Large",
	} {
		if got := raw(t, addr, req); got != want {
			t.Errorf("%.40q: %q, want %q", req, got, want)
		}
	}
}

func TestConnectionLimitAndIdle(t *testing.T) {
	srv := NewServer(testFS(), Config{MaxConns: 1, IdleTimeout: 200 * time.Millisecond})
	addr := serve(t, srv)
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	r := bufio.NewReader(a)
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "HTTP/1.1 200") {
		t.Fatalf("first connection: %q", l)
	}
	if got := raw(t, addr, "GET / HTTP/1.1\r\n\r\n"); got != "HTTP/1.1 503 Service Unavailable" {
		t.Fatalf("second connection: %q", got)
	}
	// The idle first connection is closed by the server.
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("idle connection: %v", err)
	}
	// Now a new one gets in.
	if got := raw(t, addr, "GET / HTTP/1.0\r\n\r\n"); got != "HTTP/1.1 200 OK" {
		t.Fatalf("after the idle close: %q", got)
	}
}

// TestGoClient checks the responses parse with Go's HTTP client.
func TestGoClient(t *testing.T) {
	base := "http://" + serve(t, NewServer(testFS(), Config{}))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections() // before the server's cleanup waits for its connections
	for range 3 {
		resp, err := client.Get(base + "/docs/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "docs" || resp.Header.Get("Last-Modified") == "" {
			t.Fatalf("%v %q %v", resp.Status, b, resp.Header)
		}
	}
}
