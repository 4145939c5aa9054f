package system_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/system"
)

func TestParseNetConfig(t *testing.T) {
	for _, tc := range []struct {
		line string
		want string // Driver MAC Addr, or the error's text
	}{
		{"console=ttyS0", " [] invalid Prefix"},
		{"rl.net=virtio", "virtio [] invalid Prefix"},
		{"rl.net=virtio rl.netmac=52:54:00:AB:cd:01 rl.netaddr=192.168.7.2/16", "virtio 52:54:00:ab:cd:01 192.168.7.2/16"},
		{"rl.net=off rl.netaddr=10.0.2.15/24", " [] 10.0.2.15/24"},
		{"rl.net=e1000", `rl.net="e1000": want virtio or off`},
		{"rl.netmac=xx", `rl.netmac="xx": want an Ethernet address`},
		{"rl.netaddr=10.0.2.15", `rl.netaddr="10.0.2.15": want an IPv4 address and prefix length`},
		{"rl.netaddr=fe80::1/64", `want an IPv4 address`},
		{"rl.net=virtio rl.netstack=1", "virtio [] invalid Prefix stack"},
		{"rl.net=virtio rl.netstack=0", "virtio [] invalid Prefix echo"},
		{"rl.netstack=maybe", `rl.netstack="maybe": want 1 or 0`},
		{"rl.net=virtio rl.netstack=1 rl.netaddr=dhcp", "virtio [] invalid Prefix dhcp stack"},
		{"rl.net=virtio rl.netstack=1 rl.netaddr=DHCP", "virtio [] invalid Prefix dhcp stack"},
		{"rl.net=virtio rl.netaddr=dhcp", `rl.netaddr=dhcp needs rl.netstack=1`},
		{"rl.netaddr=dhcpd", `rl.netaddr="dhcpd": want an IPv4 address and prefix length, as 10.0.2.15/24, or dhcp (not an address/prefix)`},
		{"rl.netaddr=0.0.0.0/24", `rl.netaddr="0.0.0.0/24": want an IPv4 address and prefix length, as 10.0.2.15/24, or dhcp (0.0.0.0 is not a host address)`},
		{"rl.netaddr=224.0.0.1/24", `is not a host address`},
		{"rl.netaddr=10.0.2.15/0", `(prefix length 0)`},
	} {
		cfg, err := system.ParseNetConfig(boot.ParseCmdline(tc.line))
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			mac := "[]"
			if cfg.MAC != nil {
				mac = cfg.MAC.String()
			}
			got = cfg.Driver + " " + mac + " " + cfg.Addr.String()
			if cfg.DHCP {
				got += " dhcp"
			}
			if cfg.Stack {
				got += " stack"
			} else {
				got += " echo"
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
		}
	}
}

// Without rl.net the virtio-net device stays with Linux, whatever the
// bus has; with it and no such device, the log says so.
func TestNetNotAsked(t *testing.T) {
	root := sysfs(t, false)
	s, log := start(t, system.Options{PCI: &pci.Bus{Root: root}, Net: &system.NetConfig{}})
	if s.NIC() != nil || strings.Contains(log.String(), "net:") {
		t.Errorf("a NIC taken unasked; log:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(root, "..", "drivers", "virtio-pci", "unbind")); err == nil {
		t.Error("the device was unbound from Linux")
	}
	if st, out := eval(t, s, "ifconfig"); st != 0 || !strings.Contains(out, "boot with rl.net=virtio") || !strings.Contains(out, "ixgbe0: 82599 model") {
		t.Errorf("ifconfig: status %d: %q", st, out)
	}
	_, log = start(t, system.Options{PCI: &pci.Bus{Root: root}, Net: &system.NetConfig{Driver: "virtio", MAC: []byte{2, 0, 0, 0, 0, 9}}})
	if !strings.Contains(log.String(), "net: no virtio-net device has address 02:00:00:00:00:09 (there are: 0000:00:03.0 (address unknown: Linux has no interface for it))") {
		t.Errorf("log:\n%s", log)
	}
}

// A device that is not a modern virtio device (here: a config space of
// zeroes, no capabilities) is taken from Linux, the domain fails to
// start, and the system carries on without it, saying why.
func TestNetBringUpFails(t *testing.T) {
	root := sysfs(t, false)
	ram := make([]byte, 1<<20)
	s, log := start(t, system.Options{
		PCI: &pci.Bus{Root: root},
		DMA: func() (system.DMA, error) { return dma.NewContiguous(ram, 0x4000_0000), nil },
		Net: &system.NetConfig{Driver: "virtio", Addr: netip.MustParsePrefix("10.0.2.15/24")},
	})
	l := log.String()
	if !strings.Contains(l, "net: 0000:00:03.0 (1af4:1000): starting the virtio-net domain (the device is no longer Linux's)") ||
		!strings.Contains(l, "no PCI capability list") || !strings.Contains(l, "carrying on without it") {
		t.Errorf("log:\n%s", l)
	}
	if s.NIC() != nil || s.Summary() != "ramdisk (shadowed), null" {
		t.Errorf("Summary %q", s.Summary())
	}
	if b, _ := os.ReadFile(filepath.Join(root, "..", "drivers", "virtio-pci", "unbind")); string(b) != "0000:00:03.0" {
		t.Errorf("unbind: %q", b)
	}
}
