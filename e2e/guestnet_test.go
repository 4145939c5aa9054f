package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/net/tcpbench"
	"github.com/rlgo/redleaf/qemu"
	"github.com/rlgo/redleaf/system"
)

// A guestNet is a booted image with both network stacks reachable from
// the host: Rv6's stack domain on the forwarding NIC (--forward) and
// Linux's on the baseline's NIC (--linux-forward), each with an HTTP and a
// tcpbench port forwarded from the host's loopback.
type guestNet struct {
	*booted
	// Host ports: the stack domain's (guest ports 80, 5001 and 11211 of
	// 10.0.2.15) and Linux's (system.LinuxHTTPPort, LinuxTCPBenchPort
	// and LinuxKVPort of 10.0.3.15).
	rv6HTTP, rv6Bench, rv6KV, linuxHTTP, linuxBench, linuxKV int
}

// bootGuestNet boots c with both NICs, waits for the stack domain, the
// Linux baseline and Rv6's shell, and starts tcpbench in Rv6.
func bootGuestNet(tb testing.TB, ctx context.Context, c qemu.Config) *guestNet {
	tb.Helper()
	g := &guestNet{}
	ports := freeTCPPorts(tb, 6)
	g.rv6HTTP, g.rv6Bench, g.rv6KV, g.linuxHTTP, g.linuxBench, g.linuxKV = ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	fwds, err := qemu.ParseForwards([]string{fmt.Sprintf("%d:80", g.rv6HTTP), fmt.Sprintf("%d:5001", g.rv6Bench), fmt.Sprintf("%d:11211", g.rv6KV)})
	if err != nil {
		tb.Fatal(err)
	}
	lfwds, err := qemu.ParseLinuxForwards([]string{fmt.Sprintf("%d:%d", g.linuxHTTP, system.LinuxHTTPPort),
		fmt.Sprintf("%d:%d", g.linuxBench, system.LinuxTCPBenchPort), fmt.Sprintf("%d:%d", g.linuxKV, system.LinuxKVPort)}, fwds)
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.AddForwards(fwds); err != nil {
		tb.Fatal(err)
	}
	if err := c.AddLinuxForwards(lfwds); err != nil {
		tb.Fatal(err)
	}
	g.booted = bootVM(tb, ctx, c)
	start := time.Now()
	g.expect(4*time.Minute, `RedLeaf-Go domain kernel`)
	g.expect(2*time.Minute, `netstack: TCP/IP on 10\.0\.2\.15/24`)
	g.expect(2*time.Minute, `linuxnet: \S+ \(52:54:00:72:6c:02\) 10\.0\.3\.15/24 left to Linux: Go net/http on port 80 \(\d+ files from /www\), tcpbench on port 5001, kvstore on port 11211`)
	// The shell's prompt may come before the linuxnet line (both are
	// printed at once): rather than the prompt, wait for an answer to a
	// line typed now (line-mode input waits for the shell). The answer
	// starts a line; the typed line's echo follows the prompt.
	g.send(`echo guestnet-ready`)
	g.expect(2*time.Minute, `(?m)^guestnet-ready\r?$`)
	tb.Logf("booted in %v", time.Since(start).Round(time.Second))
	g.send(`grant inet tcpbench -l 5001 &`)
	g.expect(time.Minute, `tcpbench: listening on 10\.0\.2\.15:5001`)
	return g
}

// getRetry GETs url until the server behind the forward answers (QEMU
// accepts on the host port before the guest listens, and closes the
// connection while it does not), at most 2 minutes.
func (g *guestNet) getRetry(url string) (*http.Response, []byte) {
	g.tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				return resp, body
			}
		}
		if time.Now().After(deadline) {
			g.fail("GET %s: %v", url, err)
		}
		time.Sleep(time.Second)
	}
}

// poweroff ends the guest.
func (g *guestNet) poweroff() {
	g.tb.Helper()
	g.send(`poweroff`)
	select {
	case <-g.vm.Done():
	case <-time.After(2 * time.Minute):
		g.fail("QEMU still running 2 minutes after poweroff")
	}
}

