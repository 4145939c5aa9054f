package pxevm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/images"
	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/privnet"
	"github.com/rlgo/redleaf/qemu"
)

// The image the tests boot: the default amd64 build without a disk
// image, built once per test binary from this source tree.
var image struct {
	once sync.Once
	dir  string
	err  error
}

const imageConfig = `name: pxetest
arch: amd64
kernel:
  source: module
  cmdline: console=ttyS0,115200 panic=-1 quiet
initramfs:
  compression: zstd
disk:
  enabled: false
pxe:
  enabled: true
`

// buildImage returns the artifacts directory of the test image.
func buildImage(t *testing.T) string {
	t.Helper()
	dir, err := testImage()
	if err != nil {
		t.Fatalf("building the test image: %v", err)
	}
	return dir
}

func buildImageB(b *testing.B) string {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces and tap devices")
	}
	dir, err := testImage()
	if err != nil {
		b.Fatalf("building the test image: %v", err)
	}
	return dir
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testImage() (string, error) {
	image.once.Do(func() {
		wd, _ := os.Getwd()
		root := filepath.Join(wd, "..", "..")
		dir, err := os.MkdirTemp("", "rlbuild-pxetest-")
		if err != nil {
			image.err = err
			return
		}
		cfgFile := filepath.Join(dir, "pxetest.yaml")
		os.WriteFile(cfgFile, []byte(imageConfig), 0o644)
		c, err := config.Load(config.Options{File: cfgFile, WorkDir: root})
		if err != nil {
			image.err = err
			return
		}
		c.Out = filepath.Join(dir, "out")
		c.Source = root
		if _, err := images.Build(context.Background(), c, images.Options{}); err != nil {
			image.err = err
			return
		}
		image.dir = c.Out
	})
	return image.dir, image.err
}

// needs skips the test unless it can run VMs in private networks.
func needs(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and tap devices")
	}
	for _, tool := range append([]string{"qemu-system-x86_64"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: install it (scripts/install-deps.sh)", tool)
		}
	}
	for _, f := range []string{"/usr/lib/ipxe/undionly.kpxe", "/usr/lib/ipxe/snponly.efi"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no %s: apt-get install ipxe", f)
		}
	}
}

// testLogger logs to the test when verbose.
func testLogger(t *testing.T, prefix string) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(&lineLog{t: t, prefix: prefix}, nil))
}

// lineLog writes complete lines to t.Log.
type lineLog struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
	done   bool
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		if !l.done {
			l.t.Logf("%s| %s", l.prefix, strings.TrimRight(string(l.buf[:i]), "\r"))
		}
		l.buf = l.buf[i+1:]
	}
}

const bootTimeout = 5 * time.Minute

var (
	banner    = regexp.MustCompile(`RedLeaf-Go domain kernel`)
	prompt    = regexp.MustCompile(`\$ `)
	cmdlineRe = regexp.MustCompile(`(?m)^cmdline: (.*)$`)
	bootIDRe  = regexp.MustCompile(`(?:^| )rl\.boot=([0-9a-f]+)`)
)

// boot is one VM's run to the shell and back.
type boot struct {
	cmdline  string
	elapsed  time.Duration // start to prompt
	reported time.Duration // start to the server's "booted" event
	output   string
}

// bootToShell starts a VM on lab, waits for the banner and the prompt,
// runs a command, powers off and checks QEMU's exit status.
func bootToShell(t *testing.T, lab *Lab, c qemu.Config, name string) boot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout+time.Minute)
	defer cancel()
	c.Arch = "amd64"
	var opts []qemu.StartOption
	if testing.Verbose() {
		opts = append(opts, qemu.WithTranscript(&lineLog{t: t, prefix: name}))
	}
	start := time.Now()
	vm, err := lab.StartVM(ctx, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	con := vm.Console()
	if _, err := con.ExpectTimeout(bootTimeout, banner); err != nil {
		t.Fatalf("%s: %v\nQEMU: %q", name, err, vm.CommandLine())
	}
	var b boot
	if m, err := con.ExpectTimeout(time.Minute, cmdlineRe); err == nil {
		b.cmdline = m[1]
	}
	if _, err := con.ExpectTimeout(2*time.Minute, prompt); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b.elapsed = time.Since(start)
	con.SendLine("echo pxe-ok")
	if _, err := con.ExpectTimeout(time.Minute, regexp.MustCompile(`(?m)^pxe-ok\r?$`)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// The image reports "booted" in the background once its network is
	// up: the server's API must show it for this boot before poweroff.
	mac := qemu.DefaultMAC
	if c.PXE != nil && c.PXE.MAC != "" {
		mac = c.PXE.MAC
	}
	bootID := ""
	if m := bootIDRe.FindStringSubmatch(b.cmdline); m != nil {
		bootID = m[1]
	}
	if err := waitBooted(lab, mac, bootID, 2*time.Minute); err != nil {
		t.Fatalf("%s: %v\nconsole:\n%s", name, err, con.Output())
	}
	b.reported = time.Since(start)
	con.SendLine("poweroff")
	select {
	case <-vm.Done():
	case <-time.After(time.Minute):
		t.Fatalf("%s: QEMU still running a minute after poweroff", name)
	}
	if code, err := vm.Wait(); code != 0 || err != nil {
		t.Fatalf("%s: QEMU exited with %d: %v", name, code, err)
	}
	b.output = con.Output()
	return b
}

// kinds lists the kinds of a machine's events in order, without
// repeats in a row.
func kinds(evs []events.Event) string {
	var out []string
	for _, e := range evs {
		if len(out) == 0 || out[len(out)-1] != e.Kind {
			out = append(out, e.Kind)
		}
	}
	return strings.Join(out, ",")
}

// newPeer creates a namespace joined to the lab's bridge by a veth whose
// end in the new namespace is eth0 with addr.
func newPeer(lab *Lab, hostSide string, addr netip.Prefix) (*privnet.NS, error) {
	peer, err := privnet.New()
	if err != nil {
		return nil, err
	}
	if err := lab.NS.AddVeth(hostSide, Bridge, netip.Prefix{}, peer, "eth0", addr); err != nil {
		peer.Close()
		return nil, err
	}
	return peer, nil
}

// waitBooted polls the server's JSON API (GET /api/machines/{mac}/events,
// from inside the lab's network) until the machine's event log has a
// "booted" report for boot (any boot if empty).
func waitBooted(lab *Lab, mac, boot string, timeout time.Duration) error {
	srv := lab.Server()
	if srv == nil {
		return errors.New("no server running")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) { return lab.NS.Dial(network, addr) },
	}}
	url := srv.BaseURL() + "/api/machines/" + strings.ReplaceAll(mac, ":", "-") + "/events"
	deadline := time.Now().Add(timeout)
	var last string
	for {
		var evs []events.Event
		resp, err := client.Get(url)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&evs)
			resp.Body.Close()
		}
		if err != nil {
			last = err.Error()
		} else {
			last = kinds(evs)
			for _, e := range evs {
				if e.Kind == events.Booted && (boot == "" || e.Boot == boot) {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q event for %s (boot %q) in %s within %v; last: %s", events.Booted, mac, boot, url, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
