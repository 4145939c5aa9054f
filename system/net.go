package system

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rlgo/redleaf/bootparam"
	"github.com/rlgo/redleaf/drivers/virtionet"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/kernel/shadow"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/net/udpecho"
	"github.com/rlgo/redleaf/services/netstack"
	"github.com/rlgo/redleaf/system/sh"
)

// Names of the network domains.
const (
	NetName   = "virtio-net"
	EchoName  = "udpecho"
	StackName = "netstack"
	// InetCap is the capability Rv6 may hand out for the stack's sockets.
	InetCap = idl.CapInetPrefix + "virtio0"
)

// DefaultNetDeadline is the per-call deadline of the kernel's capability
// to the NIC domain: long enough for its shadow to bring up a new
// instance (a device reset, under TCG) inside the call it retries.
const DefaultNetDeadline = 15 * time.Second

// DefaultNetAddr is the echo service's address unless rl.netaddr= says
// otherwise: the guest's address on QEMU's user network.
var DefaultNetAddr = netip.MustParsePrefix("10.0.2.15/24")

// NetConfig says whether the system takes a NIC from Linux, which one, and
// how the echo service on it is addressed. Linux keeps every NIC unless
// asked: its own stack may need one (netboot reports through the first).
//
// On the kernel command line:
//
//	rl.net=virtio              take a virtio-net device (the last one)
//	rl.netmac=52:54:00:12:34:56 the one with this address instead
//	rl.netaddr=10.0.2.15/24    the echo service's (or the stack's) address (DefaultNetAddr)
//	rl.netaddr=dhcp            the stack's address by DHCP (with rl.netstack=1 only)
//	rl.netstack=1              the TCP/IP stack domain (services/netstack) instead of the echo
type NetConfig struct {
	Driver string           // "virtio", or "" for none
	MAC    net.HardwareAddr // nil: the last virtio-net device
	Addr   netip.Prefix     // zero: DefaultNetAddr (unless DHCP)
	DHCP   bool             // the stack gets its address by DHCP (Addr is zero)
	Stack  bool             // run the stack (InetCap for Rv6) rather than the UDP echo
}

// ParseNetConfig reads the rl.net* keys of c.
func ParseNetConfig(c *boot.Cmdline) (NetConfig, error) {
	var cfg NetConfig
	if v, ok := c.Lookup(bootparam.Net); ok {
		switch v = strings.ToLower(v); v {
		case "virtio", "virtio-net":
			cfg.Driver = "virtio"
		case "", "0", "off", "none":
		default:
			return NetConfig{}, fmt.Errorf("%s=%q: want virtio or off", bootparam.Net, v)
		}
	}
	if v, ok := c.Lookup(bootparam.NetMAC); ok {
		mac, err := net.ParseMAC(v)
		if err != nil || len(mac) != 6 {
			return NetConfig{}, fmt.Errorf("%s=%q: want an Ethernet address", bootparam.NetMAC, v)
		}
		cfg.MAC = mac
	}
	if v, ok := c.Lookup(bootparam.NetAddr); ok {
		if strings.EqualFold(v, "dhcp") {
			cfg.DHCP = true
		} else {
			p, err := parseHostPrefix(v)
			if err != nil {
				return NetConfig{}, fmt.Errorf("%s=%q: want an IPv4 address and prefix length, as 10.0.2.15/24, or dhcp (%v)", bootparam.NetAddr, v, err)
			}
			cfg.Addr = p
		}
	}
	if v, ok := c.Lookup(bootparam.NetStack); ok {
		switch strings.ToLower(v) {
		case "1", "on", "yes", "":
			cfg.Stack = true
		case "0", "off", "no":
		default:
			return NetConfig{}, fmt.Errorf("%s=%q: want 1 or 0", bootparam.NetStack, v)
		}
	}
	if cfg.DHCP && !cfg.Stack {
		return NetConfig{}, fmt.Errorf("%s=dhcp needs %s=1: only the TCP/IP stack domain runs a DHCP client (the UDP echo service takes a static address)", bootparam.NetAddr, bootparam.NetStack)
	}
	return cfg, nil
}

// parseHostPrefix parses a host's IPv4 address with its prefix length,
// refusing what no host can have.
func parseHostPrefix(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return p, errors.New("not an address/prefix")
	}
	a := p.Addr()
	switch {
	case !a.Is4():
		return p, errors.New("not IPv4")
	case p.Bits() < 1:
		return p, errors.New("prefix length 0")
	case a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.As4()[0] >= 240:
		return p, fmt.Errorf("%v is not a host address", a)
	}
	return p, nil
}

