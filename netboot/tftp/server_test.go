package tftp

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/files"
)

// serve starts a server on loopback for dir and returns its address and
// the transfers it reported.
func serve(t *testing.T, dir string, tweak func(*Server)) (*net.UDPAddr, func() []Transfer) {
	t.Helper()
	d, err := files.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var mu sync.Mutex
	var transfers []Transfer
	s := &Server{
		Files: d,
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnTransfer: func(tr Transfer) {
			mu.Lock()
			transfers = append(transfers, tr)
			mu.Unlock()
		},
	}
	if testing.Verbose() {
		s.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if tweak != nil {
		tweak(s)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return conn.LocalAddr().(*net.UDPAddr), func() []Transfer {
		mu.Lock()
		defer mu.Unlock()
		return append([]Transfer(nil), transfers...)
	}
}

// waitTransfers waits until n transfers were reported and returns them:
// a client has its last block before the server hears the last ACK.
func waitTransfers(t *testing.T, transfers func() []Transfer, n int) []Transfer {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(transfers()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d transfers reported, want %d", len(transfers()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return transfers()
}

func randomFile(t *testing.T, dir, name string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	files := map[string][]byte{
		"empty":         {},
		"small":         randomFile(t, dir, "small", 100),
		"exact512":      randomFile(t, dir, "exact512", 1024),
		"sub/big":       randomFile(t, dir, "sub/big", 3<<20+17),
		"exact1468":     randomFile(t, dir, "exact1468", 1468*40),
		"sub/undionly0": randomFile(t, dir, "sub/undionly0", 70000),
	}
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	addr, transfers := serve(t, dir, nil)
	for _, tc := range []struct {
		name string
		file string
		opts []Option
		oack map[string]string
	}{
		{"plain", "small", nil, nil},
		{"empty", "empty", nil, nil},
		{"exact multiple", "exact512", nil, nil},
		{"lockstep big", "sub/big", nil, nil},
		{"tsize", "small", []Option{{"tsize", "0"}}, map[string]string{"tsize": "100"}},
		{"blksize 1468", "exact1468", []Option{{"blksize", "1468"}, {"tsize", "0"}}, map[string]string{"blksize": "1468", "tsize": strconv.Itoa(1468 * 40)}},
		{"window 8", "sub/big", []Option{{"blksize", "1468"}, {"windowsize", "8"}}, map[string]string{"blksize": "1468", "windowsize": "8"}},
		{"window 16 exact", "exact1468", []Option{{"blksize", "1468"}, {"windowsize", "16"}}, map[string]string{"blksize": "1468", "windowsize": "16"}},
		{"window clamped", "small", []Option{{"windowsize", "5000"}}, map[string]string{"windowsize": "64"}},
		{"blksize clamped", "sub/undionly0", []Option{{"blksize", "99999"}}, map[string]string{"blksize": "65464"}},
		{"timeout", "small", []Option{{"timeout", "3"}, {"foo", "bar"}}, map[string]string{"timeout": "3"}},
		{"only unknown options", "small", []Option{{"foo", "bar"}, {"blksize", "4"}}, nil},
		{"mixed case", "small", []Option{{"BlkSize", "1000"}}, map[string]string{"blksize": "1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &testClient{server: addr}
			res, err := c.get(tc.file, "octet", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if res.errCode >= 0 {
				t.Fatalf("error %d %q", res.errCode, res.errMsg)
			}
			if !bytes.Equal(res.data, files[tc.file]) {
				t.Errorf("got %d bytes, want %d", len(res.data), len(files[tc.file]))
			}
			if fmt.Sprint(res.oack) != fmt.Sprint(tc.oack) {
				t.Errorf("OACK %v, want %v", res.oack, tc.oack)
			}
			if res.tid.Port == addr.Port {
				t.Errorf("server answered from its request port %d, not a new TID", addr.Port)
			}
		})
	}
	trs := waitTransfers(t, transfers, 13)
	for _, tr := range trs {
		if tr.Err != nil {
			t.Errorf("transfer %s: %v", tr.File, tr.Err)
		}
		if tr.Bytes != int64(len(files[tr.File])) {
			t.Errorf("transfer %s reported %d bytes, want %d", tr.File, tr.Bytes, len(files[tr.File]))
		}
	}
}

func TestNetASCII(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "text"), []byte("a\nb\rc\r\n"), 0o644)
	addr, _ := serve(t, dir, nil)
	res, err := (&testClient{server: addr}).get("text", "netascii", Option{"tsize", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\r\nb\r\x00c\r\x00\r\n"; string(res.data) != want {
		t.Errorf("netascii %q, want %q", res.data, want)
	}
	if res.oack != nil {
		t.Errorf("netascii answered tsize: %v", res.oack)
	}
}

// TestRefused checks that nothing outside the root, no write and no
// special file is served.
func TestRefused(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "root")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(parent, "secret"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(dir, "ok"), []byte("ok"), 0o644)
	os.Symlink("../secret", filepath.Join(dir, "escape"))
	os.Symlink(filepath.Join(parent, "secret"), filepath.Join(dir, "abs"))
	os.Symlink("..", filepath.Join(dir, "sub", "up"))
	os.Symlink("ok", filepath.Join(dir, "inside"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ := serve(t, dir, nil)
	for _, tc := range []struct {
		name string
		code int
	}{
		{"../secret", errAccess},
		{"sub/../../secret", errAccess},
		{"sub/../ok", errAccess},
		{"/etc/passwd", errAccess},
		{"//etc/passwd", errAccess},
		{"..\\secret", errAccess},
		{"%2e%2e/secret", errAccess},
		{"..%2fsecret", errAccess},
		{"./ok", errAccess},
		{"ok\x01", errAccess},
		{"escape", errAccess},
		{"abs", errAccess},
		{"sub/up/../secret", errAccess},
		{"fifo", errAccess},
		{"sub", errAccess},
		{"missing", errNotFound},
	} {
		res, err := (&testClient{server: addr}).get(tc.name, "octet")
		if err != nil {
			t.Errorf("%q: %v", tc.name, err)
			continue
		}
		if res.errCode != tc.code || len(res.data) > 0 {
			t.Errorf("%q: error %d %q, data %q; want error %d", tc.name, res.errCode, res.errMsg, res.data, tc.code)
		}
	}
	// Symbolic links that stay inside the root are followed.
	for _, name := range []string{"inside", "sub/up/ok"} {
		res, err := (&testClient{server: addr}).get(name, "octet")
		if err != nil || string(res.data) != "ok" {
			t.Errorf("%s: %v %q %q", name, err, res.data, res.errMsg)
		}
	}
	// A write request.
	conn, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer conn.Close()
	conn.WriteToUDP((&Request{Write: true, Filename: "new", Mode: "octet"}).marshal(), addr)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 600)
	n, _, err := conn.ReadFromUDP(buf)
	if err != nil || n < 4 || buf[1] != opERROR || buf[3] != errAccess {
		t.Errorf("WRQ answered with %q, %v", buf[:n], err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("WRQ created a file")
	}
	// Garbage gets an error, not a crash.
	conn.WriteToUDP([]byte{0, 1, 'x'}, addr)
	n, _, err = conn.ReadFromUDP(buf)
	if err != nil || buf[1] != opERROR || buf[3] != errIllegalOp {
		t.Errorf("garbage answered with %q, %v", buf[:n], err)
	}
}

// TestRetransmit loses packets in both directions and checks that the
// transfer still completes, with the lost blocks sent again.
func TestRetransmit(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f", 200*512+3)
	addr, transfers := serve(t, dir, func(s *Server) { s.Timeout = 30 * time.Millisecond })
	for _, tc := range []struct {
		name   string
		opts   []Option
		drop   func(block uint16, n int) bool
		dupACK bool
	}{
		{"lockstep lose first try of every 10th", nil, func(b uint16, n int) bool { return b%10 == 0 && n == 1 }, false},
		{"lockstep lose twice", nil, func(b uint16, n int) bool { return b == 7 && n <= 2 }, false},
		{"window lose one in the middle", []Option{{"windowsize", "8"}}, func(b uint16, n int) bool { return b%13 == 0 && n == 1 }, false},
		{"window lose the last of a window", []Option{{"windowsize", "8"}}, func(b uint16, n int) bool { return b%8 == 0 && n == 1 }, false},
		{"window lose the final block", []Option{{"windowsize", "4"}}, func(b uint16, n int) bool { return b == 201 && n == 1 }, false},
		{"duplicate ACKs", nil, nil, true},
		{"duplicate ACKs window", []Option{{"windowsize", "4"}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &testClient{server: addr, drop: tc.drop, dupACK: tc.dupACK, timeout: 200 * time.Millisecond}
			res, err := c.get("f", "octet", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.data, want) {
				t.Fatalf("got %d bytes, want %d (error %d %q)", len(res.data), len(want), res.errCode, res.errMsg)
			}
			if tc.dupACK && res.received != 201 {
				// The Sorcerer's Apprentice would double every block.
				t.Errorf("received %d DATA packets for 201 blocks", res.received)
			}
		})
	}
	var retrans int
	for _, tr := range waitTransfers(t, transfers, 7) {
		retrans += tr.Retransmits
	}
	if retrans == 0 {
		t.Error("no retransmissions reported")
	}
}

// TestClientGone checks that a transfer to a client that stops answering
// ends after the retries, and one the client aborts ends at once.
func TestClientGone(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 10*512)
	addr, transfers := serve(t, dir, func(s *Server) { s.Timeout = 10 * time.Millisecond; s.Retries = 2 })
	c := &testClient{server: addr, drop: func(uint16, int) bool { return true }, timeout: time.Hour}
	go c.get("f", "octet")
	(&testClient{server: addr, abortAfter: 3}).get("f", "octet")
	deadline := time.Now().Add(5 * time.Second)
	for len(transfers()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	trs := transfers()
	if len(trs) != 2 {
		t.Fatalf("%d transfers ended, want 2", len(trs))
	}
	for _, tr := range trs {
		if tr.Err == nil {
			t.Errorf("transfer from %v succeeded", tr.Client)
		}
		t.Logf("%v: %v", tr.Client, tr.Err)
	}
}

// TestRollover sends more than 65535 blocks: block numbers wrap to 0.
func TestRollover(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 70000 blocks")
	}
	dir := t.TempDir()
	want := randomFile(t, dir, "f", 70000*8+5)
	addr, _ := serve(t, dir, nil)
	res, err := (&testClient{server: addr}).get("f", "octet", Option{"blksize", "8"}, Option{"windowsize", "64"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.data, want) {
		t.Fatalf("got %d bytes, want %d", len(res.data), len(want))
	}
}

func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f", 1<<20)
	addr, transfers := serve(t, dir, nil)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := []Option{{"blksize", "1468"}}
			if i%2 == 0 {
				opts = append(opts, Option{"windowsize", "16"})
			}
			// 64 machines: one address each (one address may hold only
			// MaxPerClient transfers).
			res, err := (&testClient{server: addr, local: net.IPv4(127, 0, 1, byte(i+1))}).get("f", "octet", opts...)
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(res.data, want) {
				t.Errorf("client %d got %d bytes", i, len(res.data))
			}
		}()
	}
	wg.Wait()
	for _, tr := range waitTransfers(t, transfers, 64) {
		if tr.Err != nil {
			t.Errorf("transfer to %v: %v", tr.Client, tr.Err)
		}
	}
}

// TestDuplicateRequest checks that a request sent twice starts one
// transfer.
func TestDuplicateRequest(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 5000)
	addr, transfers := serve(t, dir, nil)
	conn, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer conn.Close()
	req := (&Request{Filename: "f", Mode: "octet", Options: []Option{{"tsize", "0"}}}).marshal()
	conn.WriteToUDP(req, addr)
	conn.WriteToUDP(req, addr)
	buf := make([]byte, 100)
	tids := map[string]bool{}
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		_, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		tids[from.String()] = true
	}
	if len(tids) != 1 {
		t.Errorf("answers from %d transfer IDs, want 1", len(tids))
	}
	_ = transfers
}

