package dhcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/rlgo/redleaf/netboot/privnet"
)

// loadEnv makes the test binary the DHCP load generator (see runLoad).
const loadEnv = "RLNB_DHCP_LOAD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(loadEnv); spec != "" {
		if err := runLoad(spec); err != nil {
			fmt.Fprintln(os.Stderr, "load generator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// loadResult is what the load generator prints.
type loadResult struct {
	Exchanges int     `json:"exchanges"`
	Failures  int     `json:"failures"`
	Seconds   float64 `json:"seconds"`
}

// runLoad runs DISCOVER/OFFER/REQUEST/ACK exchanges for n new clients,
// conc at a time, on an interface of the namespace it runs in, and
// prints a loadResult. spec is "iface,n,conc,seed".
func runLoad(spec string) error {
	parts := strings.Split(spec, ",")
	if len(parts) != 4 {
		return fmt.Errorf("bad spec %q", spec)
	}
	n, _ := strconv.Atoi(parts[1])
	conc, _ := strconv.Atoi(parts[2])
	seed, _ := strconv.Atoi(parts[3])
	c, err := newTestClient(parts[0])
	if err != nil {
		return err
	}
	defer c.Close()
	var mu sync.Mutex
	waiting := map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}
	go func() {
		buf := make([]byte, 1500)
		for {
			k, _, err := c.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			r, err := dhcpv4.FromBytes(buf[:k])
			if err != nil || r.OpCode != dhcpv4.OpcodeBootReply {
				continue
			}
			mu.Lock()
			ch := waiting[r.TransactionID]
			mu.Unlock()
			if ch != nil {
				select {
				case ch <- r:
				default:
				}
			}
		}
	}()
	roundTrip := func(m *dhcpv4.DHCPv4, want dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
		ch := make(chan *dhcpv4.DHCPv4, 4)
		mu.Lock()
		waiting[m.TransactionID] = ch
		mu.Unlock()
		defer func() { mu.Lock(); delete(waiting, m.TransactionID); mu.Unlock() }()
		for try := 0; try < 3; try++ {
			c.conn.WriteTo(m.ToBytes(), serverAddr)
			timer := time.NewTimer(time.Second)
			for {
				select {
				case r := <-ch:
					if r.MessageType() != want {
						continue
					}
					timer.Stop()
					return r, nil
				case <-timer.C:
				}
				break
			}
		}
		return nil, fmt.Errorf("no %v", want)
	}
	var next, failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				mac := net.HardwareAddr{0x52, 0x54, byte(seed), byte(i >> 16), byte(i >> 8), byte(i)}
				d, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover), dhcpv4.WithBroadcast(true))
				offer, err := roundTrip(d, dhcpv4.MessageTypeOffer)
				if err != nil {
					failures.Add(1)
					continue
				}
				r, _ := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithBroadcast(true))
				if _, err := roundTrip(r, dhcpv4.MessageTypeAck); err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res := loadResult{Exchanges: n - int(failures.Load()), Failures: int(failures.Load()), Seconds: time.Since(start).Seconds()}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// BenchmarkExchanges measures completed DISCOVER/OFFER/REQUEST/ACK
// exchanges per second, from a load generator in another process (this
// test binary, re-run) in its own namespace, over a veth pair, against
// this server in full mode (leases journaled to a file) and against
// dnsmasq (no ping check, no DHCP logging) with its lease file, which it
// rewrites whole on every change, and without one (--leasefile-ro).
// Each hands out addresses from a /16. Each iteration is 2000 new
// clients, 32 at a time, per server; servers take turns so that noise
// hits all alike.
func BenchmarkExchanges(b *testing.B) {
	if err := privnet.Usable(); err != nil {
		b.Skip(err)
	}
	const clients, conc = 2000, 32
	type contender struct {
		name   string
		server *privnet.NS
		client *privnet.NS
		rates  []float64
	}
	var cs []*contender
	for _, name := range []string{"ours", "dnsmasq", "dnsmasq-nofile"} {
		if name != "ours" {
			if _, err := exec.LookPath("dnsmasq"); err != nil {
				b.Log("no dnsmasq: apt-get install dnsmasq-base")
				continue
			}
		}
		srv, err := privnet.New()
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		cli, err := privnet.New()
		if err != nil {
			b.Fatal(err)
		}
		defer cli.Close()
		if err := srv.AddVeth("s0", "", netip.MustParsePrefix("10.88.0.1/16"), cli, "c0", netip.Prefix{}); err != nil {
			b.Fatal(err)
		}
		stop := startDHCP(b, name, srv)
		defer stop()
		cs = append(cs, &contender{name: name, server: srv, client: cli})
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range cs {
			cmd := exec.Command(self, "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=c0,%d,%d,%d", loadEnv, clients, conc, i))
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := c.client.Start(cmd); err != nil {
				b.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				b.Fatalf("load generator against %s: %v\n%s", c.name, err, errb.String())
			}
			var res loadResult
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
				b.Fatalf("load generator output %q: %v", out.String(), err)
			}
			if res.Failures > 0 {
				b.Logf("%s: %d of %d exchanges failed", c.name, res.Failures, clients)
			}
			c.rates = append(c.rates, float64(res.Exchanges)/res.Seconds)
		}
	}
	b.StopTimer()
	for _, c := range cs {
		b.ReportMetric(median(c.rates), c.name+"-exchanges/s")
	}
	for _, c := range cs[1:] {
		b.ReportMetric(median(cs[0].rates)/median(c.rates), "ours/"+c.name)
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	slices.Sort(s)
	return s[len(s)/2]
}

// startDHCP runs ours or dnsmasq on s0 in ns with a pool of 10.88.1.0 to
// 10.88.255.254.
func startDHCP(b *testing.B, which string, ns *privnet.NS) (stop func()) {
	dir := b.TempDir()
	if which == "ours" {
		leases, err := OpenLeases(filepath.Join(dir, "leases"))
		if err != nil {
			b.Fatal(err)
		}
		s := &Server{
			Mode:     Full,
			ServerIP: netip.MustParseAddr("10.88.0.1"),
			Subnets: []Subnet{{Prefix: netip.MustParsePrefix("10.88.0.0/16"),
				Start: netip.MustParseAddr("10.88.1.0"), End: netip.MustParseAddr("10.88.255.254")}},
			LeaseTime: time.Hour,
			Leases:    leases,
			Policy:    &testPolicy{},
			Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		var conns Conns
		if err := ns.Do(func() error { var err error; conns, err = Listen("s0", s.ServerIP, false); return err }); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Serve(ctx, conns); close(done) }()
		return func() { cancel(); <-done; leases.Close() }
	}
	cmd := exec.Command("dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--pid-file=", "--user=root", "--group=root", "--interface=s0", "--bind-interfaces",
		"--dhcp-range=10.88.1.0,10.88.255.254,1h", "--dhcp-lease-max=1000000", "--no-ping", "--quiet-dhcp",
		"--log-facility=-")
	if which == "dnsmasq-nofile" {
		cmd.Args = append(cmd.Args, "--leasefile-ro")
	} else {
		cmd.Args = append(cmd.Args, "--dhcp-leasefile="+filepath.Join(dir, "leases"))
	}
	// Its own process group: dnsmasq forks a helper that outlives a
	// killed parent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := ns.Start(cmd); err != nil {
		b.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	return func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }
}
