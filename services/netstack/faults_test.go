package netstack_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/netserve"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/services/netstack"
)

// The server and the client of the fault test, on one 82599's cable.
var (
	serverAddr = [4]byte{10, 0, 0, 1}
	clientAddr = [4]byte{10, 0, 0, 2}
	clientMAC  = [6]byte{0x02, 0, 0, 0, 0, 2}
)

const (
	httpPort = 80
	kvPort   = 11211
	// reqBound is the longest a client waits for one response before it
	// drops the connection (a timeout): no request outlives it.
	reqBound = 5 * time.Second
	// stepBound bounds each wait of the test for an event (a fault
	// fired, a restart, successes after it).
	stepBound = 30 * time.Second
)

// wire is the far end of the model's cable: a stack.Link that injects what
// it sends into the model's RX queue 0 and receives what the driver sent
// on TX queue 0.
type wire struct{ m *model.Model }

func (w *wire) HardwareAddr() [6]byte      { return clientMAC }
func (w *wire) Receive() ([][]byte, error) { return w.m.Captured(0), nil }
func (w *wire) Transmit(frames [][]byte) (int, error) {
	for _, f := range frames {
		w.m.Inject(0, f) // a frame the NIC cannot take now is lost, as on a wire
	}
	return len(frames), nil
}

// An injection is one fault for the test to fire.
type injection struct {
	target string // a domain name: "netstack" or "ixgbe"
	kind   string // a faults kind
}

// TestFaultsUnderHTTPLoad crashes the TCP/IP stack domain and the ixgbe
// driver domain under it, for real (panics, nil dereferences, index out of
// range, division by zero, at their next call), while concurrent
// keep-alive HTTP clients on the other end of the 82599 model's cable load
// an httpd domain serving through the stack's sockets, and a kvstore
// domain on the same stack serves its own clients. Both are behind
// shadows. It checks that every fault fired and its shadow restarted the
// domain, that every request ended as a correct response or a connection
// error within a bound (never a wrong byte), that both applications
// serve again after each restart without ever being restarted themselves,
// and that no shared-heap cell is left at the end.
func TestFaultsUnderHTTPLoad(t *testing.T) {
	// 3 faults in the stack and 2 in the driver; 24 and 16 without -short.
	n := 5
	if !testing.Short() {
		n = 40
	}
	kinds := []string{faults.Panic, faults.NilPtr, faults.Index, faults.DivZero}
	var plan []injection
	for i := range n {
		target := "netstack"
		if i%5 == 1 || i%5 == 3 {
			target = "ixgbe"
		}
		plan = append(plan, injection{target, kinds[i/2%len(kinds)]})
	}
	runFaults(t, plan)
}

// site is the system under test: the domains and their shadows.
type site struct {
	m         *domain.Manager
	inj       *faults.Injector
	nic       *model.Model
	gNIC      *shadow.Guard
	gStack    *shadow.Guard
	apps      map[string]*domain.Domain // "httpd", "kvstore"
	appStats  map[string]*netserve.Stats
	appProbes map[string]idl.Bench
}

