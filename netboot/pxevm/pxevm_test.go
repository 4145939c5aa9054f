package pxevm

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/profile"
	"github.com/rlgo/redleaf/netboot/server"
	"github.com/rlgo/redleaf/qemu"
)

// client is a firmware and PXE client combination.
type client struct {
	name     string
	firmware string // qemu PXEConfig.Firmware
	native   bool   // OVMF's own PXE client, no iPXE ROM
	// what the server must have seen
	arch      string // firmware in the first DHCP event
	firstIPXE bool   // the first DHCP request came from iPXE
	tftp      bool   // iPXE was loaded over TFTP first
}

var clients = []client{
	{name: "bios-ipxe", firmware: "bios", arch: "bios", firstIPXE: true},
	{name: "uefi-ipxe", firmware: "uefi", arch: "efi-x86_64", firstIPXE: true},
	{name: "uefi-native", firmware: "uefi", native: true, arch: "efi-x86_64", tftp: true},
}

// TestBootMatrix PXE-boots the image into its shell with every client
// in full DHCP mode and in proxyDHCP mode beside dnsmasq, each in a
// private network of its own, and checks the boot-event log.
func TestBootMatrix(t *testing.T) {
	needs(t)
	dir := buildImage(t)
	hasDnsmasq := exec.Command("dnsmasq", "--version").Run() == nil
	for _, mode := range []string{"full", "proxy"} {
		for _, c := range clients {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				if mode == "proxy" && !hasDnsmasq {
					t.Skip("no dnsmasq for the plain DHCP server: apt-get install dnsmasq-base")
				}
				f, err := server.Quick(Bridge, dir, mode, "")
				if err != nil {
					t.Fatal(err)
				}
				lab, err := New(Config{File: f, Log: testLogger(t, "server")})
				if err != nil {
					t.Fatal(err)
				}
				defer lab.Close()
				if mode == "proxy" {
					startDnsmasq(t, lab)
				}
				mac := qemu.DefaultMAC
				b := bootToShell(t, lab, qemu.Config{PXE: &qemu.PXEConfig{Firmware: c.firmware, NativePXE: c.native}}, mode+"/"+c.name)
				if !strings.Contains(b.cmdline, "rl.token=") || !strings.Contains(b.cmdline, "rl.mac="+mac) {
					t.Errorf("command line %q lacks the boot's token or MAC", b.cmdline)
				}
				evs := lab.Server().Events().For(mac)
				checkEvents(t, evs, mode, c)
				t.Logf("%s %s: shell prompt %v after start, booted reported at %v; events %s", mode, c.name, b.elapsed.Round(100*time.Millisecond), b.reported.Round(100*time.Millisecond), kinds(evs))
			})
		}
	}
}

func checkEvents(t *testing.T, evs []events.Event, mode string, c client) {
	t.Helper()
	var dhcps []events.Event
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Kind] = true
		if e.Kind == events.DHCP {
			dhcps = append(dhcps, e)
		}
	}
	dump := func() string {
		var b strings.Builder
		for _, e := range evs {
			fmt.Fprintf(&b, "\n  %s %s %s %s %s", e.Time.Format("15:04:05.000"), e.Kind, e.IP, e.Detail, e.Err)
		}
		return b.String()
	}
	if len(dhcps) == 0 || !strings.Contains(dhcps[0].Detail, " "+c.arch) || strings.Contains(dhcps[0].Detail, " ipxe") != c.firstIPXE {
		t.Errorf("first DHCP event does not show %s (iPXE %v):%s", c.arch, c.firstIPXE, dump())
	}
	for _, k := range []string{events.Script, events.HTTP, events.Handoff, events.Booted} {
		if !seen[k] {
			t.Errorf("no %s event:%s", k, dump())
		}
	}
	if seen[events.TFTP] != c.tftp {
		t.Errorf("TFTP event %v, want %v:%s", seen[events.TFTP], c.tftp, dump())
	}
	for _, e := range evs {
		if e.Kind == events.TFTP && (e.Err != "" || !strings.Contains(e.Detail, "snponly.efi")) {
			t.Errorf("TFTP: %s %s", e.Detail, e.Err)
		}
		if mode == "proxy" && e.Kind == events.DHCP && strings.Contains(e.Detail, "-> ACK") && e.IP != "" {
			t.Errorf("proxy mode handed out an address: %s", e.Detail)
		}
	}
	if mode == "proxy" && c.native {
		if !strings.Contains(dump(), "(port 4011)") {
			t.Errorf("UEFI's PXE client did not use port 4011:%s", dump())
		}
	}
}