func TestMaxBlockLoopback(t *testing.T) {
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Loopback's MTU is 65536; the block is capped by RFC 2348 anyway.
	if got := maxBlockFor(c); got < 65464 {
		t.Errorf("maxBlockFor(loopback) = %d", got)
	}
}

// TestProbe checks that a client that reads the size from the OACK and
// aborts, as UEFI firmware does, is a probe, not a failure.
func TestProbe(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 5000)
	addr, transfers := serve(t, dir, nil)
	conn, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer conn.Close()
	conn.WriteToUDP((&Request{Filename: "f", Mode: "octet", Options: []Option{{"tsize", "0"}, {"blksize", "1468"}}}).marshal(), addr)
	buf := make([]byte, 100)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, tid, err := conn.ReadFromUDP(buf)
	if err != nil || buf[1] != opOACK || !strings.Contains(string(buf[:n]), "tsize\x005000") {
		t.Fatalf("OACK %q %v", buf[:n], err)
	}
	conn.WriteToUDP(errorPacket(errOptionRefused, "User aborted the transfer"), tid)
	deadline := time.Now().Add(5 * time.Second)
	for len(transfers()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if trs := transfers(); len(trs) != 1 || !trs[0].Probe || trs[0].Err != nil {
		t.Errorf("transfers %+v", trs)
	}
}