func startSite(t *testing.T, files map[string][]byte) *site {
	t.Helper()
	s := &site{m: domain.NewManager(), inj: faults.New(), nic: model.New(model.Config{}),
		apps: map[string]*domain.Domain{}, appStats: map[string]*netserve.Stats{}, appProbes: map[string]idl.Bench{}}
	// A budget for this load: every fault restarts once (see
	// docs/ARCHITECTURE.md, "Shadow budgets").
	pol := shadow.Policy{Retries: 4, Restarts: 100, Window: time.Minute, Logf: t.Logf}
	dn, err := s.m.Create(ixgbe.Kind, domain.Name("ixgbe"),
		domain.GrantDevice(ixgbe.GrantPCI, hw.PCIDevice(s.nic)),
		domain.GrantDevice(ixgbe.GrantConfig, ixgbe.Config{RingSize: 256}),
		domain.GrantDevice(ixgbe.GrantFaults, s.inj.Device()))
	if err != nil {
		t.Fatal(err)
	}
	if s.gNIC, err = shadow.New(s.m, dn, pol); err != nil {
		t.Fatal(err)
	}
	ds, err := s.m.Create(netstack.Kind, domain.Name("netstack"),
		domain.Grant(netstack.GrantNet, s.gNIC),
		domain.GrantDevice(netstack.GrantConfig, netstack.Config{Stack: stack.Config{Addr: serverAddr, Seed: 0x5eed_f}}),
		domain.GrantDevice(netstack.GrantFaults, s.inj.Device()))
	if err != nil {
		t.Fatal(err)
	}
	if s.gStack, err = shadow.New(s.m, ds, pol); err != nil {
		t.Fatal(err)
	}
	for _, app := range []struct {
		name string
		cfg  netserve.Config
	}{
		{"httpd", netserve.Config{App: netserve.HTTP, Port: httpPort, Files: files, IdleTimeout: 2 * reqBound}},
		{"kvstore", netserve.Config{App: netserve.KV, Port: kvPort, IdleTimeout: 2 * reqBound}},
	} {
		st := &netserve.Stats{}
		d, err := s.m.Create(netserve.Kind, domain.Name(app.name),
			domain.Grant(netserve.GrantInet, s.gStack),
			domain.GrantDevice(netserve.GrantConfig, app.cfg),
			domain.GrantDevice(netserve.GrantStats, st))
		if err != nil {
			t.Fatal(err)
		}
		probe, err := domain.Connect[idl.Bench](s.m.Kernel(), d)
		if err != nil {
			t.Fatal(err)
		}
		s.apps[app.name], s.appStats[app.name], s.appProbes[app.name] = d, st, probe
	}
	return s
}

func (s *site) guard(name string) *shadow.Guard {
	if name == "ixgbe" {
		return s.gNIC
	}
	return s.gStack
}

// tally is what happened to the requests of one application.
type tally struct {
	ok       atomic.Int64 // correct responses
	connErrs atomic.Int64 // connections that failed (reset, refused, EOF) with a request outstanding
	timeouts atomic.Int64 // requests dropped at reqBound
	wrong    atomic.Int64 // responses that differ from what was asked for
	dials    atomic.Int64
	mu       sync.Mutex
	byErr    map[string]int // connection errors by kind
	firstBad []string       // the first few wrong responses and connection errors
}