// startDnsmasq runs dnsmasq as the network's plain DHCP server, in a
// namespace of its own on a veth to the bridge: 10.77.0.2, handing out
// 10.77.0.50-99, no DNS, no TFTP, no PXE.
func startDnsmasq(t *testing.T, lab *Lab) {
	t.Helper()
	peer, err := newPeer(lab, "dhcp0", netip.MustParsePrefix("10.77.0.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--pid-file=", "--user=root", "--group=root",
		"--interface=eth0", "--bind-interfaces", "--dhcp-range=10.77.0.50,10.77.0.99,12h",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--log-facility=-", "--log-dhcp")
	log := &lineLog{t: t, prefix: "dnsmasq"}
	if testing.Verbose() {
		cmd.Stdout, cmd.Stderr = log, log
	}
	// Its own process group: dnsmasq forks a helper that outlives a
	// killed parent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := peer.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		log.mu.Lock()
		log.done = true
		log.mu.Unlock()
		peer.Close()
	})
}

// TestTwoMachinesAndRestart boots two VMs with different MACs into two
// profiles at once (one with a reserved address), then restarts the
// server and boots the first again: it gets its address back.
func TestTwoMachinesAndRestart(t *testing.T) {
	needs(t)
	t.Parallel()
	dir := buildImage(t)
	labDir := t.TempDir()
	const macA, macB = "52:54:00:aa:00:01", "52:54:00:bb:00:02"
	lab := fmt.Sprintf(`# two machines, two profiles
dhcp:
  mode: full
  pool: 10.77.0.100-10.77.0.120
default: local
profiles:
  alpha:
    artifacts: %[1]s
    cmdline: rl.test=alpha
  beta:
    artifacts: %[1]s
    cmdline: rl.test=beta
    ipxe: ipxe
machines:
  %[2]s:
    profile: alpha
  %[3]s:
    profile: beta
    ip: 10.77.0.42
`, dir, macA, macB)
	path := filepath.Join(labDir, "lab.yaml")
	os.WriteFile(path, []byte(lab), 0o644)
	f, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(Config{File: f, Log: testLogger(t, "server")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	boots := map[string]chan boot{macA: make(chan boot, 1), macB: make(chan boot, 1)}
	for mac, fw := range map[string]string{macA: "bios", macB: "uefi"} {
		go func() {
			defer close(boots[mac])
			t.Run(mac, func(t *testing.T) {
				boots[mac] <- bootToShell(t, l, qemu.Config{PXE: &qemu.PXEConfig{MAC: mac, Firmware: fw}}, mac)
			})
		}()
	}
	a, okA := <-boots[macA]
	b, okB := <-boots[macB]
	if !okA || !okB {
		t.FailNow()
	}
	if !strings.Contains(a.cmdline, "rl.test=alpha") || !strings.Contains(a.cmdline, "rl.profile=alpha") {
		t.Errorf("%s booted %q", macA, a.cmdline)
	}
	if !strings.Contains(b.cmdline, "rl.test=beta") || !strings.Contains(b.cmdline, "rl.profile=beta") {
		t.Errorf("%s booted %q", macB, b.cmdline)
	}
	hwA, _ := net.ParseMAC(macA)
	hwB, _ := net.ParseMAC(macB)
	leaseA, okA := l.Server().Leases().ByMAC(hwA)
	leaseB, okB := l.Server().Leases().ByMAC(hwB)
	if !okA || !okB || leaseB.IP.String() != "10.77.0.42" || leaseA.IP == leaseB.IP {
		t.Fatalf("leases %+v %+v", leaseA, leaseB)
	}

	// Restart the server: the same state directory, a new process state.
	if err := l.StopServer(); err != nil {
		t.Fatal(err)
	}
	if err := l.StartServer(); err != nil {
		t.Fatal(err)
	}
	if got, ok := l.Server().Leases().ByMAC(hwA); !ok || got.IP != leaseA.IP {
		t.Fatalf("after restart: %+v %v", got, ok)
	}
	again := bootToShell(t, l, qemu.Config{PXE: &qemu.PXEConfig{MAC: macA, Firmware: "bios"}}, macA+"/again")
	if !strings.Contains(again.cmdline, "rl.profile=alpha") {
		t.Errorf("after restart %s booted %q", macA, again.cmdline)
	}
	var acked []string
	for _, e := range l.Server().Events().For(hwA.String()) {
		if e.Kind == events.DHCP && e.IP != "" {
			acked = append(acked, e.IP)
		}
	}
	if len(acked) == 0 || acked[len(acked)-1] != leaseA.IP.String() {
		t.Errorf("after restart %s was given %v, had %v", macA, acked, leaseA.IP)
	}
	t.Logf("alpha %v (%v), beta %v (%v), alpha again %v", a.elapsed.Round(100*time.Millisecond), leaseA.IP, b.elapsed.Round(100*time.Millisecond), leaseB.IP, again.elapsed.Round(100*time.Millisecond))
}