func TestNegotiateClampsToMTU(t *testing.T) {
	req := &Request{Mode: "octet", Options: []Option{{"blksize", "9000"}, {"windowsize", "0"}, {"timeout", "256"}, {"tsize", "x"}}}
	oack, p := negotiate(req, 5, 1468, 64, 5*time.Second)
	if len(oack) != 1 || oack[0] != (Option{"blksize", "1468"}) || p.blockSize != 1468 || p.window != 1 || p.timeout != 0 {
		t.Errorf("negotiate = %v %+v", oack, p)
	}
}

// TestStop checks that stopping the server ends a transfer in flight:
// the transfer is seen running (its first block arrived), and after the
// cancel it is reported ended by the stop.
func TestStop(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 10*512)
	d, _ := files.OpenDir(dir)
	defer d.Close()
	ended := make(chan Transfer, 1)
	s := &Server{Files: d, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: time.Hour, OnTransfer: func(tr Transfer) { ended <- tr }}
	conn, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, conn) }()
	// A client that never acknowledges: the transfer waits for an hour
	// unless the server stops it.
	client, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer client.Close()
	client.WriteToUDP((&Request{Filename: "f", Mode: "octet"}).marshal(), conn.LocalAddr().(*net.UDPAddr))
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 600)
	if n, _, err := client.ReadFromUDP(buf); err != nil || n < 4 || buf[1] != opDATA {
		t.Fatalf("no first block: %v", err)
	}
	if s.Running() != 1 {
		t.Fatalf("%d transfers running, want 1", s.Running())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	select {
	case tr := <-ended:
		if tr.Err == nil || !strings.Contains(tr.Err.Error(), "server stopped") {
			t.Errorf("transfer ended with %v, want the stop", tr.Err)
		}
	default:
		t.Error("Serve returned before the transfer was reported ended")
	}
	if s.Running() != 0 {
		t.Errorf("%d transfers still running", s.Running())
	}
}

