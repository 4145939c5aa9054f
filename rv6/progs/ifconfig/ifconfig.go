//rl:domain

// Package ifconfig is Rv6's ifconfig. It shows the network stacks the
// process holds (inet: capabilities: grant inet:virtio0 ifconfig):
// address and prefix, gateway, MAC, the DHCP client's state and lease,
// sockets and counters; then the NICs, as the kernel monitor's read-only
// ifconfig view lists them to every process.
//
// Least privilege: a stack's address, lease and sockets are shown only
// through its capability, which is what it takes to use the stack; a
// process without one learns only that the stack exists (the monitor's
// view names it and its NIC).
package ifconfig

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("ifconfig", main) }

const usage = "ifconfig (shows the network stacks it is granted, as with grant inet:virtio0 ifconfig, and the NICs)"

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 {
		return cli.Usage(p, usage)
	}
	status := 0
	for _, name := range p.Caps() {
		if !strings.HasPrefix(name, idl.CapInetPrefix) {
			continue
		}
		n, err := p.Inet(name)
		if err != nil {
			status = cli.Fail(p, name, err)
			continue
		}
		info, err := n.Info()
		if err != nil {
			status = cli.Fail(p, name, err)
			continue
		}
		Write(p.Stdout, name, info)
	}
	st, err := p.Monitor([]string{"ifconfig"})
	if err != nil {
		return cli.Fail(p, "monitor", err)
	}
	if st != 0 {
		return st
	}
	return status
}

// Write writes the stanza of the stack name.
func Write(w io.Writer, name string, i idl.InetInfo) {
	addr := "no address"
	if i.Addr != ([4]byte{}) {
		addr = fmt.Sprintf("%s/%d", ip(i.Addr), i.PrefixLen)
		if i.Gateway != ([4]byte{}) {
			addr += " via " + ip(i.Gateway)
		}
	}
	m := i.MAC
	fmt.Fprintf(w, "%s: %s, mac %02x:%02x:%02x:%02x:%02x:%02x, %s\n", name, addr, m[0], m[1], m[2], m[3], m[4], m[5], dhcp(i))
	fmt.Fprintf(w, "  rx %d frames (%d dropped), tx %d frames (%d dropped); udp in %d out %d; tcp established %d, retransmitted %d\n",
		i.RxFrames, i.RxDropped, i.TxFrames, i.TxDropped, i.UDPReceived, i.UDPSent, i.TCPEstablished, i.TCPRetrans)
	fmt.Fprintf(w, "  sockets %d, connections %d", i.Sockets, i.Conns)
	if i.DHCPState != idl.DHCPStatic {
		fmt.Fprintf(w, "; dhcp sent %d, received %d, leases %d, lost %d", i.DHCPSent, i.DHCPReceived, i.DHCPLeases, i.DHCPLosses)
	}
	fmt.Fprintln(w)
}

// dhcp describes where the address comes from.
func dhcp(i idl.InetInfo) string {
	switch {
	case i.DHCPState == idl.DHCPStatic:
		return "static"
	case i.LeaseNs == -1:
		return fmt.Sprintf("dhcp %s (server %s, infinite lease)", idl.DHCPStateName(i.DHCPState), ip(i.DHCPServer))
	case i.LeaseNs > 0:
		return fmt.Sprintf("dhcp %s (server %s, lease %v left)", idl.DHCPStateName(i.DHCPState), ip(i.DHCPServer), time.Duration(i.LeaseNs).Round(time.Second))
	}
	return "dhcp " + idl.DHCPStateName(i.DHCPState) + " (no lease yet)"
}

func ip(a [4]byte) string { return ulib.FormatIPv4(a) }
