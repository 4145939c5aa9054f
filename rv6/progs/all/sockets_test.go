package all_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/rv6/ulib"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// Test programs that use the socket syscalls directly.
func init() {
	// rv6test-socknoperm tries a socket on inet:a, which it is not granted.
	ulib.Register("rv6test-socknoperm", func(p *ulib.Proc) int {
		_, err := p.Sys().Socket("inet:a", idl.SockStream)
		fmt.Fprintf(p.Stdout, "socket: %v (EACCES %v)\n", err, errors.Is(err, errno.EACCES))
		_, err = p.Sys().Socket("inet:a", 7)
		fmt.Fprintf(p.Stdout, "bad type: %v\n", err)
		return 0
	})
	// rv6test-sockerrs misuses sockets and prints what each call says.
	ulib.Register("rv6test-sockerrs", func(p *ulib.Proc) int {
		sys := p.Sys()
		a, err := p.Inet("inet:a")
		if err != nil {
			p.Fatalf("%v", err)
		}
		say := func(what string, err error) {
			var e errno.Errno
			errors.As(err, &e)
			fmt.Fprintf(p.Stdout, "%s: %s: %v\n", what, e.Name(), err)
		}
		open := func() int32 {
			fd, err := sys.Socket("inet:a", idl.SockStream|idl.SockNonblock)
			if err != nil {
				p.Fatalf("%v", err)
			}
			return fd
		}
		fd := open()
		say("listen unbound", sys.Listen(fd, 1))
		say("bind elsewhere", sys.Bind(fd, idl.SockAddr{Addr: [4]byte{10, 0, 0, 9}, Port: 7040}))
		say("bind port 0", sys.Bind(fd, idl.SockAddr{}))
		_, err = sys.Write(fd, rref.New(p.Heap(), idl.IOBuf{}).Borrow(), 1)
		say("write unconnected", err)
		say("bind", sys.Bind(fd, idl.SockAddr{Port: 7040}))
		say("listen", sys.Listen(fd, 4))
		_, _, err = sys.Accept(fd)
		say("accept nonblocking", err)
		_, _, err = sys.Read(fd, rref.New(p.Heap(), idl.IOBuf{}), 1)
		say("read listener", err)
		_, err = sys.SendTo(fd, rref.New(p.Heap(), idl.IOBuf{}).Borrow(), 1, idl.SockAddr{Addr: netstacktest.AddrB, Port: 9})
		say("sendto tcp", err)
		say("bind stdin", sys.Bind(0, idl.SockAddr{Port: 1}))
		fd2 := open()
		sys.Bind(fd2, idl.SockAddr{Port: 7041})
		say("connect bound", sys.Connect(fd2, idl.SockAddr{Addr: netstacktest.AddrB, Port: 80}))
		sys.Close(fd2)
		st, err := sys.Fstat(fd)
		fmt.Fprintf(p.Stdout, "fstat: type %d, %v\n", st.Type, err)
		info, _ := a.Info()
		before := info.Sockets
		d, err := sys.Dup(fd)
		if err != nil {
			p.Fatalf("%v", err)
		}
		sys.Close(fd)
		info, _ = a.Info()
		fmt.Fprintf(p.Stdout, "after closing one of two descriptors: %d sockets (of %d)\n", info.Sockets, before)
		sys.Close(d)
		info, _ = a.Info()
		fmt.Fprintf(p.Stdout, "after closing both: %d sockets\n", info.Sockets-before)
		return 0
	})
	// rv6test-sockpoll polls a pipe and a UDP socket (on inet:a, fed from inet:b)
	// and prints what each poll reports.
	ulib.Register("rv6test-sockpoll", func(p *ulib.Proc) int {
		a, err := p.Inet("inet:a")
		if err != nil {
			p.Fatalf("%v", err)
		}
		b, err := p.Inet("inet:b")
		if err != nil {
			p.Fatalf("%v", err)
		}
		ua, err := a.ListenUDP(9000)
		if err != nil {
			p.Fatalf("%v", err)
		}
		ub, err := b.DialUDP(netstacktest.AddrA, 9000)
		if err != nil {
			p.Fatalf("%v", err)
		}
		r, w, err := p.Pipe()
		if err != nil {
			p.Fatalf("%v", err)
		}
		poll := func(what string, d time.Duration) {
			fds := []idl.PollFd{{Fd: int32(r.Fd()), Events: idl.PollIn}, {Fd: int32(ua.Fd()), Events: idl.PollIn}}
			k, err := p.Poll(fds, d)
			fmt.Fprintf(p.Stdout, "%s: %d ready, pipe %#x, socket %#x, %v\n", what, k, fds[0].Revents, fds[1].Revents, err)
		}
		fds := []idl.PollFd{{Fd: int32(r.Fd()), Events: idl.PollIn}, {Fd: int32(ua.Fd()), Events: idl.PollIn | idl.PollOut}, {Fd: 99, Events: idl.PollIn}}
		k, err := p.Poll(fds, -1) // a bad descriptor is an event: no wait
		fmt.Fprintf(p.Stdout, "bad fd: %d ready, pipe %#x, socket %#x, fd 99 %#x, %v\n", k, fds[0].Revents, fds[1].Revents, fds[2].Revents, err)
		poll("idle", 0)
		poll("idle 50ms", 50*time.Millisecond)
		w.WriteString("x")
		poll("pipe written", -1)
		r.Read(make([]byte, 8))
		ub.Write([]byte("datagram"))
		poll("datagram sent", -1)
		buf := make([]byte, 64)
		n, from, port, err := ua.ReadFrom(buf)
		lp, _ := ub.LocalPort()
		fmt.Fprintf(p.Stdout, "got %q from %s (its port: %v), %v\n", buf[:n], ulib.FormatIPv4(from), port == lp, err)
		w.Close()
		poll("pipe closed", -1)
		return 0
	})
}

