package qemu

import (
	"fmt"
	"strings"

	"github.com/rlgo/redleaf/bootparam"
)

// The Linux baseline's NIC (`rlbuild boot --linux-forward HOST:GUEST`): a
// second virtio-net NIC, on a QEMU user network of its own, that the
// booted system leaves to Linux (rl.linuxnet=) and serves from with Go on
// Linux's TCP/IP stack, so that a benchmark compares Rv6's stack domain
// and Linux's in the same guest through the same kind of path.
const (
	// LinuxForwardMAC is its address: neither QEMU's default nor
	// ForwardMAC, which the stack domain takes.
	LinuxForwardMAC = "52:54:00:72:6c:02"
	// LinuxForwardNet is its user network: not the forwarding NIC's
	// (10.0.2.0/24), so the two are told apart in every log.
	LinuxForwardNet = "10.0.3.0/24"
	// LinuxForwardGuestAddr is the address Linux gives it.
	LinuxForwardGuestAddr = "10.0.3.15"
	// LinuxForwardNetdevID is its -netdev id.
	LinuxForwardNetdevID = "rllinux0"
)

// ParseLinuxForwards parses --linux-forward values as ParseForwards does
// and also rejects a host port that one of others (the --forward values)
// already forwards.
func ParseLinuxForwards(specs []string, others []Forward) ([]Forward, error) {
	taken := map[uint16]string{}
	for _, f := range others {
		taken[f.Host] = fmt.Sprintf("--forward %q", f.String())
	}
	return parseForwards("--linux-forward", specs, taken)
}

// LinuxForwardArgs returns the QEMU arguments of the Linux baseline's NIC
// with the TCP forwards fs from 127.0.0.1 to LinuxForwardGuestAddr; nil
// for no forwards.
func LinuxForwardArgs(fs []Forward) []string {
	if len(fs) == 0 {
		return nil
	}
	netdev := "user,id=" + LinuxForwardNetdevID + ",net=" + LinuxForwardNet
	for _, f := range fs {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-%s:%d", f.Host, LinuxForwardGuestAddr, f.Guest)
	}
	return []string{"-netdev", netdev, "-device", "virtio-net-pci,netdev=" + LinuxForwardNetdevID + ",mac=" + LinuxForwardMAC}
}

// LinuxForwardCmdline is what the kernel command line needs for the
// booted system to leave the NIC to Linux and serve the baseline on it.
func LinuxForwardCmdline() string {
	return bootparam.LinuxNet + "=" + LinuxForwardMAC + " " + bootparam.LinuxNetAddr + "=" + LinuxForwardGuestAddr + "/24"
}

// AddLinuxForwards adds the Linux baseline's NIC to c and, in kernel
// mode, the parameters of LinuxForwardCmdline; other modes are refused,
// as AddForwards refuses them.
func (c *Config) AddLinuxForwards(fs []Forward) error {
	if len(fs) == 0 {
		return nil
	}
	if c.Mode != Kernel {
		return fmt.Errorf("--linux-forward needs kernel mode (--mode kernel): %s mode boots a kernel command line rlbuild cannot extend, and the baseline needs %s", c.Mode, LinuxForwardCmdline())
	}
	c.Cmdline = strings.TrimSpace(c.Cmdline + " " + LinuxForwardCmdline())
	c.ExtraArgs = append(c.ExtraArgs, LinuxForwardArgs(fs)...)
	return nil
}
