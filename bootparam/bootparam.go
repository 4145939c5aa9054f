// Package bootparam names the rl.* parameters of the kernel command line:
// the one place where the builder (rlbuild image, rlbuild boot), the
// netboot server (the iPXE scripts it writes), the lab runner and the
// booted system (kernel/boot, the composition root) agree on them.
//
// It is a leaf: it imports nothing but the standard library, so the
// trusted base may import it (kernel/layering_test.go allows it).
package bootparam

import (
	"fmt"
	"strings"
)

// Prefix starts every parameter the booted system reads; it ignores other
// parameters (they are Linux's).
const Prefix = "rl."

// The parameters.
const (
	// Set by the netboot server in the iPXE script of each boot.
	Report  = Prefix + "report"  // the netboot API's base URL, where the system reports
	Token   = Prefix + "token"   // this boot's secret for the report and results
	Boot    = Prefix + "boot"    // this boot's id
	MAC     = Prefix + "mac"     // the NIC that netbooted
	Profile = Prefix + "profile" // the netboot profile that was served

	// Set by the lab runner (lab/matrix) for the target's suite runner
	// (kernel/suite).
	Suite      = Prefix + "suite"       // the suite's name
	SuiteSteps = Prefix + "suite.steps" // its steps: NAME=COMMAND,..., each percent-encoded

	// The booted system's own settings.
	OnFatal  = Prefix + "onfatal"   // poweroff | reboot | halt after a fatal error
	Shell    = Prefix + "shell"     // 0: no console shell
	Debug    = Prefix + "debug"     // verbose output
	Root     = Prefix + "root"      // auto | ramdisk | nvme: Rv6's root device
	Rv6      = Prefix + "rv6"       // 0: the monitor shell instead of Rv6
	NVMeSpin = Prefix + "nvme.spin" // how long the NVMe driver polls before it sleeps
	Net      = Prefix + "net"       // virtio: take the virtio NIC from Linux
	NetMAC   = Prefix + "netmac"    // the address of the NIC a domain drives
	NetAddr  = Prefix + "netaddr"   // its IPv4 address and prefix, as 10.0.2.15/24, or dhcp (the stack only)
	NetStack = Prefix + "netstack"  // 1: the TCP/IP stack domain on the NIC instead of the UDP echo

	// The Linux baseline of the network benchmarks: a NIC that stays
	// Linux's, configured by the composition root, which serves Rv6's
	// /www with Go's net/http and a TCP throughput port on Linux's stack.
	LinuxNet     = Prefix + "linuxnet"     // the address (MAC) of the NIC left to Linux for the baseline
	LinuxNetAddr = Prefix + "linuxnetaddr" // its IPv4 address and prefix, as 10.0.3.15/24
)

// CheckValue reports a value that cannot stand on a kernel command line
// as one parameter: Linux splits the line at white space, and an iPXE
// script or a boot loader entry at line breaks.
func CheckValue(key, value string) error {
	for _, r := range value {
		if r <= ' ' || r == 0x7f || r == '"' {
			return fmt.Errorf("%s=%q: a value on the kernel command line cannot hold white space, quotes or control characters", key, value)
		}
	}
	return nil
}

// Arg returns key=value, or an error when the value cannot be one
// parameter (CheckValue).
func Arg(key, value string) (string, error) {
	if !strings.HasPrefix(key, Prefix) {
		return "", fmt.Errorf("%s is not an %s* parameter", key, Prefix)
	}
	if err := CheckValue(key, value); err != nil {
		return "", err
	}
	return key + "=" + value, nil
}
