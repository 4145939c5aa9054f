// Package server runs the netboot server: DHCP (package dhcp), TFTP
// (package tftp) and HTTP (package httpboot) on one interface, driven by
// a lab configuration (package profile) that is reloaded when it
// changes, with one boot-event log (package events). `rlbuild netboot
// serve`, the tests and `rlbuild boot --mode pxe` all run it through
// New, Listen and Serve.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/netboot/dhcp"
	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/files"
	"github.com/rlgo/redleaf/netboot/guard"
	"github.com/rlgo/redleaf/netboot/httpboot"
	"github.com/rlgo/redleaf/netboot/logline"
	"github.com/rlgo/redleaf/netboot/ndp"
	"github.com/rlgo/redleaf/netboot/operator"
	"github.com/rlgo/redleaf/netboot/profile"
	"github.com/rlgo/redleaf/netboot/tftp"
)

// DefaultIPXEDir is where Debian's ipxe package puts its binaries.
const DefaultIPXEDir = "/usr/lib/ipxe"

// Namespace runs socket operations in a network namespace; a
// *privnet.NS is one. The server calls Do for every socket it opens and
// every interface it looks up, and DialUDP for TFTP transfers.
type Namespace interface {
	Do(func() error) error
	DialUDP(network string, laddr, raddr *net.UDPAddr) (*net.UDPConn, error)
}

// Config is what New needs.
type Config struct {
	// File is the lab configuration: from profile.Load, or Quick.
	File *profile.File
	// Log is the server's logger (default slog.Default()).
	Log *slog.Logger
	// NS, if set, is the network namespace the server runs in.
	NS Namespace
	// ReloadInterval is how often File.Path is checked for changes
	// (default 1 s; negative: never).
	ReloadInterval time.Duration
	// OnReload, if set, is called after each reload of File.Path, with
	// the error that kept a changed file from being installed.
	OnReload func(error)
	// OperatorToken, if valid, is the operator's credential, for a
	// server run in-process by a caller that holds the secret; else it
	// is read from server.operator_token_file (default: operator-token
	// in the state directory, created on the first start).
	OperatorToken operator.Token
	// HTTPLimits bound the HTTP server's connections (package guard).
	HTTPLimits guard.Limits
	// Limits bound what the HTTP side keeps (package httpboot).
	Limits httpboot.Limits
}

// Server is a netboot server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	iface    string
	addr     netip.Addr   // our address on the boot network
	prefix   netip.Prefix // the boot network
	baseURL  string
	store    *profile.Store
	events   *events.Log
	leases   *dhcp.Leases
	dhcp     *dhcp.Server
	tftp     *tftp.Server
	http     *httpboot.Server
	bootMap  files.Map
	running  *profile.File // the file the server settings came from
	dhcpConn dhcp.Conns
	tftpConn net.PacketConn
	httpLn   *guard.Listener
	ra       *ndp.Responder
	operator string // where the operator token came from
	ifindex  int
}

// Boot files by flavour and firmware, as named in Debian's ipxe package;
// arm64 binaries are not packaged by Debian and are used if put into the
// iPXE directory under these names.
var bootFiles = map[string]map[string]string{
	"snponly": {"bios": "undionly.kpxe", "efi-x86_64": "snponly.efi", "efi-arm64": "snponly-arm64.efi"},
	"ipxe":    {"bios": "ipxe.pxe", "efi-x86_64": "ipxe.efi", "efi-arm64": "ipxe-arm64.efi"},
}

// Quick returns the configuration of the quick start: every machine
// boots the build in artifacts, full DHCP (or proxy) on iface's own
// subnet, state in stateDir.
func Quick(iface, artifacts, dhcpMode, stateDir string) (*profile.File, error) {
	m, err := manifest.Load(artifacts)
	if err != nil {
		return nil, fmt.Errorf("--artifacts: %w", err)
	}
	abs, err := filepath.Abs(artifacts)
	if err != nil {
		return nil, err
	}
	if dhcpMode == "" {
		dhcpMode = "full"
	}
	return &profile.File{
		Server:   profile.Server{Interface: iface, TFTP: true, StateDir: stateDir},
		DHCP:     profile.DHCP{Mode: dhcpMode},
		Default:  "default",
		Profiles: map[string]*profile.Profile{"default": {Name: "default", Artifacts: abs, Manifest: m, IPXE: "snponly"}},
		Machines: map[string]*profile.Machine{},
	}, nil
}