// TestStrayACKsDoNotExtend: a client that keeps sending ACKs that
// acknowledge nothing does not keep the transfer alive: it ends after
// the retries, as if the client were silent.
func TestStrayACKsDoNotExtend(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 10*512)
	ended := make(chan Transfer, 1)
	addr, _ := serve(t, dir, func(s *Server) {
		s.Timeout, s.Retries = 100*time.Millisecond, 2
		s.OnTransfer = func(tr Transfer) { ended <- tr }
	})
	client, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer client.Close()
	client.WriteToUDP((&Request{Filename: "f", Mode: "octet"}).marshal(), addr)
	buf := make([]byte, 600)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, tid, err := client.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	stray := []byte{0, opACK, 0, 0} // block 0: acknowledges nothing
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case tr := <-ended:
			if tr.Err == nil || !strings.Contains(tr.Err.Error(), "no ACK for block 1") {
				t.Errorf("transfer ended with %v", tr.Err)
			}
			t.Logf("ended after %v of stray ACKs: %v", time.Since(start).Round(time.Millisecond), tr.Err)
			return
		case <-tick.C:
			client.WriteToUDP(stray, tid)
			if time.Since(start) > 20*time.Second {
				t.Fatal("stray ACKs kept the transfer alive for 20 s (the retries end it in 0.7 s)")
			}
		}
	}
}