// transfer runs one tcpbench transfer of n bytes with the server behind
// host port port (up: host to guest) and returns how long it took.
func transfer(port int, up bool, n int64) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	buf := make([]byte, 64<<10)
	start := time.Now()
	if up {
		err = tcpbench.Upload(c, n, buf)
	} else {
		err = tcpbench.Download(c, n, buf)
	}
	return time.Since(start), err
}

// The Linux baseline's boot (rlbuild boot --linux-forward): the system
// leaves the second NIC to Linux, and Go's net/http and the tcpbench
// server answer through it from the host, while the stack domain has the
// first NIC and Rv6's tcpbench answers through that one.
func TestLinuxBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	g := bootGuestNet(t, ctx, kernelMode(t, "configs/qemu.yaml"))
	client := &http.Client{Timeout: time.Minute}
	// The same page from both: the image's /www/index.html.
	want, err := os.ReadFile(filepath.Join(root, "configs/rv6root/www/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	g.send(`grant inet httpd &`)
	for _, s := range []struct {
		name string
		port int
	}{{"Linux", g.linuxHTTP}, {"Rv6", g.rv6HTTP}} {
		resp, body := g.getRetry(fmt.Sprintf("http://127.0.0.1:%d/", s.port))
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			g.fail("GET / from %s: %s, %s, %d bytes; want 200, text/html and the %d bytes of configs/rv6root/www/index.html", s.name, resp.Status, resp.Header.Get("Content-Type"), len(body), len(want))
		}
	}
	// Go's own answers: its 404 body and a 405 with Allow.
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/no-such-file", g.linuxHTTP))
	if err != nil {
		g.fail("GET from the baseline: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || string(body) != "404 page not found\n" {
		g.fail("GET /no-such-file from the baseline: %s %q, want net/http's 404", resp.Status, body)
	}
	resp, err = client.Post(fmt.Sprintf("http://127.0.0.1:%d/", g.linuxHTTP), "text/plain", strings.NewReader("x"))
	if err != nil {
		g.fail("POST to the baseline: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		g.fail("POST to the baseline: %s, Allow %q; want 405 and GET, HEAD", resp.Status, resp.Header.Get("Allow"))
	}
	// Both stacks carry a tcpbench transfer each way.
	for _, s := range []struct {
		name string
		port int
	}{{"Linux", g.linuxBench}, {"Rv6", g.rv6Bench}} {
		for _, up := range []bool{true, false} {
			if _, err := transfer(s.port, up, 1<<20); err != nil {
				g.fail("%s tcpbench (up %v): %v", s.name, up, err)
			}
		}
	}
	g.expect(time.Minute, `tcpbench: send 1048576 bytes in `)
	// The baseline's kvstore answers, a few operations of the load.
	if _, err := kvLoad(fmt.Sprintf("127.0.0.1:%d", g.linuxKV), 2, 20); err != nil {
		g.fail("Linux kvstore: %v", err)
	}
	g.poweroff()
}

func freeTCPPorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// benchPage is the page both HTTP servers serve in BenchmarkGuestNet:
// about the size of a small site's index page.
var benchPage = "<!doctype html>\n<title>RedLeaf-Go</title>\n<p>" + strings.Repeat("Rv6 on the network. ", 48) + "</p>\n"

// relSrc matches a relative source of rv6.fs.files.
var relSrc = regexp.MustCompile(`(?m)^(\s+- src: )([^/\s]\S*)$`)

// benchImage builds configs/qemu.yaml with benchPage added at
// /www/bench.html, for the benchmark's HTTP rows.
func benchImage(b *testing.B) qemu.Config {
	b.Helper()
	dir := b.TempDir()
	page := filepath.Join(dir, "bench.html")
	if err := os.WriteFile(page, []byte(benchPage), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "configs/qemu.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	const files = "\n    files:\n"
	if !bytes.Contains(cfg, []byte(files)) {
		b.Fatalf("configs/qemu.yaml has no rv6.fs.files list to add /www/bench.html to")
	}
	// The copy lives elsewhere: its relative sources become absolute.
	cfg = relSrc.ReplaceAll(cfg, []byte("${1}"+filepath.Join(root, "configs")+"/${2}"))
	cfg = bytes.Replace(cfg, []byte(files), []byte(files+"      - src: "+page+"\n        dst: /www/bench.html\n"), 1)
	cfgFile := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	timed(b, nil, rlbuild, "image", "--config", cfgFile, "--out", out)
	m, err := manifest.Load(out)
	if err != nil {
		b.Fatal(err)
	}
	c, err := qemu.FromManifest(m, qemu.Kernel)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// abResult is what ab (apache2-utils) measured.
type abResult struct {
	rps      float64
	p50, p99 time.Duration
	failed   int
}

var (
	abRPS    = regexp.MustCompile(`(?m)^Requests per second:\s+([\d.]+)`)
	abFailed = regexp.MustCompile(`(?m)^Failed requests:\s+(\d+)`)
	abNon2xx = regexp.MustCompile(`(?m)^Non-2xx responses:\s+(\d+)`)
	abPct    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+(\d+)`)
)

// ab runs ab against the host port with n requests, c at a time,
// keep-alive or not.
func ab(port, n, c int, keepAlive bool) (abResult, error) {
	args := []string{"-q", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-s", "60"}
	if keepAlive {
		args = append(args, "-k")
	}
	args = append(args, fmt.Sprintf("http://127.0.0.1:%d/bench.html", port))
	out, err := exec.Command("ab", args...).CombinedOutput()
	if err != nil {
		return abResult{}, fmt.Errorf("ab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var r abResult
	m := abRPS.FindSubmatch(out)
	if m == nil {
		return abResult{}, fmt.Errorf("ab %s: no requests per second in its output:\n%s", strings.Join(args, " "), out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, re := range []*regexp.Regexp{abFailed, abNon2xx} {
		if m := re.FindSubmatch(out); m != nil {
			k, _ := strconv.Atoi(string(m[1]))
			r.failed += k
		}
	}
	for _, m := range abPct.FindAllSubmatch(out, -1) {
		ms, _ := strconv.Atoi(string(m[2]))
		if string(m[1]) == "50" {
			r.p50 = time.Duration(ms) * time.Millisecond
		} else {
			r.p99 = time.Duration(ms) * time.Millisecond
		}
	}
	return r, nil
}

// BenchmarkGuestNet boots the default image once, with Rv6's stack domain
// on one virtio-net NIC and Linux's stack on another (rlbuild boot
// --forward and --linux-forward), and measures from the host, against
// both in the same run: TCP throughput of one connection each way
// (tcpbench), and HTTP requests per second with ab (apache2-utils), with
// and without keep-alive, of the same page from Rv6's httpd and from Go's
// net/http. It prints a table with the ratios. Run it alone:
//
//	go test ./e2e -run '^$' -bench BenchmarkGuestNet -benchtime 1x
//
// GUESTNET_MIB sets the bytes of each transfer (default 16 MiB),
// GUESTNET_REQUESTS the requests of each ab run (default 2000),
// GUESTNET_KVOPS the operations of each kvstore load (default 4000),
// GUESTNET_ROUNDS how often each pair is measured, alternating which side
// goes first; the table has the medians (default 3). The
// kvstore rows run our Go load generator (kvLoad: 4 connections, 90% get
// and 10% set of 100-byte values over 1000 keys, p50 and p99) against
// Rv6's kvstore, against apps/kvstore on Linux's stack in the same guest,
// and, as a reference outside QEMU, against Debian's memcached on the
// host.
func BenchmarkGuestNet(b *testing.B) {
	if _, err := exec.LookPath("ab"); err != nil {
		b.Skip("no ab: apt-get install apache2-utils")
	}
	mib := envInt(b, "GUESTNET_MIB", 16)
	requests := envInt(b, "GUESTNET_REQUESTS", 2000)
	kvOps := envInt(b, "GUESTNET_KVOPS", 4000)
	rounds := envInt(b, "GUESTNET_ROUNDS", 3)
	c := benchImage(b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	g := bootGuestNet(b, ctx, c)
	g.send(`grant inet httpd -c 64 &`)
	g.expect(time.Minute, `\$ `)
	g.send(`grant inet kvstore -c 64 &`)
	g.expect(time.Minute, `\$ `)
	resp, body := g.getRetry(fmt.Sprintf("http://127.0.0.1:%d/bench.html", g.rv6HTTP))
	if resp.StatusCode != 200 || string(body) != benchPage {
		g.fail("Rv6 httpd: GET /bench.html: %s, %d bytes, want 200 and the page", resp.Status, len(body))
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%-44s %14s %14s %9s\n", "TEST", "RV6", "LINUX", "RV6/LINUX")
	row := func(name, metric, unit string, rv6, linux float64) {
		ratio := 0.0
		if linux > 0 {
			ratio = rv6 / linux
		}
		fmt.Fprintf(&table, "%-44s %9.1f %-5s %8.1f %-5s %8.2f\n", name, rv6, unit, linux, unit, ratio)
		b.ReportMetric(ratio, metric+"-rv6/linux")
	}
	n := int64(mib) << 20
	for _, up := range []bool{true, false} {
		name := fmt.Sprintf("TCP %d MiB guest->host", mib)
		metric := "tcp-down"
		if up {
			name, metric = fmt.Sprintf("TCP %d MiB host->guest", mib), "tcp-up"
		}
		rates, _ := alternate(rounds, func(side int) (float64, string) {
			d, err := transfer([]int{g.rv6Bench, g.linuxBench}[side], up, n)
			if err != nil {
				g.fail("%s: %v", name, err)
			}
			return float64(mib) / d.Seconds(), ""
		})
		row(name, metric, "MiB/s", rates[0], rates[1])
	}
	for _, keep := range []bool{false, true} {
		name := fmt.Sprintf("HTTP GET %dB, %d req, c 8", len(benchPage), requests)
		metric := "http"
		if keep {
			name, metric = name+", keep-alive", "http-keepalive"
		}
		rates, lat := alternate(rounds, func(side int) (float64, string) {
			r, err := ab([]int{g.rv6HTTP, g.linuxHTTP}[side], requests, 8, keep)
			if err != nil {
				g.fail("%s: %v", name, err)
			}
			if r.failed != 0 {
				g.fail("%s: %d requests failed", name, r.failed)
			}
			return r.rps, fmt.Sprintf("%v p99 %v", r.p50, r.p99)
		})
		row(name, metric, "r/s", rates[0], rates[1])
		fmt.Fprintf(&table, "%-44s %20s %20s\n", "  latency p50 (ms granularity)", lat[0], lat[1])
	}
	// kvstore: the same load against Rv6's kvstore, the same code on
	// Linux's stack, and Debian's memcached on the host (no QEMU: a
	// reference, not a same-guest ratio).
	kvName := fmt.Sprintf("kvstore %d ops, 4 conns, 90%% get", kvOps)
	rates, lat := alternate(rounds, func(side int) (float64, string) {
		r, err := kvLoadRetry(fmt.Sprintf("127.0.0.1:%d", []int{g.rv6KV, g.linuxKV}[side]), 4, kvOps)
		if err != nil {
			g.fail("%s: %v", kvName, err)
		}
		return r.ops, fmt.Sprintf("%v p99 %v", r.p50, r.p99)
	})
	row(kvName, "kvstore", "op/s", rates[0], rates[1])
	fmt.Fprintf(&table, "%-44s %20s %20s\n", "  latency p50", lat[0], lat[1])
	if addr, stop, err := startMemcached(); err != nil {
		fmt.Fprintf(&table, "memcached on the host: %v\n", err)
	} else {
		mc, err := kvLoad(addr, 4, kvOps)
		stop()
		if err != nil {
			g.fail("memcached: %v", err)
		}
		fmt.Fprintf(&table, "%-44s %9.1f op/s p50 %v p99 %v (host, no QEMU: Rv6 / it = %.3f)\n", "memcached on the host, same load", mc.ops, mc.p50, mc.p99, rates[0]/mc.ops)
	}
	fmt.Printf("BenchmarkGuestNet: QEMU TCG, 1 vCPU; from the host through QEMU's user network (ab, tcpbench, kvLoad)\n%s", table.String())
	g.poweroff()
}

// alternate runs measure for both sides (0: Rv6, 1: Linux) rounds times,
// Rv6 first in even rounds and Linux first in odd ones, so that neither
// side always runs second on a warmer or busier machine, and returns each
// side's median rate and the detail of that run.
func alternate(rounds int, measure func(side int) (float64, string)) (rate [2]float64, detail [2]string) {
	type run struct {
		rate   float64
		detail string
	}
	var runs [2][]run
	for r := range rounds {
		for k := range 2 {
			side := k ^ r&1
			v, d := measure(side)
			runs[side] = append(runs[side], run{v, d})
		}
	}
	for side := range 2 {
		slices.SortFunc(runs[side], func(a, b run) int { return cmp.Compare(a.rate, b.rate) })
		m := runs[side][len(runs[side])/2]
		rate[side], detail[side] = m.rate, m.detail
	}
	return rate, detail
}

// kvResult is what kvLoad measured.
type kvResult struct {
	ops      float64 // operations per second
	p50, p99 time.Duration
}

// kvLoad preloads 1000 keys into the memcached-protocol server at addr,
// then runs ops operations over conns connections, each a request then
// its response: 90% get, 10% set of 100-byte values.
func kvLoad(addr string, conns, ops int) (kvResult, error) {
	const keys, size = 1000, 100
	val := strings.Repeat("v", size)
	dial := func() (net.Conn, error) {
		c, err := net.DialTimeout("tcp", addr, 30*time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Minute))
		}
		return c, err
	}
	c, err := dial()
	if err != nil {
		return kvResult{}, err
	}
	w := bufio.NewWriter(c)
	for k := range keys {
		fmt.Fprintf(w, "set key:%d 0 0 %d noreply\r\n%s\r\n", k, size, val)
	}
	w.WriteString("version\r\n")
	w.Flush()
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(line, "VERSION ") {
		return kvResult{}, fmt.Errorf("preloading %d keys: answer %q, %v", keys, line, err)
	}
	per := ops / conns
	lat := make([][]time.Duration, conns)
	errs := make(chan error, conns)
	start := time.Now()
	for ci := range conns {
		c, err := dial()
		if err != nil {
			return kvResult{}, err
		}
		go func() {
			defer c.Close()
			r, w := bufio.NewReader(c), bufio.NewWriter(c)
			rng := rand.New(rand.NewPCG(uint64(ci), 15))
			l := make([]time.Duration, 0, per)
			for range per {
				k := rng.IntN(keys)
				get := rng.IntN(10) != 0
				t0 := time.Now()
				if get {
					fmt.Fprintf(w, "get key:%d\r\n", k)
				} else {
					fmt.Fprintf(w, "set key:%d 0 0 %d\r\n%s\r\n", k, size, val)
				}
				w.Flush()
				want := "STORED\r\n"
				if get {
					want = "END\r\n"
				}
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						errs <- fmt.Errorf("connection %d: %w", ci, err)
						return
					}
					if line == want {
						break
					}
					if !get || !strings.HasPrefix(line, "VALUE ") && line != val+"\r\n" {
						errs <- fmt.Errorf("connection %d: answer %q", ci, line)
						return
					}
				}
				l = append(l, time.Since(t0))
			}
			lat[ci] = l
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			return kvResult{}, err
		}
	}
	el := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return kvResult{}, fmt.Errorf("no operations: want at least %d", conns)
	}
	pct := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))].Round(10 * time.Microsecond) }
	return kvResult{ops: float64(len(all)) / el.Seconds(), p50: pct(0.50), p99: pct(0.99)}, nil
}

// kvLoadRetry is kvLoad once the server listens: QEMU accepts on the
// host port before the guest does, and closes a connection the guest
// refuses, so the first tries may fail while the program starts.
func kvLoadRetry(addr string, conns, ops int) (kvResult, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := kvLoad(addr, conns, ops)
		if err == nil || time.Now().After(deadline) {
			return r, err
		}
		time.Sleep(time.Second)
	}
}

// startMemcached starts Debian's memcached on a free loopback port, one
// thread, 64 MiB, and returns its address once it answers.
func startMemcached() (addr string, stop func(), err error) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		return "", nil, errors.New("no memcached (apt-get install memcached)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-t", "1", "-m", "64", "-u", "root")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	for range 250 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("memcached does not listen on %s after 5 s", addr)
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}