// New checks the configuration against the host: the interface exists
// and has an IPv4 address, the DHCP pool lies in its subnet, the iPXE
// binaries are there. It opens the lease and boot state.
func New(cfg Config) (*Server, error) {
	f := cfg.File
	if f == nil {
		return nil, errors.New("netboot: no configuration")
	}
	s := &Server{cfg: cfg, log: cfg.Log, iface: f.Server.Interface, running: f}
	if s.log == nil {
		s.log = slog.Default()
	}
	// Every line the server logs is bounded, whatever a client sent.
	s.log = slog.New(logline.Bound(s.log.Handler()))
	if s.iface == "" {
		return nil, errors.New("netboot: no interface: set server.interface in the configuration or pass --iface")
	}
	if err := s.do(s.lookupInterface); err != nil {
		return nil, err
	}
	if err := s.checkReservations(f); err != nil {
		return nil, err
	}
	ipxeDir := f.Server.IPXEDir
	if ipxeDir == "" {
		ipxeDir = DefaultIPXEDir
	}
	s.bootMap = files.Map{}
	for _, byFirmware := range bootFiles {
		for _, name := range byFirmware {
			if st, err := os.Stat(filepath.Join(ipxeDir, name)); err == nil && st.Mode().IsRegular() {
				s.bootMap[name] = filepath.Join(ipxeDir, name)
			}
		}
	}
	if _, ok := s.bootMap["undionly.kpxe"]; !ok {
		if _, ok := s.bootMap["snponly.efi"]; !ok {
			return nil, fmt.Errorf("netboot: no iPXE binaries in %s (undionly.kpxe, snponly.efi): apt-get install ipxe, or set server.ipxe_dir", ipxeDir)
		}
	}
	stateDir := f.Server.StateDir
	if stateDir == "" {
		stateDir = "netboot-state"
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("netboot: state directory: %w", err)
	}
	var err error
	if s.store, err = profile.NewStore(f, stateDir); err != nil {
		return nil, err
	}
	s.events = &events.Log{Known: s.store.Known}
	tok := cfg.OperatorToken
	s.operator = "the caller (in-process)"
	if !tok.Valid() {
		path := f.Server.OperatorTokenFile
		if path == "" {
			path = filepath.Join(stateDir, "operator-token")
			var created bool
			if tok, created, err = operator.Ensure(path); err != nil {
				return nil, fmt.Errorf("netboot: %w", err)
			}
			if created {
				s.log.Info("netboot: created the operator token file: API calls that change boots need its content as Authorization: Bearer TOKEN", "file", path)
			}
		} else if tok, err = operator.Load(path); err != nil {
			return nil, fmt.Errorf("netboot: server.operator_token_file: %w", err)
		}
		s.operator = path
	}
	port := f.Server.HTTPPort
	if port == 0 {
		port = 8080
	}
	s.baseURL = fmt.Sprintf("http://%s:%d", s.addr, port)
	s.http = &httpboot.Server{
		Profiles:  s.store,
		Events:    s.events,
		BootFiles: s.bootMap,
		BaseURL:   s.baseURL,
		StateDir:  stateDir,
		Log:       s.log,
		Owns:      s.owns,
		Known:     s.store.Known,
		Operator:  tok,
		Limits:    cfg.Limits,
	}
	if f.Server.TFTP {
		s.tftp = &tftp.Server{Files: s.bootMap, Log: s.log, OnTransfer: s.tftpEvent}
		if cfg.NS != nil {
			s.tftp.DialUDP = cfg.NS.DialUDP
		}
	}
	switch f.DHCP.Mode {
	case "", "full", "proxy":
		mode := dhcp.Full
		if f.DHCP.Mode == "proxy" {
			mode = dhcp.Proxy
		}
		s.dhcp = &dhcp.Server{
			Mode:          mode,
			ServerIP:      s.addr,
			LeaseTime:     f.DHCP.LeaseTime,
			Policy:        policy{s},
			Log:           s.log,
			OnTransaction: s.dhcpEvent,
		}
		if mode == dhcp.Full {
			if s.dhcp.Subnets, err = s.subnets(f); err != nil {
				return nil, err
			}
			if s.leases, err = dhcp.OpenLeases(filepath.Join(stateDir, "leases.jsonl")); err != nil {
				return nil, err
			}
			s.dhcp.Leases = s.leases
		}
		if err := s.dhcp.Check(); err != nil {
			return nil, err
		}
		if s.leases != nil && s.leases.Warning != "" {
			s.log.Warn("netboot: lease file: " + s.leases.Warning)
		}
	case "off":
	default:
		return nil, fmt.Errorf("netboot: dhcp mode %q: use full, proxy or off", f.DHCP.Mode)
	}
	if err := s.http.Open(); err != nil {
		return nil, fmt.Errorf("netboot: %w: repair or delete it (boots and results are forgotten)", err)
	}
	return s, nil
}

