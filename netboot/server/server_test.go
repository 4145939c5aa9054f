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

// TestServeAndReload runs the server, fetches a script over HTTP from a
// machine that holds a lease, and checks that an edited file takes
// effect and a broken edit does not (observed through OnReload, not a
// sleep). A client at another address gets no boot.
func TestServeAndReload(t *testing.T) {
	ns, f, path := lab(t, labFile)
	f.Server.StateDir = t.TempDir()
	// The machine's lease, as a DHCP exchange would have left it.
	os.WriteFile(filepath.Join(f.Server.StateDir, "leases.jsonl"),
		[]byte(`{"op":"lease","mac":"52:54:00:00:00:01","ip":"10.66.0.50","expires":"2099-01-01T00:00:00Z"}`+"\n"), 0o600)
	reloads := make(chan error, 10)
	s, err := New(Config{File: f, Log: quiet(), NS: ns, ReloadInterval: 20 * time.Millisecond, OnReload: func(err error) { reloads <- err }})
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
	machine := peer(t, ns, "veth1", "10.66.0.50/24")
	stranger := peer(t, ns, "veth2", "10.66.0.60/24")
	script := func(from *privnet.NS) (int, string) {
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return from.Dial(network, addr)
		}}}
		resp, err := client.Get(s.BaseURL() + "/ipxe/52-54-00-00-00-01")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, got := script(stranger); code != 403 || strings.Contains(got, "rl.token") {
		t.Errorf("script for 52:54:00:00:00:01 served to another address: %d\n%s", code, got)
	}
	if _, got := script(machine); !strings.Contains(got, "rl.profile=other") {
		t.Fatalf("script:\n%s", got)
	}
	wait := func(what string) error {
		select {
		case err := <-reloads:
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("no reload after %s", what)
		}
		return nil
	}
	// Edits replace the file, as editors do, so that no poll sees half
	// of one.
	edit := func(content string) {
		os.WriteFile(path+".tmp", []byte(content), 0o644)
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	edit(strings.Replace(labFile, "profile: other", "profile: main", 1))
	if err := wait("an edit"); err != nil {
		t.Fatalf("edit not installed: %v", err)
	}
	if _, got := script(machine); !strings.Contains(got, "rl.profile=main") {
		t.Errorf("after the edit:\n%s", got)
	}
	// A broken edit is seen, refused, and the last good one kept.
	edit("default: nope\n")
	if err := wait("a broken edit"); err == nil || !strings.Contains(err.Error(), `no profile "nope"`) {
		t.Errorf("broken edit: %v", err)
	}
	if _, got := script(machine); !strings.Contains(got, "rl.profile=main") {
		t.Errorf("after a broken edit:\n%s", got)
	}
}

// peer makes a namespace joined to ns's br0 with eth0 at addr.
func peer(t *testing.T, ns *privnet.NS, name, addr string) *privnet.NS {
	t.Helper()
	p, err := privnet.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := ns.AddVeth(name, "br0", netip.Prefix{}, p, "eth0", netip.MustParsePrefix(addr)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOperatorTokenFile: a token file others can read keeps the server
// from starting, with the fix in the error.
func TestOperatorTokenFile(t *testing.T) {
	ns, f, _ := lab(t, labFile)
	f.Server.StateDir = t.TempDir()
	f.Server.OperatorTokenFile = filepath.Join(t.TempDir(), "token")
	os.WriteFile(f.Server.OperatorTokenFile, []byte("0123456789abcdef0123456789\n"), 0o644)
	_, err := New(Config{File: f, Log: quiet(), NS: ns})
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+f.Server.OperatorTokenFile) {
		t.Errorf("world-readable token file: %v", err)
	}
	os.Chmod(f.Server.OperatorTokenFile, 0o600)
	if _, err := New(Config{File: f, Log: quiet(), NS: ns}); err != nil {
		t.Errorf("private token file: %v", err)
	}
	// Without a file named, one is made in the state directory.
	f.Server.OperatorTokenFile = ""
	if _, err := New(Config{File: f, Log: quiet(), NS: ns}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(f.Server.StateDir, "operator-token")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("made token file: %v %v", st, err)
	}
}
