package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/netboot/privnet"
	"github.com/rlgo/redleaf/netboot/profile"
)

func artifacts(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "vmlinuz"), []byte("kernel"), 0o644)
	os.WriteFile(filepath.Join(dir, "initrd.img"), []byte("initrd"), 0o644)
	m := &manifest.Manifest{Name: "t", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.img", Cmdline: "console=ttyS0", Boot: []string{"pxe"}}
	m.Add(dir, "vmlinuz")
	m.Add(dir, "initrd.img")
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestQuickNoManifest(t *testing.T) {
	_, err := Quick("br0", t.TempDir(), "full", "")
	if err == nil || !strings.Contains(err.Error(), "no manifest.json") || !strings.Contains(err.Error(), "rlbuild image") {
		t.Errorf("Quick without a manifest: %v", err)
	}
}

func TestUpperHalf(t *testing.T) {
	for p, want := range map[string]string{
		"10.0.0.0/24": "10.0.0.128-10.0.0.254",
		"10.1.0.0/16": "10.1.128.0-10.1.255.254",
		"10.2.0.8/29": "10.2.0.12-10.2.0.14",
		"10.3.0.0/30": "invalid IP-invalid IP",
	} {
		a, b := upperHalf(netip.MustParsePrefix(p))
		if got := a.String() + "-" + b.String(); got != want {
			t.Errorf("upperHalf(%s) = %s, want %s", p, got, want)
		}
	}
}

// lab is a namespace with br0 at 10.66.0.1/24 and a configuration.
func lab(t *testing.T, content string) (*privnet.NS, *profile.File, string) {
	t.Helper()
	if err := privnet.Usable(); err != nil {
		t.Skip("needs root for network namespaces: ", err)
	}
	if _, err := os.Stat(DefaultIPXEDir + "/undionly.kpxe"); err != nil {
		t.Skip("no iPXE binaries: apt-get install ipxe")
	}
	ns, err := privnet.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	if err := ns.AddBridge("br0", netip.MustParsePrefix("10.66.0.1/24")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	artifacts(t, filepath.Join(dir, "out"))
	path := filepath.Join(dir, "lab.yaml")
	os.WriteFile(path, []byte(content), 0o644)
	f, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ns, f, path
}

const labFile = `server:
  interface: br0
dhcp:
  mode: full
default: main
profiles:
  main:
    artifacts: out
  other:
    artifacts: out
machines:
  52:54:00:00:00:01:
    profile: other
`

func TestErrors(t *testing.T) {
	ns, f, _ := lab(t, labFile)
	for _, tc := range []struct {
		name  string
		tweak func(f *profile.File)
		want  string
	}{
		{"no interface", func(f *profile.File) { f.Server.Interface = "nosuch0" }, `interface "nosuch0" does not exist (interfaces here: lo, br0)`},
		{"no address", func(f *profile.File) { f.Server.Address = netip.MustParseAddr("10.66.0.9") }, "does not have the address 10.66.0.9"},
		{"pool outside", func(f *profile.File) {
			f.DHCP.PoolStart, f.DHCP.PoolEnd = netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.9")
		}, "is not inside br0's subnet 10.66.0.0/24"},
		{"no ipxe", func(f *profile.File) { f.Server.IPXEDir = t.TempDir() }, "no iPXE binaries"},
		{"reservation outside", func(f *profile.File) {
			hw, _ := net.ParseMAC("52:54:00:00:00:07")
			f.Machines = map[string]*profile.Machine{hw.String(): {MAC: hw, IP: netip.MustParseAddr("192.168.9.9")}}
		}, "192.168.9.9 is outside br0's subnet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := *f
			cp.Server.StateDir = t.TempDir()
			tc.tweak(&cp)
			_, err := New(Config{File: &cp, Log: quiet(), NS: ns})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A taken port.
	busy, err := ns.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 66, 0, 1), Port: 69})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cp := *f
	cp.Server.StateDir = t.TempDir()
	s, err := New(Config{File: &cp, Log: quiet(), NS: ns})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Listen()
	if err == nil || !strings.Contains(err.Error(), "tftp: port 69 on 10.66.0.1 (br0) is taken") {
		t.Errorf("taken port: %v", err)
	}
}

// TestServeAndReload runs the server, fetches a script over HTTP from
// the namespace and checks that an edited file takes effect.
func TestServeAndReload(t *testing.T) {
	ns, f, path := lab(t, labFile)
	f.Server.StateDir = t.TempDir()
	s, err := New(Config{File: f, Log: quiet(), NS: ns, ReloadInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return ns.Dial(network, addr)
	}}}
	script := func() string {
		resp, err := client.Get(s.BaseURL() + "/ipxe/52-54-00-00-00-01")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := script(); !strings.Contains(got, "rl.profile=other") {
		t.Fatalf("script:\n%s", got)
	}
	os.WriteFile(path, []byte(strings.Replace(labFile, "profile: other", "profile: main", 1)), 0o644)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(script(), "rl.profile=main") {
		if time.Now().After(deadline) {
			t.Fatal("the edited file did not take effect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A broken edit keeps the last good configuration.
	os.WriteFile(path, []byte("default: nope\n"), 0o644)
	time.Sleep(100 * time.Millisecond)
	if got := script(); !strings.Contains(got, "rl.profile=main") {
		t.Errorf("after a broken edit:\n%s", got)
	}
}