// owns reports whether ip is the address of the machine with mac on the
// boot network: in full DHCP mode, the address of its active lease; in
// proxy mode (and with DHCP off), where another server gave the address,
// the kernel's neighbour (ARP) table of the boot interface, which holds
// the MAC that the TCP connection from ip came from.
func (s *Server) owns(mac net.HardwareAddr, ip netip.Addr) bool {
	if s.leases != nil {
		l, ok := s.leases.ByMAC(mac)
		return ok && l.IP == ip && l.Active(time.Now())
	}
	who, ok := s.neighbor(ip)
	return ok && who == mac.String()
}

func (s *Server) do(f func() error) error {
	if s.cfg.NS != nil {
		return s.cfg.NS.Do(f)
	}
	return f()
}

// lookupInterface finds the interface, its index and our address.
func (s *Server) lookupInterface() error {
	ifc, err := net.InterfaceByName(s.iface)
	if err != nil {
		return dhcp.InterfaceError(s.iface, err)
	}
	s.ifindex = ifc.Index
	addrs, err := ifc.Addrs()
	if err != nil {
		return fmt.Errorf("interface %s: %w", s.iface, err)
	}
	want := s.running.Server.Address
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !ip.Unmap().Is4() {
			continue
		}
		ip = ip.Unmap()
		ones, _ := ipn.Mask.Size()
		if want.IsValid() && ip != want {
			continue
		}
		s.addr, s.prefix = ip, netip.PrefixFrom(ip, ones).Masked()
		break
	}
	if !s.addr.IsValid() {
		if want.IsValid() {
			return fmt.Errorf("interface %s does not have the address %v (server.address): add it (ip addr add %v/24 dev %s) or change server.address", s.iface, want, want, s.iface)
		}
		return fmt.Errorf("interface %s has no IPv4 address: give it the boot network's address, e.g. ip addr add 10.0.0.1/24 dev %s", s.iface, s.iface)
	}
	if flags := ifc.Flags; flags&net.FlagUp == 0 {
		s.log.Warn("netboot: interface is down", "interface", s.iface)
	}
	return nil
}

// subnets derives the full-mode subnets: the interface's, with the
// configured pool or its upper half, and the relayed ones.
func (s *Server) subnets(f *profile.File) ([]dhcp.Subnet, error) {
	local := dhcp.Subnet{Prefix: s.prefix, Router: f.DHCP.Router, DNS: f.DHCP.DNS, DomainName: f.DHCP.DomainName,
		Start: f.DHCP.PoolStart, End: f.DHCP.PoolEnd}
	if !local.Start.IsValid() {
		local.Start, local.End = upperHalf(s.prefix)
		if !local.Start.IsValid() {
			return nil, fmt.Errorf("netboot: %s's subnet %v is too small for a pool: set dhcp.pool", s.iface, s.prefix)
		}
	}
	if !s.prefix.Contains(local.Start) || !s.prefix.Contains(local.End) {
		return nil, fmt.Errorf("netboot: dhcp.pool %v-%v is not inside %s's subnet %v: pick a range of %v", local.Start, local.End, s.iface, s.prefix, s.prefix)
	}
	subs := []dhcp.Subnet{local}
	for _, r := range f.DHCP.Relays {
		subs = append(subs, dhcp.Subnet{Prefix: r.Subnet, Start: r.PoolStart, End: r.PoolEnd, Router: r.Router, DNS: r.DNS, Agents: r.Agents})
	}
	for i := range subs {
		if err := subs[i].Check(); err != nil {
			return nil, fmt.Errorf("netboot: %w", err)
		}
	}
	return subs, nil
}

