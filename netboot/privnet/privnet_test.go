package privnet

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func newNS(t *testing.T) *NS {
	t.Helper()
	if err := Usable(); err != nil {
		t.Skip(err)
	}
	ns, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	return ns
}

func TestNamespace(t *testing.T) {
	a, b := newNS(t), newNS(t)
	if err := a.AddBridge("br0", netip.MustParsePrefix("10.77.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := a.AddTap("tap0", "br0"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddVeth("vb", "br0", netip.Prefix{}, b, "eth0", netip.MustParsePrefix("10.77.0.2/24")); err != nil {
		t.Fatal(err)
	}
	// A UDP exchange from b to a over the veth and the bridge.
	srv, err := a.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 9999})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := b.Dial("udp4", "10.77.0.1:9999")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi"))
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 10)
	n, _, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	// The host sees none of it.
	if _, err := net.InterfaceByName("tap0"); err == nil {
		if out, _ := exec.Command("ip", "-br", "link").Output(); strings.Contains(string(out), "tap0") && strings.Contains(string(out), "vb@") {
			t.Error("devices leaked into the host namespace")
		}
	}
	// Processes started in the namespace see its devices.
	cmd := exec.Command("cat", "/proc/net/dev")
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = out
	if err := a.Start(cmd); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	got, _ := os.ReadFile(out.Name())
	if !strings.Contains(string(got), "tap0") || !strings.Contains(string(got), "br0") {
		t.Errorf("process in the namespace sees:\n%s", got)
	}
	if _, err := os.Stat("/run/netns/" + a.Name); err != nil {
		t.Error(err)
	}
}
