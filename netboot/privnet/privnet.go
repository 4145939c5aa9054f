// Package privnet makes private networks for netbooting virtual machines:
// a network namespace with a bridge, tap devices for QEMU and veth pairs
// to other such namespaces, none of it connected to the host's networks.
// The netboot tests, the benchmarks and `rlbuild boot --mode pxe` use it,
// so a netboot server under test only ever sees machines it was given.
//
// Creating namespaces needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root).
// Namespaces are named rlnb-<pid>-<n>, bind-mounted under /run/netns so
// that `ip netns exec` can look inside while they exist; New removes those
// left behind by processes that are gone.
package privnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

const (
	prefix  = "rlnb-"
	runPath = "/run/netns"
)

var counter atomic.Int64

// NS is a network namespace made by New.
type NS struct {
	// Name is the namespace's name under /run/netns.
	Name string
	h    netns.NsHandle
}

// Usable reports why New would fail, or nil: namespaces need root.
func Usable() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	}
	return nil
}

// New creates a network namespace with its loopback up.
func New() (*NS, error) {
	if err := Usable(); err != nil {
		return nil, err
	}
	removeStale()
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), counter.Add(1))
	var h netns.NsHandle
	err := onThread(func() error {
		var err error
		h, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	ns := &NS{Name: name, h: h}
	err = ns.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("namespace %s: loopback: %w", name, err)
	}
	return ns, nil
}

// removeStale deletes namespaces that earlier processes made and left.
func removeStale() {
	ents, err := os.ReadDir(runPath)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // alive, or not ours to judge
		}
		netns.DeleteNamed(e.Name())
	}
}

// onThread runs f on a locked OS thread and restores the thread's
// namespace afterwards. If it cannot, the thread is not unlocked, so the
// runtime retires it instead of running other goroutines in the wrong
// namespace.
func onThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return // exits locked: the thread goes away
		}
		defer orig.Close()
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restoring the thread's network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Do runs f on an OS thread inside the namespace. Sockets f opens and
// processes f starts belong to the namespace; goroutines f starts do not.
func (ns *NS) Do(f func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns.h); err != nil {
			return fmt.Errorf("entering namespace %s: %w", ns.Name, err)
		}
		return f()
	})
}

// Close deletes the namespace. Processes still inside keep it alive
// until they exit; its devices go with it.
func (ns *NS) Close() error {
	ns.h.Close()
	if err := netns.DeleteNamed(ns.Name); err != nil {
		return fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
	}
	return nil
}

// AddBridge creates a bridge with the given address (none if invalid) and
// brings it up. STP stays off (the kernel's default), so ports forward as
// soon as they are up and firmware PXE clients do not wait for the
// forwarding delay; multicast snooping is off. (Not through /sys/class/net: sysfs shows the
// namespace it was mounted in, which is the host's.)
func (ns *NS) AddBridge(name string, addr netip.Prefix) error {
	return ns.Do(func() error {
		// No multicast snooping: a fresh bridge would hold back IPv6
		// multicast (router solicitations) until MLD has settled.
		snooping := false
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}, MulticastSnooping: &snooping}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("bridge %s: %w", name, err)
		}
		if err := up(name, addr); err != nil {
			return fmt.Errorf("bridge %s: %w", name, err)
		}
		return nil
	})
}

// up adds addr (if valid) to a link and brings it up.
func up(name string, addr netip.Prefix) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if addr.IsValid() {
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
			return fmt.Errorf("address %s: %w", addr, err)
		}
	}
	return netlink.LinkSetUp(l)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// AddTap creates a persistent tap device for QEMU, attaches it to bridge
// and brings it up. QEMU must run in the namespace to open it (Start).
func (ns *NS) AddTap(name, bridge string) error {
	return ns.Do(func() error {
		tap := &netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: name},
			Mode:      netlink.TUNTAP_MODE_TAP,
			Flags:     netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR,
		}
		if err := netlink.LinkAdd(tap); err != nil {
			return fmt.Errorf("tap %s: %w", name, err)
		}
		return attach(name, bridge)
	})
}

func attach(name, bridge string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if bridge != "" {
		br, err := netlink.LinkByName(bridge)
		if err != nil {
			return fmt.Errorf("bridge %s: %w", bridge, err)
		}
		if err := netlink.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("attaching %s to %s: %w", name, bridge, err)
		}
	}
	return netlink.LinkSetUp(l)
}

// AddVeth creates a veth pair: name in this namespace, attached to bridge
// (if not empty) or given addr; peerName in peer with peerAddr. Both ends
// come up.
func (ns *NS) AddVeth(name, bridge string, addr netip.Prefix, peer *NS, peerName string, peerAddr netip.Prefix) error {
	err := ns.Do(func() error {
		v := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: name},
			PeerName:      peerName,
			PeerNamespace: netlink.NsFd(int(peer.h)),
		}
		if err := netlink.LinkAdd(v); err != nil {
			return fmt.Errorf("veth %s: %w", name, err)
		}
		if bridge != "" {
			return attach(name, bridge)
		}
		return up(name, addr)
	})
	if err != nil {
		return err
	}
	return peer.Do(func() error { return up(peerName, peerAddr) })
}

// AddAddr adds an address to a device in the namespace.
func (ns *NS) AddAddr(dev string, addr netip.Prefix) error {
	return ns.Do(func() error {
		l, err := netlink.LinkByName(dev)
		if err != nil {
			return err
		}
		return netlink.AddrAdd(l, &netlink.Addr{IPNet: ipNet(addr)})
	})
}

// AddRoute adds a route to dst through gw in the namespace.
func (ns *NS) AddRoute(dst netip.Prefix, gw netip.Addr) error {
	return ns.Do(func() error {
		return netlink.RouteAdd(&netlink.Route{Dst: ipNet(dst), Gw: gw.AsSlice()})
	})
}

// Start starts cmd inside the namespace. The process stays there; it
// does not need `ip netns exec`.
func (ns *NS) Start(cmd *exec.Cmd) error {
	return ns.Do(cmd.Start)
}

// DialUDP is net.DialUDP inside the namespace (tftp.Server.DialUDP).
func (ns *NS) DialUDP(network string, laddr, raddr *net.UDPAddr) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := ns.Do(func() error {
		var err error
		c, err = net.DialUDP(network, laddr, raddr)
		return err
	})
	return c, err
}

// ListenUDP is net.ListenUDP inside the namespace.
func (ns *NS) ListenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP(network, laddr)
		return err
	})
	return c, err
}

// Listen is net.Listen inside the namespace.
func (ns *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// Dial is net.Dial inside the namespace, for clients in tests.
func (ns *NS) Dial(network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = net.Dial(network, addr)
		return err
	})
	return c, err
}