// upperHalf returns the upper half of a subnet's host addresses, below
// the broadcast address.
func upperHalf(p netip.Prefix) (netip.Addr, netip.Addr) {
	if p.Bits() > 29 {
		return netip.Addr{}, netip.Addr{}
	}
	base := p.Masked().Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	size := uint32(1) << (32 - p.Bits())
	from := func(v uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return from(n + size/2), from(n + size - 2)
}

// checkReservations refuses reserved addresses outside every subnet.
func (s *Server) checkReservations(f *profile.File) error {
	if f.DHCP.Mode == "proxy" || f.DHCP.Mode == "off" {
		return nil
	}
	for mac, m := range f.Machines {
		if !m.IP.IsValid() || s.prefix.Contains(m.IP) {
			continue
		}
		inRelay := false
		for _, r := range f.DHCP.Relays {
			inRelay = inRelay || r.Subnet.Contains(m.IP)
		}
		if !inRelay {
			return fmt.Errorf("%s: machines.%s.ip: %v is outside %s's subnet %v and the relayed subnets: pick an address of %v", f.Path, mac, m.IP, s.iface, s.prefix, s.prefix)
		}
	}
	return nil
}

// Listen opens every socket: DHCP on 67 (and 4011), TFTP on 69 and
// HTTP, each bound to the boot network. Errors say which port is taken
// or needs privileges.
func (s *Server) Listen() error {
	err := s.do(func() error {
		if s.dhcp != nil {
			c, err := dhcp.Listen(s.iface, s.addr, true)
			if err != nil {
				return err
			}
			s.dhcpConn = c
		}
		if s.tftp != nil {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: s.addr.AsSlice(), Port: 69})
			if err != nil {
				return dhcp.PortError("tftp", s.iface, netip.AddrPortFrom(s.addr, 69), err)
			}
			s.tftpConn = c
		}
		port := s.running.Server.HTTPPort
		if port == 0 {
			port = 8080
		}
		ln, err := net.Listen("tcp4", netip.AddrPortFrom(s.addr, uint16(port)).String())
		if err != nil {
			return dhcp.PortError("http", s.iface, netip.AddrPortFrom(s.addr, uint16(port)), err)
		}
		s.httpLn = guard.Listen(ln, s.cfg.HTTPLimits, s.log)
		if !s.running.Server.NoIPv6RA {
			ra, err := ndp.Listen(s.iface, s.log)
			if err != nil {
				// Only a speed-up: boots work without it.
				s.log.Warn("netboot: not answering IPv6 router solicitations; iPXE waits ~16 s for IPv6 on each boot", "err", err)
			}
			s.ra = ra
		}
		return nil
	})
	if err != nil {
		s.closeListeners()
	}
	return err
}

func (s *Server) closeListeners() {
	s.dhcpConn.Close()
	if s.tftpConn != nil {
		s.tftpConn.Close()
	}
	if s.httpLn != nil {
		s.httpLn.Close()
	}
}

