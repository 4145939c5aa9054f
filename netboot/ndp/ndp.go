// Package ndp answers IPv6 router solicitations on the boot network with
// a router advertisement that offers nothing: no default router (router
// lifetime 0), no prefixes, no DHCPv6 (M and O flags clear).
//
// iPXE configures IPv4 and IPv6 at once and, on a network without an
// IPv6 router, waits for its router solicitations to time out (about 16
// seconds) before it fetches anything. An empty advertisement ends that
// wait at once and changes nothing for hosts that have a real router:
// a router lifetime of 0 adds no default route, and the advertisement
// carries no prefix to configure.
package ndp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const (
	typeRouterSolicitation  = 133
	typeRouterAdvertisement = 134
)

// Responder answers router solicitations on one interface.
type Responder struct {
	conn  net.PacketConn
	iface *net.Interface
	log   *slog.Logger
}

// Listen opens a raw ICMPv6 socket on iface that receives router
// solicitations (it joins ff02::2, all routers). Call it in the
// interface's network namespace; it needs CAP_NET_RAW.
func Listen(iface string, log *slog.Logger) (*Responder, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("ndp: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return nil, fmt.Errorf("ndp: raw ICMPv6 socket (needs CAP_NET_RAW): %w", err)
	}
	f := os.NewFile(uintptr(fd), "ndp")
	defer f.Close() // FilePacketConn dups it
	var filter unix.ICMPv6Filter
	for i := range filter.Data {
		filter.Data[i] = ^uint32(0) // Linux: a set bit blocks the type
	}
	filter.Data[typeRouterSolicitation>>5] &^= 1 << (typeRouterSolicitation & 31)
	group := [16]byte{0xff, 0x02, 15: 0x02}
	for _, set := range []func() error{
		func() error { return unix.SetsockoptICMPv6Filter(fd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, &filter) },
		func() error { return unix.BindToDevice(fd, iface) },
		func() error {
			return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, &unix.IPv6Mreq{Multiaddr: group, Interface: uint32(ifc.Index)})
		},
		// Neighbour discovery requires a hop limit of 255.
		func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255) },
		func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 255) },
		func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifc.Index) },
		// The advertisement is for the clients, not for this host.
		func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0) },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("ndp: socket on %s: %w", iface, err)
		}
	}
	conn, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("ndp: %w", err)
	}
	return &Responder{conn: conn, iface: ifc, log: log}, nil
}

// Advertisement returns the empty router advertisement for a link-layer
// address; the kernel fills in the checksum.
func Advertisement(mac net.HardwareAddr) []byte {
	b := []byte{
		typeRouterAdvertisement, 0, 0, 0, // type, code, checksum
		64,   // current hop limit
		0,    // flags: M and O clear
		0, 0, // router lifetime: not a default router
		0, 0, 0, 0, // reachable time: unspecified
		0, 0, 0, 0, // retransmission timer: unspecified
	}
	if len(mac) == 6 {
		b = append(b, 1, 1) // option: source link-layer address, 8 bytes
		b = append(b, mac...)
	}
	return b
}

// Serve answers solicitations until ctx ends, then closes the socket.
func (r *Responder) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { r.conn.Close() })
	defer stop()
	ra := Advertisement(r.iface.HardwareAddr)
	allNodes := &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: r.iface.Name}
	buf := make([]byte, 1500)
	var last time.Time
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("ndp: %w", err)
		}
		if n < 8 || buf[0] != typeRouterSolicitation || buf[1] != 0 {
			continue
		}
		// Solicitations come in bursts from each client; one answer per
		// burst reaches them all.
		if time.Since(last) < 100*time.Millisecond {
			continue
		}
		last = time.Now()
		if _, err := r.conn.WriteTo(ra, allNodes); err != nil {
			r.log.Warn("ndp: router advertisement", "err", err)
			continue
		}
		r.log.Debug("ndp: answered router solicitation", "from", from.String())
	}
}
