package stack_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/net/stack"
)

// tapLink is a stack.Link over a TAP device's file descriptor
// (non-blocking): test code only, the stack never makes system calls.
type tapLink struct {
	fd     int
	mac    [6]byte
	bufs   [][]byte
	frames [][]byte
}

func (l *tapLink) HardwareAddr() [6]byte { return l.mac }

func (l *tapLink) Receive() ([][]byte, error) {
	l.frames = l.frames[:0]
	for i := range l.bufs {
		n, err := unix.Read(l.fd, l.bufs[i][:cap(l.bufs[i])])
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return l.frames, err
		}
		l.frames = append(l.frames, l.bufs[i][:n])
	}
	return l.frames, nil
}

func (l *tapLink) Transmit(frames [][]byte) (int, error) {
	for i, f := range frames {
		if _, err := unix.Write(l.fd, f); err != nil {
			if err == unix.EAGAIN || err == unix.ENOBUFS {
				return i, nil
			}
			return i, err
		}
	}
	return len(frames), nil
}

// netns is a network namespace with a TAP device: Linux has 10.77.0.1/24
// on it, the stack under test 10.77.0.2.
type netns struct {
	name string
	link *tapLink
}

const (
	linuxIP = "10.77.0.1"
	stackIP = "10.77.0.2"
)

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns creates the namespace and the TAP device in it (root only).
func newNetns(t *testing.T) *netns {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and a TAP device")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (Debian package iproute2)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN/TAP support: %v", err)
	}
	n := &netns{name: fmt.Sprintf("rlstack%d", os.Getpid())}
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	fd := inNetns(t, n.name, func() (int, error) {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		ifr, err := unix.NewIfreq("rltap0")
		if err != nil {
			return -1, err
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("TUNSETIFF: %w", err)
		}
		return fd, nil
	})
	t.Cleanup(func() { unix.Close(fd) })
	run(t, "ip", "-n", n.name, "addr", "add", linuxIP+"/24", "dev", "rltap0")
	run(t, "ip", "-n", n.name, "link", "set", "rltap0", "up")
	run(t, "ip", "-n", n.name, "link", "set", "lo", "up")
	n.link = &tapLink{fd: fd, mac: [6]byte{0x02, 0x52, 0x4c, 0, 0, 2}}
	for range 64 {
		n.link.bufs = append(n.link.bufs, make([]byte, 0, 2048))
	}
	return n
}

