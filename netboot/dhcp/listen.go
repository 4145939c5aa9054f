package dhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listen opens the server's sockets on the interface iface, in the
// calling thread's network namespace: port 67 on all addresses, bound to
// the interface (broadcasts arrive on it, replies leave through it), and,
// if pxe, port 4011 on serverIP. Unlike server4.NewIPv4UDPConn it does
// not set SO_REUSEADDR or SO_REUSEPORT, so a port already taken by
// another DHCP server is an error instead of two servers answering.
//
// Relayed requests must reach iface too: a socket bound to an interface
// sees only what arrives on it.
func Listen(iface string, serverIP netip.Addr, pxe bool) (Conns, error) {
	var conns Conns
	var err error
	conns.DHCP, err = listenUDP(iface, netip.AddrPortFrom(netip.IPv4Unspecified(), ServerPort))
	if err != nil {
		return Conns{}, err
	}
	if pxe {
		conns.PXE, err = listenUDP(iface, netip.AddrPortFrom(serverIP, PXEPort))
		if err != nil {
			conns.Close()
			return Conns{}, err
		}
	}
	return conns, nil
}

func listenUDP(iface string, addr netip.AddrPort) (net.PacketConn, error) {
	if _, err := net.InterfaceByName(iface); err != nil {
		return nil, InterfaceError(iface, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("dhcp: socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dhcp")
	defer f.Close() // FilePacketConn dups it
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
		return nil, fmt.Errorf("dhcp: SO_BROADCAST: %w", err)
	}
	if err := unix.BindToDevice(fd, iface); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("dhcp: binding a socket to %s needs CAP_NET_RAW on kernels before 5.7: run as root or grant rlbuild cap_net_raw", iface)
		}
		return nil, fmt.Errorf("dhcp: binding to interface %s: %w", iface, err)
	}
	sa := &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, PortError("dhcp", iface, addr, err)
	}
	return net.FilePacketConn(f)
}

// InterfaceError explains a missing interface and lists those there
// are. err, from net.InterfaceByName, says less than that and is left
// out.
func InterfaceError(iface string, _ error) error {
	var names []string
	if ifs, ierr := net.Interfaces(); ierr == nil {
		for _, i := range ifs {
			names = append(names, i.Name)
		}
	}
	return fmt.Errorf("interface %q does not exist (interfaces here: %s): pass the interface of the boot network, e.g. --iface br0", iface, strings.Join(names, ", "))
}

// PortError explains why binding a server port failed.
func PortError(what, iface string, addr netip.AddrPort, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s: port %d on %s (%s) is taken: another server runs there (`ss -ulpn 'sport = :%d'` shows it): stop it, or for DHCP beside an existing server use proxy mode", what, addr.Port(), addr.Addr(), iface, addr.Port())
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: binding port %d needs root or CAP_NET_BIND_SERVICE: run as root or `setcap cap_net_bind_service,cap_net_raw=+ep rlbuild`", what, addr.Port())
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s: %s is not an address of this host (%s): give the interface that address or pick its own", what, addr.Addr(), iface)
	}
	return fmt.Errorf("%s: binding %s on %s: %w", what, addr, iface, err)
}
