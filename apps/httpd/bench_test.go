package httpd

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const benchConns = 4

// load sends b.N keep-alive GETs of /page.html over benchConns
// connections and reports requests per second.
func load(b *testing.B, dial func() (io.ReadWriteCloser, error)) {
	per := b.N/benchConns + 1
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchConns {
		c, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			r := bufio.NewReaderSize(c, 64<<10)
			req := []byte("GET /page.html HTTP/1.1\r\nHost: bench\r\n\r\n")
			body := make([]byte, 64<<10)
			for range per {
				if _, err := c.Write(req); err != nil {
					b.Error(err)
					return
				}
				n := -1
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						b.Error(err)
						return
					}
					if len(line) <= 2 {
						break
					}
					if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
						n, _ = strconv.Atoi(strings.TrimSpace(string(v)))
					}
				}
				if n < 0 {
					b.Error("no Content-Length")
					return
				}
				if _, err := io.ReadFull(r, body[:n]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*benchConns)/time.Since(start).Seconds(), "req/s")
}

var page = strings.Repeat("<p>RedLeaf-Go serves this page.</p>\n", 30) // about 1 KiB

// BenchmarkRequests compares httpd with Go's net/http serving the same
// file (from a temporary directory) with keep-alive, over loopback, and
// httpd in-process (net.Pipe: no TCP).
//
//	go test ./apps/httpd -run '^$' -bench Requests -benchtime 50000x
func BenchmarkRequests(b *testing.B) {
	fs := memFS{"page.html": {data: page, mod: mod}}
	b.Run("httpd-inprocess", func(b *testing.B) {
		srv := NewServer(fs, Config{MaxRequests: 1 << 30})
		load(b, func() (io.ReadWriteCloser, error) {
			c, s := net.Pipe()
			go srv.ServeConn(s)
			return c, nil
		})
	})
	b.Run("httpd-loopback", func(b *testing.B) {
		addr := serve(b, NewServer(fs, Config{MaxRequests: 1 << 30}))
		load(b, func() (io.ReadWriteCloser, error) { return net.Dial("tcp", addr) })
	})
	b.Run("nethttp-loopback", func(b *testing.B) {
		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "page.html"), []byte(page), 0o644)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hs := &http.Server{Handler: http.FileServer(http.Dir(dir))}
		go hs.Serve(ln)
		defer hs.Close()
		load(b, func() (io.ReadWriteCloser, error) { return net.Dial("tcp", ln.Addr().String()) })
	})
}