// TestTransferDeadline: a client that acknowledges every block, but
// slowly, is cut off at the transfer's deadline.
func TestTransferDeadline(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 1000*512)
	ended := make(chan Transfer, 1)
	addr, _ := serve(t, dir, func(s *Server) {
		s.Timeout, s.TransferTimeout = time.Second, 300*time.Millisecond
		s.OnTransfer = func(tr Transfer) { ended <- tr }
	})
	go (&testClient{server: addr, ackDelay: 20 * time.Millisecond, timeout: 2 * time.Second}).get("f", "octet")
	select {
	case tr := <-ended:
		if tr.Err == nil || !strings.Contains(tr.Err.Error(), "not done within 300ms") || tr.Bytes >= 1000*512 {
			t.Errorf("transfer ended with %v after %d bytes", tr.Err, tr.Bytes)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("slow transfer not cut off")
	}
}

// TestClientTimeoutCapped: a timeout option above MaxClientTimeout is
// not acknowledged (the server keeps its own, with its backoff).
func TestClientTimeoutCapped(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{{"5", 5 * time.Second}, {"6", 0}, {"255", 0}} {
		oack, p := negotiate(&Request{Options: []Option{{"timeout", tc.v}}}, 1, 1468, 64, 5*time.Second)
		if p.timeout != tc.want || (tc.want == 0) != (len(oack) == 0) {
			t.Errorf("timeout %s: %v %v", tc.v, oack, p.timeout)
		}
	}
}

// TestPerClientCap: one address cannot take every transfer slot.
func TestPerClientCap(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 10*512)
	var srv *Server
	addr, _ := serve(t, dir, func(s *Server) { s.Timeout, s.MaxPerClient, srv = time.Hour, 3, s })
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	busy := 0
	for range 10 {
		c, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		conns = append(conns, c)
		c.WriteToUDP((&Request{Filename: "f", Mode: "octet"}).marshal(), addr)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 600)
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		if buf[1] == opERROR && strings.Contains(string(buf[4:n]), "too many transfers from your address") {
			busy++
		}
	}
	if busy != 7 || srv.Running() != 3 {
		t.Errorf("%d of 10 refused, %d running; want 7 and 3", busy, srv.Running())
	}
	// Another address still gets a transfer.
	res, err := (&testClient{server: addr, local: net.IPv4(127, 0, 0, 2)}).get("f", "octet")
	if err != nil || len(res.data) != 10*512 {
		t.Errorf("another client: %v", err)
	}
}