// errKind names the kind of a connection's error, for the accounting.
func errKind(err error) string {
	switch {
	case errors.Is(err, stack.ErrReset):
		return "reset"
	case errors.Is(err, stack.ErrRefused):
		return "refused"
	case errors.Is(err, stack.ErrTimeout):
		return "TCP timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	return "other"
}

func (y *tally) note(bad bool, format string, args ...any) {
	y.mu.Lock()
	defer y.mu.Unlock()
	if len(y.firstBad) < 8 || bad {
		y.firstBad = append(y.firstBad, fmt.Sprintf(format, args...))
	}
}

// A request is what a client sends and how it knows the answer is whole
// and right.
type request struct {
	out   []byte
	check func(in []byte) (done bool, err error)
}

// A client is one keep-alive connection of the load, driven by the load's
// goroutine (the client stack has one thread).
type client struct {
	name  string
	y     *tally
	port  uint16
	next  func(i int) request
	c     stack.Conn
	up    bool // c is a connection
	ka    bool // keep-alive set on c
	i     int
	req   request
	sent  int
	in    []byte
	since time.Duration // the request started
	busy  bool
	retry time.Duration // no dial before (after a failed one)
}

func (c *client) dial(st *stack.Stack, now time.Duration) {
	conn, err := st.Dial(serverAddr, c.port)
	if err != nil {
		return // no slot now: again on the next turn
	}
	c.c, c.up, c.ka, c.busy, c.since = conn, true, false, false, now
	c.y.dials.Add(1)
}

// drop ends the connection after err (nil: a clean end between requests).
func (c *client) drop(err error, timeout bool) {
	if c.busy {
		if timeout {
			c.y.timeouts.Add(1)
		} else {
			c.y.connErrs.Add(1)
			c.y.mu.Lock()
			c.y.byErr[errKind(err)]++
			c.y.mu.Unlock()
			c.y.note(false, "%s: %v", c.name, err)
		}
	}
	c.c.Abort()
	c.up, c.busy = false, false
}

// step moves the client on; now is the load's clock.
func (c *client) step(st *stack.Stack, now time.Duration, buf []byte) {
	if !c.up {
		if now >= c.retry {
			c.dial(st, now)
		}
		return
	}
	if c.c.State() == stack.StateEstablished && !c.ka {
		c.c.SetKeepAlive(true) // so a client learns soon that the server stack forgot it
		c.ka = true
	}
	if !c.busy {
		switch state := c.c.State(); {
		case state == stack.StateEstablished:
		case c.ka: // the server ended the connection between requests
			c.drop(nil, false)
			return
		case state == stack.StateClosed: // a connection that failed counts as a failed request
			c.busy = true
			c.drop(fmt.Errorf("connect: %w", c.c.Err()), false)
			c.retry = now + 10*time.Millisecond // refused: the server is not listening again yet
			return
		case now-c.since > reqBound:
			c.busy = true
			c.drop(nil, true)
			return
		default:
			return // connecting
		}
		c.i++
		c.req, c.sent, c.in, c.since, c.busy = c.next(c.i), 0, c.in[:0], now, true
	}
	if now-c.since > reqBound {
		c.drop(nil, true)
		return
	}
	if c.sent < len(c.req.out) {
		n, err := c.c.Write(c.req.out[c.sent:])
		c.sent += n
		if err != nil && !errors.Is(err, stack.ErrWouldBlock) {
			c.drop(err, false)
			return
		}
	}
	for {
		n, err := c.c.Read(buf)
		c.in = append(c.in, buf[:n]...)
		if err == io.EOF {
			c.drop(io.ErrUnexpectedEOF, false)
			return
		}
		if err != nil && !errors.Is(err, stack.ErrWouldBlock) {
			c.drop(err, false)
			return
		}
		if n == 0 {
			break
		}
	}
	done, err := c.req.check(c.in)
	switch {
	case err != nil:
		c.y.wrong.Add(1)
		c.y.note(true, "%s: request %d: WRONG: %v", c.name, c.i, err)
		c.busy = false
		c.drop(nil, false)
	case done:
		c.y.ok.Add(1)
		c.busy, c.since = false, now
	}
}

// httpRequest asks for one of the files and checks the response byte for
// byte.
func httpRequest(names []string, files map[string][]byte) func(int) request {
	return func(i int) request {
		name := names[i%len(names)]
		want := files[name]
		return request{
			out: []byte("GET /" + name + " HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"),
			check: func(in []byte) (bool, error) {
				end := bytes.Index(in, []byte("\r\n\r\n"))
				if end < 0 {
					if len(in) > 8<<10 {
						return false, fmt.Errorf("no end of the head in %d bytes", len(in))
					}
					return false, nil
				}
				head := string(in[:end])
				if !bytes.HasPrefix(in, []byte("HTTP/1.1 200 ")) {
					return false, fmt.Errorf("GET /%s: %q", name, head)
				}
				cl := -1
				for _, line := range bytes.Split(in[:end], []byte("\r\n")) {
					if k, v, ok := bytes.Cut(line, []byte(":")); ok && string(bytes.ToLower(k)) == "content-length" {
						cl, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
					}
				}
				if cl != len(want) {
					return false, fmt.Errorf("GET /%s: Content-Length %d, want %d", name, cl, len(want))
				}
				body := in[end+4:]
				if len(body) < cl {
					return false, nil
				}
				if !bytes.Equal(body, want) {
					return false, fmt.Errorf("GET /%s: %d bytes of body differ from the file's", name, len(body))
				}
				return true, nil
			},
		}
	}
}

// kvRequest stores a value under a key of the connection's own and gets
// it back in the same exchange.
func kvRequest(conn int) func(int) request {
	return func(i int) request {
		key := fmt.Sprintf("k%d-%d", conn, i%16)
		val := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%400)
		out := fmt.Appendf(nil, "set %s 0 0 %d\r\n%s\r\nget %s\r\n", key, len(val), val, key)
		want := fmt.Appendf(nil, "STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n", key, len(val), val)
		return request{out: out, check: func(in []byte) (bool, error) {
			if !bytes.HasPrefix(want, in) { // a wrong byte, or more than the answer
				return false, fmt.Errorf("%q: got %q, want %q", out[:min(len(out), 40)], in[:min(len(in), 80)], want[:min(len(want), 80)])
			}
			return len(in) == len(want), nil
		}}
	}
}