// inNetns runs f on a thread inside the namespace; sockets and devices f
// creates stay in it.
func inNetns[T any](t *testing.T, name string, f func() (T, error)) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		v, err := f()
		ch <- result{v, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// A server is the stack on its own goroutine with four services:
// echo (7), discard-and-hash (9: replies with the SHA-256 of what it got),
// source (19: sends sourceLen pseudo-random bytes), HTTP (80: a fixed
// page, keep-alive).
type server struct {
	s        *stack.Stack
	stop     chan struct{}
	done     chan error
	stopOnce sync.Once
	mu       sync.Mutex
	dials    []dialReq
	sessMax  int
}

type dialReq struct {
	addr [4]byte
	port uint16
	data []byte
	err  chan error
}

const sourceLen = 64 << 20

func sourceData() []byte {
	r := rand.New(rand.NewPCG(19, 19))
	b := make([]byte, sourceLen)
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

var httpPage = []byte("<html><body>hello from the RedLeaf stack</body></html>\n")

type session struct {
	c      stack.Conn
	port   uint16
	out    []byte // waiting to be written
	h      interface{ Write([]byte) (int, error) }
	sum    func() []byte
	in     []byte
	srcOff int
	eof    bool
	dial   *dialReq
}

func startServer(t *testing.T, link stack.Link) *server {
	ip := [4]byte(net.ParseIP(stackIP).To4())
	s, err := stack.New(link, stack.Config{Addr: ip, RecvBuf: 1 << 20, SendBuf: 1 << 20, Seed: uint64(time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{s: s, stop: make(chan struct{}), done: make(chan error, 1)}
	go func() { srv.done <- srv.loop() }()
	t.Cleanup(func() { srv.shutdown(t) })
	return srv
}

// shutdown stops the server's loop and waits for it: after it, the stack
// is the test's to read.
func (srv *server) shutdown(t *testing.T) {
	srv.stopOnce.Do(func() {
		close(srv.stop)
		if err := <-srv.done; err != nil {
			t.Error(err)
		}
	})
}

func (srv *server) loop() error {
	s := srv.s
	var ls []stack.Listener
	for _, p := range []uint16{7, 9, 19, 80} {
		l, err := s.Listen(p, 64)
		if err != nil {
			return err
		}
		ls = append(ls, l)
	}
	src := sourceData()
	var sess []*session
	start := time.Now()
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-srv.stop:
			return nil
		default:
		}
		worked, err := s.Poll(time.Since(start))
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		srv.mu.Lock()
		for _, d := range srv.dials {
			c, err := s.Dial(d.addr, d.port)
			if err != nil {
				d.err <- err
				continue
			}
			d := d
			sess = append(sess, &session{c: c, out: d.data, dial: &d})
		}
		srv.dials = nil
		srv.mu.Unlock()
		for _, l := range ls {
			for {
				c, err := l.Accept()
				if err != nil {
					break
				}
				x := &session{c: c, port: l.Port()}
				if x.port == 9 {
					h := sha256.New()
					x.h, x.sum = h, func() []byte { return h.Sum(nil) }
				}
				sess = append(sess, x)
			}
		}
		for i := 0; i < len(sess); i++ {
			x := sess[i]
			if x.step(buf, src) {
				x.c.Close()
				sess = append(sess[:i], sess[i+1:]...)
				i--
			}
		}
		srv.sessMax = max(srv.sessMax, len(sess))
		if !worked {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// step advances one session; true when it is over.
func (x *session) step(buf, src []byte) bool {
	c := x.c
	if x.dial != nil { // our client: send data, close, done at EOF
		if c.State() == stack.StateClosed && c.Err() != nil {
			x.dial.err <- c.Err()
			return true
		}
		if c.State() == stack.StateSynSent {
			return false
		}
		for len(x.out) > 0 {
			n, err := c.Write(x.out)
			if err != nil {
				break
			}
			x.out = x.out[n:]
		}
		if len(x.out) == 0 && !x.eof {
			c.Shutdown(stack.ShutWrite)
			x.eof = true
		}
		for {
			_, err := c.Read(buf)
			if err == io.EOF {
				x.dial.err <- nil
				return true
			}
			if err != nil {
				break
			}
		}
		return false
	}
	for !x.eof {
		n, err := c.Read(buf)
		if n > 0 {
			switch x.port {
			case 7:
				x.out = append(x.out, buf[:n]...)
			case 9:
				x.h.Write(buf[:n])
			case 80:
				x.in = append(x.in, buf[:n]...)
			}
		}
		if err == io.EOF {
			x.eof = true
			if x.port == 9 {
				x.out = append(x.out, hex.EncodeToString(x.sum())+"\n"...)
			}
			break
		}
		if err != nil {
			if errors.Is(err, stack.ErrWouldBlock) {
				break
			}
			return true
		}
	}
	if x.port == 80 {
		for {
			i := bytes.Index(x.in, []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			x.in = x.in[i+4:]
			x.out = fmt.Appendf(x.out, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(httpPage), httpPage)
		}
	}
	if x.port == 19 {
		for x.srcOff < len(src) {
			n, err := c.Write(src[x.srcOff:])
			if err != nil {
				break
			}
			x.srcOff += n
		}
		if x.srcOff == len(src) {
			c.Shutdown(stack.ShutWrite)
			if c.State() == stack.StateFinWait2 || c.State() == stack.StateTimeWait || c.State() == stack.StateClosed {
				return true
			}
		}
		return c.State() == stack.StateClosed
	}
	for len(x.out) > 0 {
		n, err := c.Write(x.out)
		if err != nil {
			break
		}
		x.out = x.out[n:]
	}
	if x.eof && len(x.out) == 0 {
		c.Shutdown(stack.ShutWrite)
		return true
	}
	return c.State() == stack.StateClosed
}

func TestLinuxInterop(t *testing.T) {
	ns := newNetns(t)
	srv := startServer(t, ns.link)
	nsRun := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		return string(out), err
	}

	t.Run("ping", func(t *testing.T) {
		if _, err := exec.LookPath("ping"); err != nil {
			t.Skip("needs ping (Debian package iputils-ping)")
		}
		out, err := nsRun("", "ping", "-c", "2", "-W", "5", stackIP)
		if err != nil || !strings.Contains(out, "2 received") {
			t.Fatalf("ping: %v\n%s", err, out)
		}
	})

	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("needs curl")
		}
		url := "http://" + stackIP + "/"
		out, err := nsRun("", "curl", "-sS", "--max-time", "30", url, url, url)
		if err != nil || out != strings.Repeat(string(httpPage), 3) {
			t.Fatalf("curl: %v %q", err, out)
		}
	})

	t.Run("nc echo", func(t *testing.T) {
		if _, err := exec.LookPath("nc"); err != nil {
			t.Skip("needs nc (netcat-openbsd)")
		}
		msg := "hello through nc\n"
		out, err := nsRun(msg, "nc", "-N", "-w", "30", stackIP, "7")
		if err != nil || out != msg {
			t.Fatalf("nc: %v %q", err, out)
		}
	})

	t.Run("nc listens, the stack dials", func(t *testing.T) {
		if _, err := exec.LookPath("nc"); err != nil {
			t.Skip("needs nc (netcat-openbsd)")
		}
		cmd := exec.Command("ip", "netns", "exec", ns.name, "nc", "-l", "-N", "-w", "30", linuxIP, "5000")
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte("from the stack to nc\n"), 5000)
		var err error
		for try := 0; try < 50; try++ { // until nc listens: a refusal is fast
			done := make(chan error, 1)
			srv.mu.Lock()
			srv.dials = append(srv.dials, dialReq{addr: [4]byte(net.ParseIP(linuxIP).To4()), port: 5000, data: msg, err: done})
			srv.mu.Unlock()
			if err = <-done; err == nil || !errors.Is(err, stack.ErrRefused) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if !bytes.Equal(out.Bytes(), msg) {
			t.Fatalf("nc got %d bytes, want %d", out.Len(), len(msg))
		}
	})

	dial := func(port string) net.Conn {
		return inNetns(t, ns.name, func() (net.Conn, error) { return net.DialTimeout("tcp", stackIP+":"+port, 30*time.Second) })
	}

	t.Run("64 MiB each way", func(t *testing.T) {
		if testing.Short() {
			t.Skip("64 MiB transfers: skipped with -short")
		}
		data := sourceData()
		want := sha256.Sum256(data)
		// Linux to the stack.
		c := dial("9")
		c.SetDeadline(time.Now().Add(5 * time.Minute))
		go func() {
			c.Write(data)
			c.(*net.TCPConn).CloseWrite()
		}()
		reply, err := io.ReadAll(c)
		c.Close()
		if err != nil || strings.TrimSpace(string(reply)) != hex.EncodeToString(want[:]) {
			t.Fatalf("Linux -> stack: %v, the stack's SHA-256 %q, want %x", err, reply, want)
		}
		// The stack to Linux.
		c = dial("19")
		c.SetDeadline(time.Now().Add(5 * time.Minute))
		h := sha256.New()
		n, err := io.Copy(h, c)
		c.Close()
		if err != nil || n != sourceLen || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("stack -> Linux: %d bytes, %v, checksum equal %v", n, err, bytes.Equal(h.Sum(nil), want[:]))
		}
	})

	t.Run("many Go clients", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			c := dial("7")
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				msg := bytes.Repeat([]byte{byte(i)}, 100_000)
				go func() { c.Write(msg); c.(*net.TCPConn).CloseWrite() }()
				got, err := io.ReadAll(c)
				if err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("client %d: %v, %d bytes back", i, err, len(got))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	srv.shutdown(t)
	st := srv.s.Stats()
	t.Logf("stack: %d segments in, %d out, %d retransmits, %d established", st.TCPSegsIn, st.TCPSegsOut, st.TCPRetransmits, st.TCPEstablished)
}
