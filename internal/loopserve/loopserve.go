// Package loopserve is a host-side test adapter: it serves a protocol
// engine that only sees an io.ReadWriter (apps/httpd, apps/kvstore) on a
// loopback TCP listener, so real clients (curl, memccapable, Go's net/http)
// can talk to it. Tests only; nothing on the target links it.
package loopserve

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Serve accepts connections on 127.0.0.1 and runs serveConn on each, on a
// goroutine of its own, until the test ends; it returns the address.
func Serve(t testing.TB, serveConn func(io.ReadWriter) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serveConn(c)
			}()
		}
	}()
	return ln.Addr().String()
}
