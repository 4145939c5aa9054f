package tftp

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/files"
	"github.com/rlgo/redleaf/netboot/privnet"
)

// serveEnv makes the test binary a TFTP server for the benchmark, so
// that ours runs as a process of its own like the servers it is
// compared with.
const serveEnv = "RLNB_TFTP_SERVE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		d, err := files.OpenDir(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 69})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s := &Server{Files: d, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		s.Serve(context.Background(), conn)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkFetch16MiB fetches a 16 MiB file over loopback with the same
// client (atftp, blksize 1468) from this server, dnsmasq's TFTP server
// and tftpd-hpa, each on port 69 of its own private network namespace's
// loopback, and from this server with windowsize 8 and 16 (neither
// dnsmasq nor tftpd-hpa implements RFC 7440). Every server is a process
// of its own pinned to CPU 1 and the client is pinned to CPU 0 (taskset),
// because whether client and server share a core changes a lock-step
// transfer's time more than the server does. The machines these run on
// are noisy, so each iteration fetches once from every server in turn
// and the medians are reported (ms per fetch) with the ratios to ours.
// Needs root, two CPUs and the Debian packages atftp, dnsmasq-base and
// tftpd-hpa.
func BenchmarkFetch16MiB(b *testing.B) {
	if err := privnet.Usable(); err != nil {
		b.Skip(err)
	}
	atftp, err := exec.LookPath("atftp")
	if err != nil {
		b.Skip("no atftp client: apt-get install atftp")
	}
	dir := b.TempDir()
	data := make([]byte, 16<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "f16"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	type contender struct {
		name   string
		server string // "ours", "dnsmasq", "tftpd-hpa"
		window int
		ns     *privnet.NS
		times  []time.Duration
	}
	cs := []*contender{
		{name: "ours", server: "ours"},
		{name: "dnsmasq", server: "dnsmasq"},
		{name: "tftpd-hpa", server: "tftpd-hpa"},
		{name: "ours-w8", server: "ours", window: 8},
		{name: "ours-w16", server: "ours", window: 16},
	}
	for _, c := range cs {
		ns, err := privnet.New()
		if err != nil {
			b.Fatal(err)
		}
		defer ns.Close()
		// tftpd-hpa resolves its address with AI_ADDRCONFIG, which finds
		// no IPv4 in a namespace that has only loopback.
		if err := ns.AddBridge("br0", netip.MustParsePrefix("10.250.0.1/24")); err != nil {
			b.Fatal(err)
		}
		c.ns = ns
		stop := startServer(b, ns, c.server, dir)
		defer stop()
	}
	fetch := func(c *contender, cpu int) time.Duration {
		args := []string{"--get", "-r", "f16", "-l", "/dev/null", "--option", "blksize 1468"}
		if c.window > 0 {
			args = append(args, "--option", fmt.Sprintf("windowsize %d", c.window))
		}
		args = append(args, "127.0.0.1", "69")
		cmd := exec.Command(atftp, args...)
		pin(cmd, cpu)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := c.ns.Start(cmd); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Wait(); err != nil || strings.Contains(out.String(), "tftp:") {
			b.Fatalf("atftp from %s: %v\n%s", c.name, err, out.String())
		}
		return time.Since(start)
	}
	// The servers run on CPU 1; the client shares it (every cycle a
	// server spends per packet shows) or runs on CPU 0 (each packet
	// crosses cores, latency shows).
	for _, clientCPU := range []int{1, 0} {
		name := map[int]string{1: "same-cpu", 0: "two-cpus"}[clientCPU]
		b.Run(name, func(b *testing.B) {
			for _, c := range cs {
				c.times = nil
			}
			for i := 0; i < b.N; i++ {
				for _, c := range cs {
					c.times = append(c.times, fetch(c, clientCPU))
				}
			}
			ours := median(cs[0].times)
			for _, c := range cs {
				m := median(c.times)
				b.ReportMetric(float64(m.Microseconds())/1000, c.name+"-ms")
				if c != cs[0] {
					b.ReportMetric(float64(m)/float64(ours), c.name+"/ours")
				}
			}
		})
	}
}

// startServer runs one of the compared servers on 127.0.0.1:69 in ns.
func startServer(b *testing.B, ns *privnet.NS, which, dir string) (stop func()) {
	var cmd *exec.Cmd
	switch which {
	case "ours":
		self, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		cmd = exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	case "dnsmasq":
		bin, err := exec.LookPath("dnsmasq")
		if err != nil {
			b.Skip("no dnsmasq: apt-get install dnsmasq-base")
		}
		// No DNS (port 0), no DHCP (no range), no config file, no pid
		// file, no lease file; TFTP on loopback only.
		cmd = exec.Command(bin, "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
			"--pid-file=", "--leasefile-ro", "--user=root", "--group=root",
			"--interface=lo", "--bind-interfaces", "--enable-tftp", "--tftp-root="+dir, "--quiet-tftp",
			"--log-facility=-")
	case "tftpd-hpa":
		bin, err := exec.LookPath("in.tftpd")
		if err != nil {
			b.Skip("no tftpd-hpa: apt-get install tftpd-hpa")
		}
		cmd = exec.Command(bin, "--foreground", "--listen", "--address", "127.0.0.1:69", "--user", "root", "--secure", dir)
	}
	pin(cmd, 1)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if !testing.Verbose() {
		cmd.Stdout, cmd.Stderr = nil, nil
	}
	// Its own process group: dnsmasq forks a helper and tftpd-hpa a
	// process per transfer, which outlive a killed parent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := ns.Start(cmd); err != nil {
		b.Fatal(err)
	}
	// Wait until it answers on port 69.
	deadline := time.Now().Add(5 * time.Second)
	for {
		probe := exec.Command("atftp", "--get", "-r", "missing", "-l", "/dev/null", "127.0.0.1", "69")
		out, _ := os.CreateTemp(b.TempDir(), "probe")
		probe.Stdout, probe.Stderr = out, out
		ns.Start(probe)
		probe.Wait()
		log, _ := os.ReadFile(out.Name())
		out.Close()
		if strings.Contains(strings.ToLower(string(log)), "not found") {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
			b.Fatalf("%s does not answer: %s", which, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }
}

// pin runs cmd on one CPU (taskset), if there are two and taskset is
// there.
func pin(cmd *exec.Cmd, cpu int) {
	taskset, err := exec.LookPath("taskset")
	if err != nil || runtime.NumCPU() < 2 {
		return
	}
	cmd.Args = append([]string{taskset, "-c", strconv.Itoa(cpu)}, cmd.Args...)
	cmd.Path = taskset
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	return s[len(s)/2]
}