// bootGuarded boots Rv6 with two stacks as bootInet does, with inet:b
// behind a shadow, and returns a kernel capability to each stack.
func bootGuarded(t *testing.T) (s *rv6test.System, m *domain.Manager, a, b idl.Inet, g *shadow.Guard) {
	t.Helper()
	m = domain.NewManager()
	t.Cleanup(m.Close)
	da, db, err := netstacktest.StartPair(m)
	if err != nil {
		t.Fatal(err)
	}
	if g, err = shadow.New(m, db, shadow.Policy{Retries: 3, Restarts: 10, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if a, err = domain.Connect[idl.Inet](m.Kernel(), da); err != nil {
		t.Fatal(err)
	}
	if b, err = domain.Connect[idl.Inet](m.Kernel(), g); err != nil {
		t.Fatal(err)
	}
	s = rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20, Manager: m,
		Grants: map[string]domain.Provider{"inet:a": da, "inet:b": g}})
	s.Caps = []string{"inet:a", "inet:b"}
	return s, m, a, b, g
}

// until waits (up to a minute) for cond, which looks at a stack.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in a minute", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sockets(t *testing.T, n idl.Inet) int32 {
	info, err := n.Info()
	if err != nil {
		t.Fatal(err)
	}
	return info.Sockets
}

