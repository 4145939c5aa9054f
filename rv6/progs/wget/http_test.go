package wget

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, host, path string
		port           uint16
	}{
		{"http://10.0.2.2/", "10.0.2.2", "/", 80},
		{"http://10.0.2.2", "10.0.2.2", "/", 80},
		{"HTTP://10.0.2.2:8080/a/b.txt?x=1#frag", "10.0.2.2:8080", "/a/b.txt?x=1", 8080},
		{"http://10.0.2.2?q", "10.0.2.2", "/?q", 80},
	} {
		got, err := parseURL(c.in)
		if err != nil || got.host != c.host || got.path != c.path || got.port != c.port {
			t.Errorf("parseURL(%q) = %+v, %v; want host %q path %q port %d", c.in, got, err, c.host, c.path, c.port)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"http://example.com/", "no DNS"},
		{"https://10.0.2.2/", "no TLS"},
		{"gopher://10.0.2.2/", `scheme "gopher"`},
		{"http://10.0.2.2:0/", "bad port"},
		{"http://:80/", "no host"},
		{"http://u:p@10.0.2.2/", "user names"},
		{"http://10.0.2.2/a b", "space or control"},
		{"http://10.0.2.2/" + strings.Repeat("a", maxURL), "at most"},
	} {
		if _, err := parseURL(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseURL(%.40q): %v, want an error with %q", c.in, err, c.want)
		}
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{"/": "index.html", "/a/b.txt": "b.txt", "/a/": "index.html", "/x?y=/z": "x", "/..": "index.html"} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func read(t *testing.T, raw string) (response, string, error) {
	t.Helper()
	r := bufio.NewReaderSize(strings.NewReader(raw), 16)
	resp, err := readResponse(r)
	if err != nil {
		return resp, "", err
	}
	var body io.Reader = r
	if resp.chunked {
		body = &chunkedReader{r: r}
	} else if resp.length >= 0 {
		body = io.LimitReader(r, resp.length)
	}
	b, err := io.ReadAll(body)
	return resp, string(b), err
}

func TestResponses(t *testing.T) {
	resp, body, err := read(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
	if err != nil || resp.status != 200 || body != "hello" {
		t.Errorf("content-length: %+v %q %v", resp, body, err)
	}
	resp, body, err = read(t, "HTTP/1.0 200 OK\nServer: x\n\nuntil the end")
	if err != nil || resp.length != -1 || body != "until the end" {
		t.Errorf("until close: %+v %q %v", resp, body, err)
	}
	resp, body, err = read(t, "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n")
	if err != nil || !resp.chunked || body != "abc0123456789abcdef" {
		t.Errorf("chunked: %+v %q %v", resp, body, err)
	}
	for _, c := range []struct{ raw, want string }{
		{"", "status line"},
		{"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"},
		{"HTTP/1.1 2x0 OK\r\n\r\n", "bad status code"},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "not supported"},
		{"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "bad header line"},
		{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxHeader) + "\r\n\r\n", "longer than"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", "no CRLF"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n30\r\nabc", io.ErrUnexpectedEOF.Error()},
	} {
		if _, _, err := read(t, c.raw); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.50q: %v, want an error with %q", c.raw, err, c.want)
		}
	}
}

func FuzzResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
	f.Fuzz(func(t *testing.T, raw string) {
		_, body, err := read(t, raw)
		if err == nil && len(body) > len(raw) {
			t.Fatalf("a body of %d bytes from %d", len(body), len(raw))
		}
	})
}