func runFaults(t *testing.T, plan []injection) {
	liveBefore := rref.Live()
	files := map[string][]byte{
		"index.html": []byte("<html><body>RedLeaf</body></html>\n"),
		"mid.txt":    bytes.Repeat([]byte("0123456789abcdef"), 256),
		"big.bin":    make([]byte, 48<<10),
	}
	for i := range files["big.bin"] {
		files["big.bin"][i] = byte(i * 31 >> 3)
	}
	names := []string{"index.html", "mid.txt", "big.bin"}
	s := startSite(t, files)
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.m.Close()
		}
	})

	// The load: 8 HTTP clients and 2 kvstore clients on a plain
	// net/stack at the other end of the cable, one goroutine.
	web, kv := &tally{byErr: map[string]int{}}, &tally{byErr: map[string]int{}}
	var clients []*client
	for i := range 8 {
		clients = append(clients, &client{name: fmt.Sprintf("http%d", i), y: web, port: httpPort, next: httpRequest(names, files)})
	}
	for i := range 2 {
		clients = append(clients, &client{name: fmt.Sprintf("kv%d", i), y: kv, port: kvPort, next: kvRequest(i)})
	}
	cl, err := stack.New(&wire{s.nic}, stack.Config{Addr: clientAddr, Seed: 0xc11e,
		KeepAliveIdle: 300 * time.Millisecond, KeepAliveInterval: 200 * time.Millisecond, KeepAliveCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	loadDone := make(chan error, 1)
	start := time.Now()
	go func() {
		buf := make([]byte, 16<<10)
		for {
			select {
			case <-stop:
				for _, c := range clients {
					if c.up {
						c.c.Abort()
					}
				}
				loadDone <- nil
				return
			default:
			}
			now := time.Since(start)
			worked, err := cl.Poll(now)
			if err != nil {
				loadDone <- err
				return
			}
			for _, c := range clients {
				c.step(cl, now, buf)
			}
			if !worked {
				time.Sleep(200 * time.Microsecond) // the client's idle poll, as the stack domain's
			}
		}
	}()
	stopLoad := func() {
		if stop != nil {
			close(stop)
			if err := <-loadDone; err != nil {
				t.Errorf("the client stack: %v", err)
			}
			stop = nil
		}
	}
	defer stopLoad()

	// waitFor waits for cond, a counter reaching a value, at most
	// stepBound (the counters are bumped by other threads; nothing
	// signals them).
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(stepBound); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				stopLoad()
				dump(t, s, clients, cl)
				t.Fatalf("%s: not within %v (http %d ok, kvstore %d ok; restarts: stack %d, nic %d)",
					what, stepBound, web.ok.Load(), kv.ok.Load(), s.gStack.Restarts(), s.gNIC.Restarts())
			}
		}
	}
	serving := func(what string) {
		t.Helper()
		w0, k0 := web.ok.Load(), kv.ok.Load()
		waitFor(what, func() bool { return web.ok.Load() >= w0+20 && kv.ok.Load() >= k0+5 })
		for name, p := range s.appProbes {
			if err := p.Null(); err != nil {
				t.Fatalf("%s: the %s domain: %v", what, name, err)
			}
		}
	}
	serving("before the first fault: the applications serve")

	fired := map[string]int{}
	for i, f := range plan {
		g := s.guard(f.target)
		restarts, before := g.Restarts(), s.inj.Fired(f.target)
		if err := s.inj.Arm(f.target, f.kind); err != nil {
			t.Fatal(err)
		}
		waitFor(fmt.Sprintf("fault %d (%s in %s) fired", i, f.kind, f.target), func() bool { return s.inj.Fired(f.target) > before })
		fired[f.target]++
		waitFor(fmt.Sprintf("the shadow restarted %s after fault %d", f.target, i), func() bool { return g.Restarts() > restarts })
		// Successes counted from here on are responses completed after
		// the restart.
		serving(fmt.Sprintf("after fault %d (%s in %s): requests succeed again", i, f.kind, f.target))
		t.Logf("fault %d: %s in %s fired; restarted (%d); serving again at %v", i, f.kind, f.target, g.Restarts(), time.Since(start).Round(time.Millisecond))
	}
	stopLoad()

	// The accounting.
	t.Logf("%d faults in %v: stack restarts %d (faults %d), NIC restarts %d (faults %d); calls recovered by the shadows: stack %d, NIC %d",
		len(plan), time.Since(start).Round(time.Millisecond), s.gStack.Restarts(), fired["netstack"], s.gNIC.Restarts(), fired["ixgbe"],
		s.gStack.Recovered(), s.gNIC.Recovered())
	for _, a := range []struct {
		name string
		y    *tally
	}{{"httpd", web}, {"kvstore", kv}} {
		st := s.appStats[a.name]
		a.y.mu.Lock()
		t.Logf("%s: requests ok %d, connection errors %d %v, timeouts at %v %d, wrong %d; dials %d; server: listens %d, accepted %d, ended %d, failed %d",
			a.name, a.y.ok.Load(), a.y.connErrs.Load(), a.y.byErr, reqBound, a.y.timeouts.Load(), a.y.wrong.Load(), a.y.dials.Load(),
			st.Listens.Load(), st.Accepted.Load(), st.Ended.Load(), st.Failed.Load())
		for _, l := range a.y.firstBad {
			t.Logf("  %s", l)
		}
		a.y.mu.Unlock()
		if a.y.wrong.Load() > 0 {
			t.Errorf("%s: %d responses were wrong", a.name, a.y.wrong.Load())
		}
		// Each stack restart forgets the listener: the application
		// listens again (once per restart at most; not at all if the
		// restart happened inside its own Listen, retried by the shadow).
		if l := st.Listens.Load(); l < 2 || l > int64(1+fired["netstack"]) {
			t.Errorf("%s listened %d times over %d stack restarts", a.name, l, fired["netstack"])
		}
		if d := s.apps[a.name]; !d.Alive() {
			t.Errorf("the %s domain died: %v", a.name, d.Err())
		}
	}
	if got := s.gStack.Restarts(); got != fired["netstack"] {
		t.Errorf("%d restarts of the stack for %d faults", got, fired["netstack"])
	}
	if got := s.gNIC.Restarts(); got != fired["ixgbe"] {
		t.Errorf("%d restarts of the NIC driver for %d faults", got, fired["ixgbe"])
	}
	if errs := s.nic.Errors(); len(errs) > 0 {
		t.Errorf("the driver broke the 82599's rules: %q", errs)
	}

	// Every instance gone, nothing of theirs may be left on the shared heap.
	for _, d := range s.apps {
		s.m.Kill(d)
	}
	s.m.Kill(s.gStack.Current())
	s.m.Kill(s.gNIC.Current())
	end := time.Now().Add(stepBound)
	for st := s.m.Stats(); st.Lingering > 0 || st.Stuck > 0; st = s.m.Stats() {
		if time.Now().After(end) {
			dump(t, s, nil, nil)
			t.Fatalf("threads of the dead domains still running after %v: %+v", stepBound, st)
		}
		time.Sleep(time.Millisecond)
	}
	if live := rref.Live(); live != liveBefore {
		t.Errorf("%d shared-heap cells left behind (%d before, %d after)", live-liveBefore, liveBefore, live)
	} else {
		t.Logf("shared-heap cells: %d before, %d after", liveBefore, live)
	}
	s.m.Close()
	closed = true
}

