package system

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/apps/kvstore"
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/net/tcpbench"
	"github.com/rlgo/redleaf/rv6/fs/tools"
)

func TestParseLinuxNet(t *testing.T) {
	for _, tc := range []struct {
		cmdline, want, err string
	}{
		{"", "", ""},
		{"rl.linuxnet=0", "", ""},
		{"rl.linuxnet=52:54:00:72:6c:02 rl.linuxnetaddr=10.0.3.15/24", "52:54:00:72:6c:02 10.0.3.15/24", ""},
		{"rl.linuxnet=52:54:00:72:6c:02", "", "needs rl.linuxnetaddr="},
		{"rl.linuxnet=nic1 rl.linuxnetaddr=10.0.3.15/24", "", "want the Ethernet address"},
		{"rl.linuxnet=52:54:00:72:6c:02 rl.linuxnetaddr=10.0.3.15", "", "want an IPv4 address and a prefix length"},
		{"rl.linuxnet=52:54:00:72:6c:02 rl.linuxnetaddr=fe80::1/64", "", "want an IPv4 address"},
		{"rl.linuxnet=52:54:00:72:6c:02 rl.linuxnetaddr=10.0.3.15/32", "", "prefix length of 1..30"},
	} {
		cfg, err := ParseLinuxNet(boot.ParseCmdline(tc.cmdline))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one saying %q", tc.cmdline, err, tc.err)
			}
			continue
		}
		got := ""
		if cfg.MAC != nil {
			got = cfg.MAC.String() + " " + cfg.Addr.String()
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.cmdline, got, err, tc.want)
		}
	}
}

// wwwImage builds an Rv6 image holding /www/index.html and
// /www/sub/data.bin.
func wwwImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(filepath.Join(www, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(www, "index.html"), []byte("<h1>hello</h1>\n"), 0o644)
	os.WriteFile(filepath.Join(www, "sub", "data.bin"), make([]byte, 10000), 0o644)
	image := filepath.Join(dir, "root.img")
	if err := tools.Mkfs(image, 4<<20, []tools.Add{{Host: www, Path: "/www"}}, tools.MkfsOptions{Time: 1700000000e9}); err != nil {
		t.Fatal(err)
	}
	return image
}

func TestLinuxHTTPServesTheImagesWWW(t *testing.T) {
	mem, err := LoadMemory(wwwImage(t))
	if err != nil {
		t.Fatal(err)
	}
	files, err := readWWW(mem, mem.Size())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("read %d files, want 2", len(files))
	}
	srv := httptest.NewServer(newLinuxHTTP(files).Handler)
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<h1>hello</h1>\n"},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "<h1>hello</h1>\n"},
		{"HEAD", "/sub/data.bin", 200, "application/octet-stream", ""},
		{"GET", "/sub/../sub/data.bin", 200, "application/octet-stream", strings.Repeat("\x00", 10000)},
		{"GET", "/nothing", 404, "", ""},
		{"POST", "/", 405, "", ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, got, tc.ctype)
		}
		if got := resp.Header.Get("Last-Modified"); got != "Tue, 14 Nov 2023 22:13:20 GMT" {
			t.Errorf("%s %s: Last-Modified %q, want the image's time", tc.method, tc.path, got)
		}
		if string(body) != tc.body {
			t.Errorf("%s %s: body of %d bytes, want %d", tc.method, tc.path, len(body), len(tc.body))
		}
	}
}

func TestReadWWWErrors(t *testing.T) {
	mem, err := NewMemory(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readWWW(mem, mem.Size()); err == nil || !strings.Contains(err.Error(), "mounting the RAM disk") {
		t.Errorf("zeros: %v, want a mount error", err)
	}
	dir := t.TempDir()
	image := filepath.Join(dir, "root.img")
	if err := tools.Mkfs(image, 4<<20, nil, tools.MkfsOptions{}); err != nil {
		t.Fatal(err)
	}
	if mem, err = LoadMemory(image); err != nil {
		t.Fatal(err)
	}
	if _, err := readWWW(mem, mem.Size()); err == nil || !strings.Contains(err.Error(), "no /www") {
		t.Errorf("no /www: %v, want an error saying so", err)
	}
}

// The baseline's tcpbench server answers both directions and holds no
// more than its limit of clients at once.
func TestLinuxTCPBench(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveTCPBench(l, 1, time.Minute)
	dial := func() net.Conn {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial()
	if err := tcpbench.Upload(c, 1<<20, make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// One client holds the only slot: a second one is accepted by the
	// kernel's backlog but not served until the first leaves.
	first := dial()
	io.WriteString(first, "send 5")
	second := dial()
	done := make(chan error, 1)
	go func() { done <- tcpbench.Download(second, 3, make([]byte, 1024)) }()
	select {
	case err := <-done:
		t.Fatalf("the second client was served while the first held the only slot: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	io.WriteString(first, "\n")
	if got, err := io.ReadAll(first); err != nil || len(got) != 5 {
		t.Fatalf("first client: %d bytes, %v", len(got), err)
	}
	first.Close()
	if err := <-done; err != nil {
		t.Fatalf("second client: %v", err)
	}
}

// The baseline's kvstore speaks the memcached protocol.
func TestLinuxKV(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveKV(l, kvstore.NewServer(kvstore.Config{MaxConns: 2}))
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "set k 0 0 2\r\nhi\r\nget k\r\nquit\r\n")
	got, err := io.ReadAll(c)
	if want := "STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n"; err != nil || string(got) != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}