// Socket descriptors go through sh's redirections and pipes.
func TestSocketRedirections(t *testing.T) {
	s := bootInet(t)
	s.WriteFile(t, "/f", "from a file\n")
	p := s.Start(t, "grant inet:b nc -l -d -v 7010 > /got1 &\n", "sh")
	waitOutput(t, p, "nc: listening on 10.0.0.2:7010")
	p.Type([]byte("grant inet:a nc 10.0.0.2 7010 < /f\nwait\n" +
		"grant inet:b nc -l -d -v 7011 > /got2 &\n"))
	waitOutput(t, p, "nc: listening on 10.0.0.2:7011")
	p.Type([]byte("cat /f /f | grant inet:a nc 10.0.0.2 7011\nwait\n" +
		"grant inet:b nc -l -v 7012 < /f &\n"))
	waitOutput(t, p, "nc: listening on 10.0.0.2:7012")
	p.Type([]byte("grant inet:a nc -d 10.0.0.2 7012 | wc -c > /got3\nwait\nexit\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	if err != nil || st.Status != 0 {
		t.Fatalf("sh: %+v %v:\n%s", st, err, out)
	}
	for path, want := range map[string]string{"/got1": "from a file\n", "/got2": "from a file\nfrom a file\n", "/got3": "12\n"} {
		if got := s.ReadFile(t, path); strings.TrimSpace(got) != strings.TrimSpace(want) {
			t.Errorf("%s: %q, want %q\n%s", path, got, want, out)
		}
	}
}

// A process needs the stack's capability to open a socket on it, and is
// told which grant it lacks.
func TestSocketNeedsGrant(t *testing.T) {
	s := bootInet(t)
	out, _ := s.Sh(t, "rv6test-socknoperm")
	for _, want := range []string{"does not hold capability inet:a (run it as: grant inet:a rv6test-socknoperm ...)", "EACCES true", "bad type: socket inet:a type 0x7"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// Sockets misused fail with errors naming the misuse; a socket closes
// with its last descriptor.
func TestSocketErrors(t *testing.T) {
	s := bootInet(t)
	out, st := s.Sh(t, "grant inet:a rv6test-sockerrs")
	if st.Status != 0 {
		t.Fatalf("%+v:\n%s", st, out)
	}
	for _, want := range []string{
		"listen unbound: EDESTADDRREQ: listen fd 3: bind a port first",
		"bind elsewhere: EINVAL: bind fd 3 to 10.0.0.9:7040: the stack inet:a has the address 10.0.0.1 only (or bind 0.0.0.0)",
		"bind port 0: EINVAL",
		"write unconnected: ENOTCONN",
		"bind: E0: <nil>",
		"listen: E0: <nil>",
		"accept nonblocking: EAGAIN",
		"read listener: EINVAL",
		"sendto tcp: EOPNOTSUPP: sendto fd 3: a TCP socket: use write",
		"bind stdin: ENOTSOCK",
		"connect bound: EINVAL: connect fd 4 to 10.0.0.2:80: the stack picks a connection's local port",
		"fstat: type 6, <nil>",
		"after closing one of two descriptors: 1 sockets (of 1)",
		"after closing both: -1 sockets",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// Poll sees a pipe and a socket become ready, and a bad descriptor.
func TestPollPipeAndSocket(t *testing.T) {
	s := bootInet(t)
	out, st := s.Sh(t, "grant inet:a,inet:b rv6test-sockpoll")
	if st.Status != 0 {
		t.Fatalf("sockpoll: %+v:\n%s", st, out)
	}
	for _, want := range []string{
		"bad fd: 2 ready, pipe 0x0, socket 0x4, fd 99 0x20, <nil>",
		"idle: 0 ready, pipe 0x0, socket 0x0, <nil>",
		"idle 50ms: 0 ready, pipe 0x0, socket 0x0, <nil>",
		"pipe written: 1 ready, pipe 0x1, socket 0x0, <nil>",
		"datagram sent: 1 ready, pipe 0x0, socket 0x1, <nil>",
		`got "datagram" from 10.0.0.2 (its port: true), <nil>`,
		"pipe closed: 1 ready, pipe 0x11, socket 0x0, <nil>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// UDP through nc -u both ways.
func TestNcUDP(t *testing.T) {
	s := bootInet(t)
	p := s.Start(t, "grant inet:b nc -u -l -d -v -w 2 5300 > /got &\n", "sh")
	waitOutput(t, p, "nc: listening on udp 10.0.0.2:5300")
	p.Type([]byte("echo over udp | grant inet:a nc -u -w 1 10.0.0.2 5300\nwait\ncat /got\nexit\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	if err != nil || st.Status != 0 || !strings.Contains(out, "nc: datagrams from 10.0.0.1:") {
		t.Fatalf("sh: %+v %v:\n%s", st, err, out)
	}
	if got := s.ReadFile(t, "/got"); got != "over udp\n" {
		t.Errorf("the server received %q:\n%s", got, out)
	}
}

// A killed nc -l frees its port and its socket slot: its descriptor was
// the socket's last.
func TestKilledListenerFreesPort(t *testing.T) {
	s, _, _, b, _ := bootGuarded(t)
	base := sockets(t, b)
	p := s.Start(t, "grant inet:b nc -l -v 7020 &\n", "sh")
	waitOutput(t, p, "nc: listening on 10.0.0.2:7020")
	if n := sockets(t, b); n != base+1 {
		t.Fatalf("%d sockets with nc listening, want %d", n, base+1)
	}
	p.Type([]byte("kill $!\nwait\n"))
	until(t, "closed listener", func() bool { return sockets(t, b) == base })
	l, err := b.Listen(7020, 1)
	if err != nil {
		t.Fatalf("port 7020 after the kill: %v", err)
	}
	b.Close(l)
	p.Type([]byte("exit\n"))
	p.Type(nil)
	if out, st, err := p.Wait(); err != nil || st.Status != 0 {
		t.Fatalf("sh: %+v %v:\n%s", st, err, out)
	}
}

// The stack restarting under a blocked read: the read fails saying the
// stack restarted, and new sockets work on the new instance.
func TestStackRestartUnderRead(t *testing.T) {
	s, m, _, _, g := bootGuarded(t)
	p := s.Start(t, "grant inet:b nc -l -d -v 7030 &\n", "sh")
	waitOutput(t, p, "nc: listening on 10.0.0.2:7030")
	p.Type([]byte("grant inet:a nc -d 10.0.0.2 7030 &\n"))
	waitOutput(t, p, "nc: connected to 10.0.0.1:")
	m.Kill(g.Current())
	waitOutput(t, p, "nc: read from the connection: network dropped connection on reset (the network stack restarted)")
	if g.Restarts() != 1 {
		t.Errorf("%d restarts, want 1", g.Restarts())
	}
	p.Type([]byte("kill $!\nwait\n")) // the client on inet:a never hears of it: nothing reaches it
	p.Type([]byte("grant inet:b nc -l -d -v 7031 > /got &\n"))
	waitOutput(t, p, "nc: listening on 10.0.0.2:7031")
	p.Type([]byte("echo after the restart | grant inet:a nc 10.0.0.2 7031\nwait\nexit\n"))
	p.Type(nil)
	out, _, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ReadFile(t, "/got"); got != "after the restart\n" {
		t.Errorf("after the restart the server received %q:\n%s", got, out)
	}
}

const httpResp = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\nhello, wget\n"

const chunkedResp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello,\r\n6\r\n wget\n\r\n0\r\n\r\n"

// wget against nc -l serving a canned response: Content-Length, chunked,
// a 404, to a file named after the URL, to -O FILE and to stdout.
func TestWget(t *testing.T) {
	s := bootInet(t)
	s.WriteFile(t, "/resp", httpResp)
	s.WriteFile(t, "/chunked", chunkedResp)
	s.WriteFile(t, "/404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	p := s.Start(t, "grant inet:b nc -l -v 8080 < /resp > /req &\n", "sh")
	waitOutput(t, p, "nc: listening on 10.0.0.2:8080")
	p.Type([]byte("grant inet:a wget http://10.0.0.2:8080/dir/page.html\nwait\n" +
		"grant inet:b nc -l -v 8081 < /chunked > /dev0 &\n"))
	waitOutput(t, p, "nc: listening on 10.0.0.2:8081")
	p.Type([]byte("grant inet:a wget -q -O - http://10.0.0.2:8081/ > /c\nwait\n" +
		"grant inet:b nc -l -v 8082 < /404 > /dev1 &\n"))
	waitOutput(t, p, "nc: listening on 10.0.0.2:8082")
	p.Type([]byte("grant inet:a wget -O /nf http://10.0.0.2:8082/missing\necho status $?\nwait\nexit\n"))
	p.Type(nil)
	out, _, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ReadFile(t, "/page.html"); got != "hello, wget\n" {
		t.Errorf("/page.html: %q\n%s", got, out)
	}
	if got := s.ReadFile(t, "/req"); !strings.HasPrefix(got, "GET /dir/page.html HTTP/1.1\r\nHost: 10.0.0.2:8080\r\n") {
		t.Errorf("the request: %q", got)
	}
	if got := s.ReadFile(t, "/c"); got != "hello, wget\n" {
		t.Errorf("chunked to stdout: %q\n%s", got, out)
	}
	for _, want := range []string{"wget: 200 OK: saved 12 bytes to page.html", "the server answered 404 Not Found (nothing saved)", "status 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestWgetErrors(t *testing.T) {
	s := bootInet(t)
	for _, c := range []struct{ url, want string }{
		{"http://example.com/", "Rv6 has no DNS"},
		{"https://10.0.0.2/", "https is not supported"},
		{"ftp://10.0.0.2/", "scheme \"ftp\" is not supported"},
		{"10.0.0.2/x", "want http://HOST[:PORT]/PATH"},
		{"http://10.0.0.2:99999/", "bad port"},
	} {
		out, st := s.Sh(t, "grant inet:a wget "+c.url)
		if st.Status != 2 || !strings.Contains(out, c.want) {
			t.Errorf("wget %s: %+v, want a usage error with %q:\n%s", c.url, st, c.want, out)
		}
	}
	out, st := s.Sh(t, "grant inet:a wget -w 5 http://10.0.0.2:8090/")
	if st.Status != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("wget of a closed port: %+v:\n%s", st, out)
	}
}