// dump logs the state of everything, for a test that failed waiting.
func dump(t *testing.T, s *site, clients []*client, cl *stack.Stack) {
	for _, c := range clients {
		state := "down"
		if c.up {
			state = fmt.Sprintf("%v %+v", c.c.State(), c.c.Info())
		}
		t.Logf("client %s: busy %v since %v: %s; %d bytes in", c.name, c.busy, c.since, state, len(c.in))
	}
	if cl != nil {
		t.Logf("client stack: %+v", cl.Stats())
	}
	if inet, err := domain.Connect[idl.Inet](s.m.Kernel(), s.gStack); err == nil {
		info, err := inet.Info()
		t.Logf("server stack: %+v %v", info, err)
	}
	for name, st := range s.appStats {
		t.Logf("%s: listens %d accepted %d ended %d failed %d", name, st.Listens.Load(), st.Accepted.Load(), st.Ended.Load(), st.Failed.Load())
	}
	t.Logf("model: %+v", s.nic.Counters())
	for _, e := range s.m.Events() {
		t.Logf("event: %+v", e)
	}
	for _, d := range s.m.List() {
		t.Logf("domain: %+v", d)
	}
	buf := make([]byte, 1<<20)
	t.Logf("%s", buf[:runtime.Stack(buf, true)])
}