// netConfig is the configuration in effect: opts.Net, else the kernel
// command line when the process is PID 1 (the booted system), else none.
func (s *System) netConfig(opts Options) (NetConfig, bool) {
	if opts.Net != nil {
		return *opts.Net, true
	}
	if os.Getpid() != 1 {
		return NetConfig{}, false
	}
	c, err := boot.ReadCmdline()
	if err != nil {
		s.logf("net: %v", err)
		return NetConfig{}, false
	}
	cfg, err := ParseNetConfig(c)
	if err != nil {
		s.logf("net: %v; no NIC taken", err)
		return NetConfig{}, false
	}
	return cfg, true
}

// A nic is the NIC the system drives, for the shell.
type nic struct {
	dev   pci.Device
	net   idl.Net     // the kernel's capability, through the shadow
	echo  idl.UDPEcho // the kernel's capability to the echo service; nil if it did not start
	guard *shadow.Guard
	// inet is the stack domain's shadow (rl.netstack=1), nil if it did
	// not start: Rv6 may hand it out as InetCap.
	inet *shadow.Guard
}

// startNet takes a virtio-net device from Linux, if the configuration
// asks for one, and starts its driver domain behind a shadow and the echo
// service on it. Like startNVMe it never fails the system.
func (s *System) startNet(opts Options) {
	cfg, ok := s.netConfig(opts)
	if !ok || cfg.Driver == "" || s.bus == nil {
		return
	}
	devs, err := s.bus.Scan()
	if err != nil {
		s.logf("net: scanning PCI: %v", err)
		return
	}
	d, err := s.chooseNIC(devs, cfg.MAC)
	if err != nil {
		s.logf("net: %v", err)
		return
	}
	if err := s.bindNet(opts, cfg, d); err != nil {
		s.logf("net: %s (%04x:%04x): %v; carrying on without it", d.Addr, d.Vendor, d.DeviceID, err)
	}
}

// isVirtioNet reports whether d is a virtio network device.
func isVirtioNet(d pci.Device) bool {
	return d.Vendor == virtionet.VendorVirtio && (d.DeviceID == virtionet.DeviceTransitional || d.DeviceID == virtionet.DeviceModern)
}

// chooseNIC picks the virtio-net device with address mac (as Linux's
// driver reports it in sysfs), or the last one.
func (s *System) chooseNIC(devs []pci.Device, mac net.HardwareAddr) (pci.Device, error) {
	var nics []pci.Device
	for _, d := range devs {
		if isVirtioNet(d) {
			nics = append(nics, d)
		}
	}
	if len(nics) == 0 {
		return pci.Device{}, errors.New("rl.net=virtio, but there is no virtio-net device")
	}
	if mac == nil {
		return nics[len(nics)-1], nil
	}
	var seen []string
	for _, d := range nics {
		m := s.linuxMAC(d.Addr)
		if m != "" && strings.EqualFold(m, mac.String()) {
			return d, nil
		}
		seen = append(seen, fmt.Sprintf("%s %s", d.Addr, cmp.Or(m, "(address unknown: Linux has no interface for it)")))
	}
	return pci.Device{}, fmt.Errorf("no virtio-net device has address %s (there are: %s)", mac, strings.Join(seen, ", "))
}

