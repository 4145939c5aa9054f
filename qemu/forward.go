package qemu

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/bootparam"
)

// Forward is one TCP port forward from the host's loopback to the guest,
// through QEMU's user network (`rlbuild boot --forward HOST:GUEST`).
type Forward struct {
	Host, Guest uint16
}

func (f Forward) String() string { return fmt.Sprintf("%d:%d", f.Host, f.Guest) }

// ForwardMAC is the address of the NIC that carries the forwards: not
// QEMU's default (52:54:00:12:34:56, which a NIC added with --nic gets),
// so that the booted system takes this one (rl.netmac=).
const ForwardMAC = "52:54:00:72:6c:01"

// ForwardGuestAddr is the guest's address on QEMU's user network, where
// the forwards go and the booted stack listens.
const ForwardGuestAddr = "10.0.2.15"

// ForwardNetdevID is the -netdev id of the forwarding NIC.
const ForwardNetdevID = "rlfwd0"

// ParseForward parses HOSTPORT:GUESTPORT, both in 1..65535.
func ParseForward(s string) (Forward, error) { return parseForward("--forward", s) }

// parseForward is ParseForward for the flag named flag.
func parseForward(flag, s string) (Forward, error) {
	host, guest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || strings.Contains(guest, ":") {
		return Forward{}, fmt.Errorf("%s %q: want HOSTPORT:GUESTPORT, e.g. 8080:7000 (TCP, host side 127.0.0.1)", flag, s)
	}
	h, err := parsePort(host, "host")
	if err != nil {
		return Forward{}, fmt.Errorf("%s %q: %w", flag, s, err)
	}
	g, err := parsePort(guest, "guest")
	if err != nil {
		return Forward{}, fmt.Errorf("%s %q: %w", flag, s, err)
	}
	return Forward{Host: h, Guest: g}, nil
}

func parsePort(s, side string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("no %s port: want HOSTPORT:GUESTPORT, e.g. 8080:7000", side)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s port %q is not a number: want a port in 1..65535", side, s)
	}
	if n == 0 || n > 65535 {
		return 0, fmt.Errorf("%s port %d is out of range: want 1..65535", side, n)
	}
	return uint16(n), nil
}

// ParseForwards parses each of specs with ParseForward and rejects two
// forwards of the same host port (QEMU could bind it only once).
// Several host ports may forward to the same guest port.
func ParseForwards(specs []string) ([]Forward, error) {
	return parseForwards("--forward", specs, nil)
}

// parseForwards is ParseForwards for the flag named flag, whose host
// ports must also differ from those of taken (another flag's forwards).
func parseForwards(flag string, specs []string, taken map[uint16]string) ([]Forward, error) {
	var fs []Forward
	seen := map[uint16]string{}
	for _, s := range specs {
		f, err := parseForward(flag, s)
		if err != nil {
			return nil, err
		}
		prev, ok := seen[f.Host]
		if !ok {
			prev, ok = taken[f.Host]
		}
		if ok {
			return nil, fmt.Errorf("%s %q: host port %d is already forwarded by %s: use another host port", flag, s, f.Host, prev)
		}
		seen[f.Host] = fmt.Sprintf("%s %q", flag, s)
		fs = append(fs, f)
	}
	return fs, nil
}

// ForwardArgs returns the QEMU arguments of a virtio-net NIC (MAC
// ForwardMAC) on QEMU's user network with the TCP forwards fs from
// 127.0.0.1 to the guest at ForwardGuestAddr; nil for no forwards.
func ForwardArgs(fs []Forward) []string {
	if len(fs) == 0 {
		return nil
	}
	netdev := "user,id=" + ForwardNetdevID
	for _, f := range fs {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-%s:%d", f.Host, ForwardGuestAddr, f.Guest)
	}
	return []string{"-netdev", netdev, "-device", "virtio-net-pci,netdev=" + ForwardNetdevID + ",mac=" + ForwardMAC}
}

// ForwardCmdline is what the kernel command line needs for the booted
// system to serve the forwards: the forwarding NIC taken from Linux and
// driven by the virtio-net domain, with the TCP/IP stack domain on it at
// ForwardGuestAddr (the inet:virtio0 capability Rv6 grants).
func ForwardCmdline() string {
	return bootparam.Net + "=virtio " + bootparam.NetMAC + "=" + ForwardMAC + " " +
		bootparam.NetStack + "=1 " + bootparam.NetAddr + "=" + ForwardGuestAddr + "/24"
}

// AddForwards adds the forwarding NIC to c and, in kernel mode, the
// kernel parameters of ForwardCmdline. The other modes boot a command
// line of their own (the disk's boot loader's, the netboot server's),
// which rlbuild cannot extend: they are refused.
func (c *Config) AddForwards(fs []Forward) error {
	if len(fs) == 0 {
		return nil
	}
	if c.Mode != Kernel {
		return fmt.Errorf("--forward needs kernel mode (--mode kernel): %s mode boots a kernel command line rlbuild cannot extend, and the forwards need %s", c.Mode, ForwardCmdline())
	}
	c.Cmdline = strings.TrimSpace(c.Cmdline + " " + ForwardCmdline())
	c.ExtraArgs = append(c.ExtraArgs, ForwardArgs(fs)...)
	return nil
}