// Serve runs the servers until ctx ends, reloading the configuration
// file when it changes. Listen must have succeeded.
func (s *Server) Serve(ctx context.Context) error {
	if s.httpLn == nil {
		return errors.New("netboot: Serve before Listen")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	if s.dhcp != nil {
		run("dhcp", func() error { return s.dhcp.Serve(ctx, s.dhcpConn) })
	}
	if s.tftp != nil {
		run("tftp", func() error { return s.tftp.Serve(ctx, s.tftpConn) })
	}
	if s.ra != nil {
		run("ndp", func() error { return s.ra.Serve(ctx) })
	}
	hs := guard.HTTPServer(s.http, s.httpLn, s.log)
	run("http", func() error {
		if err := hs.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if path := s.running.Path; path != "" && s.cfg.ReloadInterval >= 0 {
		run("reload", func() error {
			profile.Watch(ctx, path, s.running, s.cfg.ReloadInterval, s.reload)
			return nil
		})
	}
	f := s.running
	s.log.Info("netboot serving", "interface", s.iface, "address", s.addr.String(), "dhcp", dhcpMode(f),
		"tftp", s.tftp != nil, "http", s.baseURL, "profiles", len(f.Profiles), "machines", len(f.Machines), "default", f.Default,
		"operator_token", s.operator)
	<-ctx.Done()
	shut, done := context.WithTimeout(context.Background(), 5*time.Second)
	hs.Shutdown(shut)
	done()
	wg.Wait()
	hs.Close()
	s.http.Close()
	if s.leases != nil {
		s.leases.Close()
	}
	close(errc)
	return <-errc
}

func dhcpMode(f *profile.File) string {
	if f.DHCP.Mode == "" {
		return "full"
	}
	return f.DHCP.Mode
}

// Run is Listen and Serve.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// reload installs a changed configuration file's boot assignments.
func (s *Server) reload(f *profile.File, err error) {
	if err == nil {
		err = s.checkReservations(f)
	}
	if s.cfg.OnReload != nil {
		defer func() { s.cfg.OnReload(err) }()
	}
	if err != nil {
		s.log.Error("netboot: configuration not reloaded, still serving the previous one", "err", err)
		return
	}
	old := s.running
	if fmt.Sprint(old.Server) != fmt.Sprint(f.Server) || fmt.Sprint(old.DHCP) != fmt.Sprint(f.DHCP) {
		s.log.Warn("netboot: server or dhcp settings changed: restart to apply them; profiles and machines are reloaded now")
	}
	s.store.Replace(f)
	s.log.Info("netboot: configuration reloaded", "file", f.Path, "profiles", len(f.Profiles), "machines", len(f.Machines), "default", f.Default)
}

// BaseURL is the HTTP server's URL as machines reach it.
func (s *Server) BaseURL() string { return s.baseURL }

// Addr is the server's address on the boot network.
func (s *Server) Addr() netip.Addr { return s.addr }

// Events is the boot-event log.
func (s *Server) Events() *events.Log { return s.events }

// Leases is the lease database (nil unless in full DHCP mode).
func (s *Server) Leases() *dhcp.Leases { return s.leases }

// Profiles is the boot state. Its SetNext and ClearNext are the
// in-process form of the operator's API calls.
func (s *Server) Profiles() *profile.Store { return s.store }

// HTTP is the HTTP side: its Boots and Results are the in-process form
// of the API's boot views and the operator's results call.
func (s *Server) HTTP() *httpboot.Server { return s.http }

// HTTPStats counts the HTTP server's connections.
func (s *Server) HTTPStats() guard.Stats {
	if s.httpLn == nil {
		return guard.Stats{}
	}
	return s.httpLn.Stats()
}

// dhcpEvent files a DHCP transaction under its machine.
func (s *Server) dhcpEvent(tx dhcp.Transaction) {
	if tx.Reply == "" && tx.Arch < 0 && !tx.IPXE && (s.dhcp.Mode == dhcp.Proxy || tx.Note == "") {
		return // not a netboot client's business with us
	}
	if tx.ClientIP.IsValid() {
		s.events.Seen(tx.MAC, tx.ClientIP)
	}
	detail := tx.Request + " -> " + tx.Reply
	if tx.Reply == "" {
		detail = tx.Request + " (no reply)"
	}
	if tx.Firmware != "" {
		detail += " " + tx.Firmware
	}
	if tx.IPXE {
		detail += " ipxe"
	}
	if tx.Boot != "" {
		detail += " boot " + tx.Boot
	}
	if tx.Port == dhcp.PXEPort {
		detail += " (port 4011)"
	}
	if tx.Note != "" {
		detail += ": " + tx.Note
	}
	e := events.Event{Time: tx.Time, MAC: tx.MAC, Kind: events.DHCP, Detail: detail}
	if tx.IP.IsValid() && tx.Reply == "ACK" {
		e.IP = tx.IP.String()
	}
	s.events.Add(e)
}

// tftpEvent files a TFTP transfer under the machine at its address.
func (s *Server) tftpEvent(t tftp.Transfer) {
	ip := t.Client.Addr().Unmap()
	mac, ok := s.events.Who(ip)
	if !ok {
		mac, ok = s.neighbor(ip)
	}
	if !ok {
		mac = "unknown"
	}
	e := events.Event{MAC: mac, Kind: events.TFTP, IP: ip.String(),
		Detail: fmt.Sprintf("%s: %d bytes in %v (blksize %d, windowsize %d)", t.File, t.Bytes, t.Duration.Round(time.Millisecond), t.BlockSize, t.WindowSize)}
	if t.Probe {
		e.Detail = fmt.Sprintf("%s: size probe (%d bytes)", t.File, t.Size)
	}
	if t.Err != nil {
		e.Err = t.Err.Error()
	}
	s.events.Add(e)
}

// neighbor looks an address up in the kernel's neighbour (ARP) table
// of the boot interface: in proxy mode another server gave the address,
// so only the network knows whose it is.
func (s *Server) neighbor(ip netip.Addr) (string, bool) {
	var mac string
	s.do(func() error {
		neighs, err := netlink.NeighList(s.ifindex, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, n := range neighs {
			if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip && len(n.HardwareAddr) == 6 {
				mac = n.HardwareAddr.String()
			}
		}
		return nil
	})
	return mac, mac != ""
}

// policy answers the DHCP server's questions from the profiles.
type policy struct{ s *Server }

func (p policy) Boot(c *dhcp.Client) (dhcp.Boot, bool) {
	res := p.s.store.Resolve(c.MAC)
	if !res.Served {
		return dhcp.Boot{}, false
	}
	if res.Profile == nil || res.Profile.Manifest == nil {
		return dhcp.Boot{Note: "boots from local disk (" + res.Source + ")"}, true
	}
	fw := c.Firmware()
	if arch := res.Profile.Manifest.Arch; fw != "" && !firmwareRuns(fw, arch) {
		return dhcp.Boot{Note: fmt.Sprintf("profile %s is an %s build, the machine's firmware is %s", res.Profile.Name, arch, fw)}, true
	}
	if c.IPXE {
		return dhcp.Boot{File: p.s.http.ScriptURL(c.MAC)}, true
	}
	http := false
	switch fw {
	case "efi-x86_64-http":
		fw, http = "efi-x86_64", true
	case "efi-arm64-http":
		fw, http = "efi-arm64", true
	}
	name := bootFiles[res.Profile.IPXE][fw]
	if name == "" {
		return dhcp.Boot{Note: fmt.Sprintf("no iPXE for firmware %q (arch %d)", fw, c.Arch)}, true
	}
	if _, ok := p.s.bootMap[name]; !ok {
		return dhcp.Boot{Note: fmt.Sprintf("%s is not in the iPXE directory", name)}, true
	}
	if http {
		return dhcp.Boot{File: p.s.http.BootFileURL(name)}, true
	}
	if p.s.tftp == nil {
		return dhcp.Boot{Note: "TFTP is off (server.tftp: false): PXE clients cannot load " + name}, true
	}
	return dhcp.Boot{File: name}, true
}

// firmwareRuns reports whether firmware can boot a build of arch.
func firmwareRuns(fw, arch string) bool {
	switch fw {
	case "bios", "efi-x86_64", "efi-x86_64-http":
		return arch == "amd64"
	case "efi-arm64", "efi-arm64-http":
		return arch == "arm64"
	}
	return false
}

func (p policy) Reservation(mac net.HardwareAddr) (netip.Addr, bool) {
	m, ok := p.s.store.Reservation(mac)
	if !ok {
		return netip.Addr{}, false
	}
	return m.IP, true
}

func (p policy) ReservedFor(ip netip.Addr) (net.HardwareAddr, bool) {
	m, ok := p.s.store.ReservedFor(ip)
	if !ok {
		return nil, false
	}
	return m.MAC, true
}