// linuxMAC is the address of the network interface Linux made of the PCI
// function addr, or "".
func (s *System) linuxMAC(addr string) string {
	root := s.bus.Root
	if root == "" {
		root = pci.DefaultRoot
	}
	files, _ := filepath.Glob(filepath.Join(root, addr, "virtio*", "net", "*", "address"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

// netPacketCells is the size of the virtio-net NIC's packet pool: the
// cells of its two queues of 256 descriptors (128 two-descriptor slots
// each) and as many for its callers' buffers.
const netPacketCells = 512

// bindNet takes d from Linux and starts the driver domain (behind a
// shadow) and the echo service.
func (s *System) bindNet(opts Options, cfg NetConfig, d pci.Device) error {
	mac := s.linuxMAC(d.Addr) // while Linux still has the interface
	f, err := s.takeFromLinux(d, opts.DMA)
	if err != nil {
		return err
	}
	fn, err := newConfigFunction(s.bus, f)
	if err != nil {
		return err
	}
	grants := []domain.CreateOption{
		domain.GrantDevice(virtionet.GrantPCI, virtionet.Function(fn)),
		domain.GrantDevice(virtionet.GrantFaults, s.inj.Device()),
	}
	// The packet pool, in the function's DMA memory before the driver
	// allocates any (kept across its restarts): zero-copy queues.
	if pool := s.packetPool(NetName, f.DMA(), netPacketCells); pool != nil {
		grants = append(grants, domain.GrantDevice(virtionet.GrantPackets, pool))
	}
	g, nc, err := guarded[idl.Net](s, virtionet.Kind, NetName, " (the device is no longer Linux's)", opts.Policy, DefaultNetDeadline, grants...)
	if err != nil {
		fn.cfg.Close()
		return err
	}
	n := &nic{dev: d, net: nc, guard: g}
	s.nic = n
	s.addService(&service{
		name:  NetName,
		guard: g,
		ping:  func() error { _, err := nc.LinkStatus(); return err },
	})
	s.drive(d.Addr, NetName)
	prev := takenFrom(d)
	link, err := nc.LinkStatus()
	what := fmt.Sprintf(", %s, link %s", macString(link.MAC), upDown(link.Up))
	if err != nil {
		what = fmt.Sprintf("; asking its link: %v", err)
	}
	if mac != "" {
		prev += " (" + mac + ")"
	}
	s.logf("net: %s (%04x:%04x) taken from %s: domain %s (shadowed)%s", d.Addr, d.Vendor, d.DeviceID, prev, NetName, what)

	addr := cfg.Addr
	if !addr.IsValid() && !cfg.DHCP {
		addr = DefaultNetAddr
	}
	if cfg.Stack {
		s.startStack(opts, n, g, addr)
		return nil
	}
	ed, err := s.m.Create(udpecho.Kind, domain.Name(EchoName),
		domain.Grant(udpecho.GrantNet, g),
		domain.GrantDevice(udpecho.GrantConfig, udpecho.Config{Addr: addr.Addr().As4(), PrefixLen: uint8(addr.Bits())}))
	if err != nil {
		s.logf("net: starting %s: %v", EchoName, err)
		return nil
	}
	ec, err := domain.Connect[idl.UDPEcho](s.m.Kernel(), ed, domain.Deadline(s.deadline))
	if err != nil {
		s.logf("net: connecting to %s: %v", EchoName, err)
		return nil
	}
	n.echo = ec
	s.addService(&service{
		name: EchoName,
		ping: func() error { _, err := ec.EchoStats(); return err },
		rebind: func(d *domain.Domain) error {
			c, err := domain.Connect[idl.UDPEcho](s.m.Kernel(), d, domain.Deadline(s.deadline))
			if err == nil {
				n.echo = c
			}
			return err
		},
	})
	s.logf("net: %s: UDP echo on %s port 7", EchoName, addr)
	return nil
}

// startStack starts the TCP/IP stack domain over the NIC's shadow g,
// behind a shadow of its own, at addr (invalid: by DHCP): Rv6 may then
// hand its sockets out as InetCap. A stack that does not start is logged,
// not fatal.
func (s *System) startStack(opts Options, n *nic, g *shadow.Guard, addr netip.Prefix) {
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		s.logf("net: %s: no random seed for its sequence numbers: %v", StackName, err)
		return
	}
	cfg := netstack.Config{Stack: stack.Config{Seed: binary.LittleEndian.Uint64(seed[:])}, DHCP: !addr.IsValid()}
	if !cfg.DHCP {
		cfg.Stack.Addr, cfg.Stack.PrefixLen = addr.Addr().As4(), addr.Bits()
	}
	sg, inet, err := guarded[idl.Inet](s, netstack.Kind, StackName, "", opts.Policy, DefaultNetDeadline,
		domain.Grant(netstack.GrantNet, g),
		domain.GrantDevice(netstack.GrantConfig, cfg),
		domain.GrantDevice(netstack.GrantFaults, s.inj.Device()))
	if err != nil {
		s.logf("net: %v", err)
		return
	}
	n.inet = sg
	s.addService(&service{
		name:  StackName,
		guard: sg,
		ping:  func() error { _, err := inet.Info(); return err },
	})
	where := addr.String()
	if cfg.DHCP {
		where = "an address by DHCP"
	}
	s.logf("net: %s: TCP/IP on %s, its sockets grantable as %s", StackName, where, InetCap)
}

func macString(m [6]byte) string { return net.HardwareAddr(m[:]).String() }

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// NIC is the kernel's capability to the NIC domain, through its shadow, or
// nil when no NIC was taken.
func (s *System) NIC() idl.Net {
	if s.nic == nil {
		return nil
	}
	return s.nic.net
}

// cmdIfconfig is the ifconfig command: the NIC's link and counters, the
// echo service's, and the stack domain's instance.
func (s *System) cmdIfconfig(_ context.Context, p *sh.Proc) int {
	if len(p.Args) != 1 {
		return usage(p, "ifconfig")
	}
	status := statusOK
	if s.nic != nil {
		if err := s.writeVirtioIfconfig(p.Stdout); err != nil {
			p.Errorf("%v", err)
			status = statusError
		}
	} else {
		fmt.Fprintf(p.Stdout, "%s: no virtio-net NIC is driven by a domain (boot with rl.net=virtio to take one from Linux)\n", NetName)
	}
	if err := s.writeIxgbeIfconfig(p.Stdout); err != nil {
		p.Errorf("%v", err)
		status = statusError
	}
	return status
}

// writeVirtioIfconfig writes ifconfig's stanza of the virtio-net NIC and
// its UDP echo service.
func (s *System) writeVirtioIfconfig(w io.Writer) error {
	n := s.nic
	link, err := n.net.LinkStatus()
	if err != nil {
		return fmt.Errorf("%s: %w", NetName, err)
	}
	st, err := n.net.Stats()
	if err != nil {
		return fmt.Errorf("%s: %w", NetName, err)
	}
	speed := "speed unknown"
	if link.SpeedMbps != 0 {
		speed = fmt.Sprintf("%d Mbit/s", link.SpeedMbps)
	}
	fmt.Fprintf(w, "%s: %s (%04x:%04x) %s link %s, %s; instance #%d, restarts %d\n",
		NetName, n.dev.Addr, n.dev.Vendor, n.dev.DeviceID, macString(link.MAC), upDown(link.Up), speed, n.guard.Current().ID(), n.guard.Restarts())
	fmt.Fprintf(w, "  rx %d packets, %d bytes, %d errors, %d missed\n", st.RxPackets, st.RxBytes, st.RxErrors, st.RxMissed)
	fmt.Fprintf(w, "  tx %d packets, %d bytes, %d errors\n", st.TxPackets, st.TxBytes, st.TxErrors)
	if n.echo != nil {
		e, err := n.echo.EchoStats()
		if err != nil {
			return fmt.Errorf("%s: %w", EchoName, err)
		}
		a := netip.PrefixFrom(netip.AddrFrom4(e.Addr), int(e.PrefixLen))
		fmt.Fprintf(w, "%s: %s port %d: echoed %d, ARP replies %d, pings %d, ignored %d, dropped %d\n",
			EchoName, a, e.Port, e.Echoed, e.ARPReplies, e.Pings, e.Ignored, e.Dropped)
	}
	if n.inet != nil {
		// Least privilege: this view is every process's; the stack's
		// address, lease and sockets are shown to holders of its
		// capability (Rv6's ifconfig asks the stack through it).
		fmt.Fprintf(w, "%s: TCP/IP stack domain on %s, instance #%d, restarts %d; its address, lease and sockets: grant %s ifconfig\n",
			StackName, NetName, n.inet.Current().ID(), n.inet.Restarts(), InetCap)
	}
	return nil
}

// configFunction is a PCI function taken from Linux with its
// configuration space, which the virtio-net driver reads for its
// capabilities and writes for its narrow register accesses (sysfs's
// config file: aligned 32-bit reads and writes are single config cycles).
type configFunction struct {
	*pci.Function
	cfg *os.File
}

func newConfigFunction(b *pci.Bus, f *pci.Function) (*configFunction, error) {
	root := b.Root
	if root == "" {
		root = pci.DefaultRoot
	}
	c, err := os.OpenFile(filepath.Join(root, f.Addr(), "config"), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening its config space: %w", err)
	}
	return &configFunction{Function: f, cfg: c}, nil
}

// ConfigRead32 implements virtionet.Function; a failed read gives all
// ones, as a missing device does.
func (f *configFunction) ConfigRead32(off int) uint32 {
	var b [4]byte
	if _, err := f.cfg.ReadAt(b[:], int64(off)); err != nil {
		return 0xffffffff
	}
	return binary.LittleEndian.Uint32(b[:])
}

// ConfigWrite32 implements virtionet.Function.
func (f *configFunction) ConfigWrite32(off int, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	f.cfg.WriteAt(b[:], int64(off))
}
