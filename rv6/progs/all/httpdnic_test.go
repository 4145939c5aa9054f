package all_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/rv6/ulib"
	"github.com/rlgo/redleaf/services/netstack"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// httpd in-process over the ixgbe driver on the 82599 model, where TCG
// does not distort it: Rv6's httpd on one stack domain, over one ixgbe
// domain and model; a load program (rv6test-httpload, registered here) on another
// stack, ixgbe domain and model; the two models' wires joined by a pump
// that moves what one port sends to the other's receive queue. Rows for
// the same with netstacktest's cable in memory (no driver, no model), and
// for Go's net/http on the host's loopback under the same load.

func init() { ulib.Register("rv6test-httpload", httploadMain) }

// httploadMain is "rv6test-httpload k|close CONNS REQUESTS HOST PORT PATH": the
// load of httpLoad through the first stack the process holds; it prints
// "httpload: N requests in D: R req/s".
func httploadMain(p *ulib.Proc) int {
	if len(p.Args) != 7 {
		fmt.Fprintln(p.Stderr, "usage: rv6test-httpload k|close CONNS REQUESTS HOST PORT PATH")
		return ulib.StatusUsage
	}
	conns, err1 := strconv.Atoi(p.Args[2])
	reqs, err2 := strconv.Atoi(p.Args[3])
	addr, err3 := ulib.ParseIPv4(p.Args[4])
	port, err4 := ulib.ParsePort(p.Args[5])
	if err := errors.Join(err1, err2, err3, err4); err != nil || conns < 1 || reqs < conns {
		fmt.Fprintf(p.Stderr, "httpload: bad arguments %q: %v\n", p.Args[1:], err)
		return ulib.StatusUsage
	}
	n, err := p.Inet("")
	if err != nil {
		fmt.Fprintf(p.Stderr, "httpload: %v\n", err)
		return 1
	}
	dial := func() (io.ReadWriteCloser, error) { return n.Dial(addr, port, 10*time.Second) }
	// Wait for the server: the first connection is refused until it
	// listens.
	for i := 0; ; i++ {
		c, err := dial()
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			fmt.Fprintf(p.Stderr, "httpload: %v\n", err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	done, d, err := httpLoad(dial, func(f func()) { p.Go("load", f) }, conns, reqs, p.Args[1] == "k", p.Args[6])
	if err != nil {
		fmt.Fprintf(p.Stderr, "httpload: %v\n", err)
		return 1
	}
	fmt.Fprintf(p.Stdout, "httpload: %d requests in %v: %.1f req/s\n", done, d, float64(done)/d.Seconds())
	return ulib.StatusOK
}

// httpLoad sends reqs GETs of path over conns connections at once (each
// connection's share one after the other, on a thread spawn starts):
// with keep-alive on one connection each, or each on a connection of its
// own (Connection: close). Every answer must be a 200 with a body of its
// Content-Length.
func httpLoad(dial func() (io.ReadWriteCloser, error), spawn func(func()), conns, reqs int, keep bool, path string) (int, time.Duration, error) {
	per := reqs / conns
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n")
	if !keep {
		req = []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
	}
	errs := make(chan error, conns)
	start := time.Now()
	for range conns {
		spawn(func() {
			var c io.ReadWriteCloser
			var r *bufio.Reader
			body := make([]byte, 64<<10)
			for i := range per {
				if c == nil {
					var err error
					if c, err = dial(); err != nil {
						errs <- fmt.Errorf("request %d: %w", i, err)
						return
					}
					r = bufio.NewReaderSize(c, 16<<10)
				}
				if err := get(c, r, req, body); err != nil {
					c.Close()
					errs <- fmt.Errorf("request %d: %w", i, err)
					return
				}
				if !keep {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
			errs <- nil
		})
	}
	for range conns {
		if err := <-errs; err != nil {
			return 0, 0, err
		}
	}
	return per * conns, time.Since(start), nil
}

// get sends req on c and reads its answer from r.
func get(c io.Writer, r *bufio.Reader, req, body []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	status, err := r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("status line: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("status %q, want 200", status)
	}
	n := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(string(v)))
		}
	}
	if n < 0 || n > len(body) {
		return fmt.Errorf("Content-Length %d: want 0..%d", n, len(body))
	}
	_, err = io.ReadFull(r, body[:n])
	return err
}

// modelWire moves the frames each model's port sends to the other's
// receive queue until stop is closed. Frames the other port has no room
// for are dropped, as on a wire; TCP sends them again.
func modelWire(a, b *model.Model, stop <-chan struct{}) {
	idle := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		moved := 0
		for _, f := range a.Captured(0) {
			b.Inject(0, f)
			moved++
		}
		for _, f := range b.Captured(0) {
			a.Inject(0, f)
			moved++
		}
		switch {
		case moved > 0:
			idle = 0
		case idle < 64:
			idle++
			runtime.Gosched()
		default:
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// startIxgbeStacks starts two stack domains (10.0.0.1 and 10.0.0.2, as
// netstacktest.StartPair's) each over an ixgbe domain on a model of its
// own, the models joined by modelWire; idle is the stacks' sleep after an
// idle poll (0: netstack's default).
func startIxgbeStacks(tb testing.TB, m *domain.Manager, idle time.Duration) (a, b *domain.Domain) {
	tb.Helper()
	var models [2]*model.Model
	var stacks [2]*domain.Domain
	for i, addr := range [][4]byte{netstacktest.AddrA, netstacktest.AddrB} {
		md := model.New(model.Config{RAM: 4 << 20, Queues: 1, MAC: [6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, byte(i)}})
		md.Capture(true)
		models[i] = md
		nd, err := m.Create(ixgbe.Kind, domain.Name(fmt.Sprintf("ixgbe%d", i)),
			domain.GrantDevice(ixgbe.GrantPCI, md),
			domain.GrantDevice(ixgbe.GrantConfig, ixgbe.Config{Queues: 1, RingSize: 512}))
		if err != nil {
			tb.Fatal(err)
		}
		stacks[i], err = m.Create(netstack.Kind, domain.Name(fmt.Sprintf("netstack%d", i)),
			domain.Grant(netstack.GrantNet, nd),
			domain.GrantDevice(netstack.GrantConfig, netstack.Config{Stack: stack.Config{Addr: addr, PrefixLen: 24, Seed: uint64(i) + 0x5eed}, Idle: idle}))
		if err != nil {
			tb.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); modelWire(models[0], models[1], stop) }()
	tb.Cleanup(func() { close(stop); wg.Wait() })
	return stacks[0], stacks[1]
}

// bootHTTPD boots Rv6 with the stacks a and b as inet:a and inet:b, the
// page at /www/page.html and httpd serving it on inet:b port 80, in the
// background of a shell that holds the console (rv6Load types into it).
func bootHTTPD(tb testing.TB, m *domain.Manager, a, b *domain.Domain, page string) (*rv6test.System, *rv6test.Proc) {
	tb.Helper()
	s := rv6test.Boot(tb, rv6test.Options{DiskSize: 16 << 20, Manager: m,
		Grants: map[string]domain.Provider{"inet:a": a, "inet:b": b}})
	s.Caps = []string{"inet:a", "inet:b"}
	if out, st := s.Sh(tb, "mkdir /www"); st.Status != 0 {
		tb.Fatalf("mkdir /www: %s", out)
	}
	s.WriteFile(tb, "/www/page.html", page)
	return s, s.Start(tb, "grant inet:b httpd -c 64 &\n", "sh")
}

var httploadLine = regexp.MustCompile(`httpload: (\d+) requests in \S+: ([\d.]+) req/s`)

// rv6Load runs httpload from inet:a against httpd in the shell p and
// returns its rate.
func rv6Load(tb testing.TB, p *rv6test.Proc, keep bool, conns, reqs int) float64 {
	tb.Helper()
	mode := "close"
	if keep {
		mode = "k"
	}
	before := len(p.Output())
	p.Type(fmt.Appendf(nil, "grant inet:a rv6test-httpload %s %d %d 10.0.0.2 80 /page.html; echo status $?\n", mode, conns, reqs))
	deadline := time.Now().Add(5 * time.Minute)
	for {
		out := p.Output()[before:]
		if st := statusLine.FindStringSubmatch(out); st != nil {
			m := httploadLine.FindStringSubmatch(out)
			if st[1] != "0" || m == nil {
				tb.Fatalf("httpload: status %s:\n%s", st[1], out)
			}
			r, _ := strconv.ParseFloat(m[2], 64)
			return r
		}
		select {
		case <-p.Done():
			tb.Fatalf("the shell ended:\n%s", out)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("httpload: no end in 5 minutes:\n%s", out)
		}
	}
}

var statusLine = regexp.MustCompile(`(?m)^status (\d+)`)

// The load program and the ixgbe path work: a few requests each way.
func TestHttpdOverIxgbeModel(t *testing.T) {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	a, b := startIxgbeStacks(t, m, 0)
	_, p := bootHTTPD(t, m, a, b, nicPage)
	if r := rv6Load(t, p, true, 2, 20); r <= 0 {
		t.Errorf("keep-alive rate %v", r)
	}
	if r := rv6Load(t, p, false, 2, 10); r <= 0 {
		t.Errorf("close rate %v", r)
	}
}

var nicPage = strings.Repeat("<p>RedLeaf-Go serves this page.</p>\n", 28) // about 1 KiB

// BenchmarkHttpdNIC prints requests per second of Rv6's httpd, 4
// connections of a 1 KiB page, with keep-alive and without, over the
// ixgbe model, over the in-memory cable, and of Go's net/http on the
// host's loopback under the same load (httpLoad on goroutines):
//
//	nice go test ./rv6/progs/all -run '^$' -bench HttpdNIC -benchtime 1x
func BenchmarkHttpdNIC(b *testing.B) {
	const conns = 4
	type row struct {
		name        string
		keep, close float64
	}
	var rows []row
	for _, path := range []struct {
		name string
		idle time.Duration // the stacks' Config.Idle; -1: the memory cable
	}{
		{"ixgbe model", 0},
		{"ixgbe model, stack idle sleep 20µs", 20 * time.Microsecond},
		{"memory cable", -1},
	} {
		// A sub-benchmark each, so that its domains end with it.
		b.Run(strings.NewReplacer(" ", "-", ",", "", "µ", "u").Replace(path.name), func(b *testing.B) {
			m := domain.NewManager()
			b.Cleanup(m.Close)
			var sa, sb *domain.Domain
			if path.idle >= 0 {
				sa, sb = startIxgbeStacks(b, m, path.idle)
			} else {
				var err error
				if sa, sb, err = netstacktest.StartPair(m); err != nil {
					b.Fatal(err)
				}
			}
			_, p := bootHTTPD(b, m, sa, sb, nicPage)
			rv6Load(b, p, true, conns, 200) // warm up
			r := row{"Rv6 httpd, stack domain, " + path.name, rv6Load(b, p, true, conns, 4000), rv6Load(b, p, false, conns, 1000)}
			rows = append(rows, r)
		})
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "page.html", time.Unix(0, 0), strings.NewReader(nicPage))
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	dial := func() (io.ReadWriteCloser, error) { return net.Dial("tcp", l.Addr().String()) }
	spawn := func(f func()) { go f() }
	rate := func(keep bool, reqs int) float64 {
		n, d, err := httpLoad(dial, spawn, conns, reqs, keep, "/page.html")
		if err != nil {
			b.Fatal(err)
		}
		return float64(n) / d.Seconds()
	}
	rate(true, 200)
	linux := row{"Go net/http, Linux loopback (host)", rate(true, 4000), rate(false, 1000)}
	rows = append(rows, linux)
	var t strings.Builder
	fmt.Fprintf(&t, "%-48s %12s %12s %10s %10s\n", "SERVER", "KEEP-ALIVE", "CLOSE", "KA/LINUX", "CL/LINUX")
	for _, r := range rows {
		fmt.Fprintf(&t, "%-48s %8.0f r/s %8.0f r/s %10.2f %10.2f\n", r.name, r.keep, r.close, r.keep/linux.keep, r.close/linux.close)
	}
	fmt.Printf("BenchmarkHttpdNIC: %d connections, GET of a %d-byte page, in-process (no QEMU)\n%s", conns, len(nicPage), t.String())
}
