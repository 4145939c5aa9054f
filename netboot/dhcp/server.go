// Package dhcp is the DHCPv4 side of netboot, on
// github.com/insomniacslk/dhcp's server4. It runs in one of two modes:
//
//   - Full: the DHCP server of a boot network. It hands out addresses
//     from a pool per subnet (relay agents pick the subnet with giaddr),
//     honours per-MAC reservations, keeps leases in a journal on disk
//     so that a restarted server gives every client its address again,
//     lets leases expire, and handles DECLINE, RELEASE and INFORM.
//   - Proxy: proxyDHCP beside an existing DHCP server (PXE
//     specification, section 2.5). It answers only PXE, HTTP boot and
//     iPXE clients, with boot information and no address, on port 67,
//     and answers the boot server request that UEFI firmware sends to
//     port 4011.
//
// What a client boots is decided by a Policy from its MAC, its
// architecture (option 93), its class (option 60: PXEClient or
// HTTPClient) and whether it is iPXE already (user class 77), so that
// iPXE gets a script and not iPXE again.
package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// Mode is how the server takes part in DHCP.
type Mode string

// The modes.
const (
	Full  Mode = "full"
	Proxy Mode = "proxy"
)

// Ports.
const (
	ServerPort = 67
	ClientPort = 68
	PXEPort    = 4011
)

// Server answers DHCP requests. Set Mode, ServerIP and Policy; full mode
// also needs Subnets. The zero values of the other fields are defaults.
type Server struct {
	Mode Mode
	// ServerIP is this server's address on the boot network: the server
	// identifier, the next server (TFTP) and the address of port 4011.
	ServerIP netip.Addr
	// Subnets are the networks of full mode. Requests that were not
	// relayed use the one containing ServerIP (else the first);
	// relayed ones the one containing the relay's giaddr.
	Subnets []Subnet
	// LeaseTime is the lease length in full mode (default 1 h).
	LeaseTime time.Duration
	// DeclineTime is how long an address a client declined is kept out
	// of the pool (default 10 min).
	DeclineTime time.Duration
	// Leases is the lease database of full mode (default: in memory).
	Leases *Leases
	// Policy decides who is served and what they boot.
	Policy Policy
	// Log gets one line per transaction; nil means slog.Default().
	Log *slog.Logger
	// OnTransaction, if set, is called after each transaction.
	OnTransaction func(Transaction)
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time

	mu     sync.Mutex
	offers map[netip.Addr]offer // guarded by mu; addresses set aside for DISCOVERs
}

// Transaction is one request and what the server did about it.
type Transaction struct {
	Time     time.Time
	MAC      string
	Request  string // DHCP message type of the request, e.g. "DISCOVER"
	Reply    string // "OFFER", "ACK", "NAK" or "" for no reply
	IP       netip.Addr
	Firmware string // Client.Firmware
	Arch     int    // option 93, -1 if not sent
	IPXE     bool
	Class    string
	Boot     string // boot file or URL given
	Relay    netip.Addr
	ClientIP netip.Addr // ciaddr, if the client has an address
	Port     int        // 67 or 4011
	Note     string     // why there was no reply, or what went wrong
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Check validates the configuration.
func (s *Server) Check() error {
	if !s.ServerIP.Is4() {
		return fmt.Errorf("dhcp: server address %v is not IPv4", s.ServerIP)
	}
	if s.Policy == nil {
		return errors.New("dhcp: no Policy")
	}
	switch s.Mode {
	case Full:
		if len(s.Subnets) == 0 {
			return errors.New("dhcp: full mode needs at least one subnet")
		}
		for i := range s.Subnets {
			if err := s.Subnets[i].Check(); err != nil {
				return fmt.Errorf("dhcp: %w", err)
			}
		}
	case Proxy:
	default:
		return fmt.Errorf("dhcp: unknown mode %q (full, proxy)", s.Mode)
	}
	return nil
}

// Conns are the sockets a server answers on.
type Conns struct {
	// DHCP is port 67, bound to the served interface.
	DHCP net.PacketConn
	// PXE is port 4011 on ServerIP; nil to not serve it.
	PXE net.PacketConn
}

// Close closes both sockets.
func (c Conns) Close() error {
	var errs []error
	for _, pc := range []net.PacketConn{c.DHCP, c.PXE} {
		if pc != nil {
			errs = append(errs, pc.Close())
		}
	}
	return errors.Join(errs...)
}

// Serve answers requests on conns until ctx ends, then closes them. It
// returns early with the error if a socket fails.
func (s *Server) Serve(ctx context.Context, conns Conns) error {
	if err := s.Check(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, pc := range []net.PacketConn{conns.DHCP, conns.PXE} {
		if pc == nil {
			continue
		}
		port := ServerPort
		if a, ok := pc.LocalAddr().(*net.UDPAddr); ok {
			port = a.Port
		}
		srv, err := server4.NewServer("", nil, func(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
			s.serve(conn, peer, m, port)
		}, server4.WithConn(pc))
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("dhcp: port %d: %w", port, err)
				cancel()
			}
		}()
	}
	<-ctx.Done()
	conns.Close()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// serve handles one packet: server4 calls it on a goroutine of its own.
func (s *Server) serve(conn net.PacketConn, peer net.Addr, req *dhcpv4.DHCPv4, port int) {
	start := time.Now()
	up, _ := peer.(*net.UDPAddr)
	resp, dest, tx := s.Handle(req, up, port)
	if resp != nil && dest != nil {
		if _, err := conn.WriteTo(resp.ToBytes(), dest); err != nil {
			tx.Note = strings.TrimSpace(tx.Note + " send to " + dest.String() + " failed: " + err.Error())
		}
	}
	s.report(tx, time.Since(start))
}

func (s *Server) report(tx Transaction, d time.Duration) {
	level := slog.LevelInfo
	if tx.Reply == "" && s.Mode == Proxy && tx.Boot == "" {
		// Proxy mode sees all the network's DHCP traffic; what is not
		// a netboot client is not its business.
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{
		slog.String("mac", tx.MAC), slog.String("request", tx.Request), slog.String("reply", tx.Reply),
	}
	if tx.IP.IsValid() {
		attrs = append(attrs, slog.String("ip", tx.IP.String()))
	}
	if tx.Arch >= 0 {
		attrs = append(attrs, slog.Int("arch", tx.Arch), slog.String("firmware", tx.Firmware))
	}
	if tx.IPXE {
		attrs = append(attrs, slog.Bool("ipxe", true))
	}
	if tx.Boot != "" {
		attrs = append(attrs, slog.String("boot", tx.Boot))
	}
	if tx.Relay.IsValid() {
		attrs = append(attrs, slog.String("relay", tx.Relay.String()))
	}
	if tx.Port != ServerPort {
		attrs = append(attrs, slog.Int("port", tx.Port))
	}
	if tx.Note != "" {
		attrs = append(attrs, slog.String("note", tx.Note))
	}
	attrs = append(attrs, slog.String("duration", d.Round(time.Microsecond).String()))
	s.log().LogAttrs(context.Background(), level, "dhcp "+string(s.Mode), attrs...)
	if s.OnTransaction != nil {
		s.OnTransaction(tx)
	}
}

// Handle decides the reply to a request that arrived on port (67 or
// 4011) from peer, and where to send it; a nil reply means none. It is
// the whole protocol logic, without sockets.
func (s *Server) Handle(req *dhcpv4.DHCPv4, peer *net.UDPAddr, port int) (*dhcpv4.DHCPv4, *net.UDPAddr, Transaction) {
	now := s.now()
	tx := Transaction{Time: now, MAC: req.ClientHWAddr.String(), Request: msgType(req), Arch: -1, Port: port}
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		tx.Note = "not a request"
		return nil, nil, tx
	}
	if len(req.ClientHWAddr) != 6 || req.HWType != 1 {
		tx.Note = "not an Ethernet client"
		return nil, nil, tx
	}
	c := ParseClient(req)
	if c.Relay.IsValid() {
		if why := s.untrustedRelay(c.Relay, peer); why != "" {
			tx.Relay = c.Relay
			tx.Note = why
			return nil, nil, tx
		}
	}
	tx.Firmware, tx.IPXE, tx.Class, tx.Relay = c.Firmware(), c.IPXE, c.Class, c.Relay
	tx.ClientIP = addr(req.ClientIPAddr)
	if c.HasArch {
		tx.Arch = int(c.Arch)
	}
	boot, ok := s.Policy.Boot(c)
	if !ok {
		tx.Note = "not served: unknown machine"
		return nil, nil, tx
	}
	if c.Netboot() {
		tx.Boot = boot.File
	}
	var resp *dhcpv4.DHCPv4
	var err error
	switch {
	case port == PXEPort:
		resp, err = s.bootServer(req, c, boot, &tx)
	case s.Mode == Proxy:
		resp, err = s.proxy(req, c, boot, &tx)
	default:
		resp, err = s.full(req, c, boot, now, &tx)
	}
	if err != nil {
		tx.Note = err.Error()
	} else if c.Netboot() && boot.File == "" && boot.Note != "" {
		tx.Note = boot.Note
	}
	if resp == nil {
		tx.Boot = ""
		return nil, nil, tx
	}
	tx.Reply = strings.ToUpper(resp.MessageType().String())
	if ip, ok := netip.AddrFromSlice(resp.YourIPAddr); ok && !ip.Unmap().IsUnspecified() {
		tx.IP = ip.Unmap()
	}
	return resp, destination(req, resp, peer, port), tx
}

func msgType(m *dhcpv4.DHCPv4) string {
	t := m.MessageType()
	if t == dhcpv4.MessageTypeNone {
		return "BOOTP"
	}
	return strings.ToUpper(t.String())
}

// destination says where a reply goes (RFC 2131, section 4.1): to the
// relay if there is one; to the sender of a port 4011 request; to the
// client's address if it has one (renewing, INFORM), except for a NAK;
// else broadcast on the link.
func destination(req, resp *dhcpv4.DHCPv4, peer *net.UDPAddr, port int) *net.UDPAddr {
	if giaddr := req.GatewayIPAddr; giaddr != nil && !giaddr.IsUnspecified() {
		return &net.UDPAddr{IP: giaddr, Port: ServerPort}
	}
	if port == PXEPort && peer != nil && !peer.IP.Equal(net.IPv4bcast) {
		return peer
	}
	if ciaddr := req.ClientIPAddr; ciaddr != nil && !ciaddr.IsUnspecified() && resp.MessageType() != dhcpv4.MessageTypeNak {
		return &net.UDPAddr{IP: ciaddr, Port: ClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: ClientPort}
}

// proxy answers a DISCOVER of a netboot client with boot information
// and no address. Everything else is the real DHCP server's business.
func (s *Server) proxy(req *dhcpv4.DHCPv4, c *Client, boot Boot, tx *Transaction) (*dhcpv4.DHCPv4, error) {
	if !c.Netboot() {
		return nil, nil
	}
	if req.MessageType() != dhcpv4.MessageTypeDiscover {
		return nil, nil
	}
	if boot.File == "" {
		return nil, noBoot(boot)
	}
	return s.reply(req, dhcpv4.MessageTypeOffer, c, boot, proxyOffer)
}

// bootServer answers the request a PXE client sends to port 4011 after
// a proxyDHCP offer without a boot file or with PXE discovery, which is
// what UEFI firmware does: an ACK with the boot file and no address.
func (s *Server) bootServer(req *dhcpv4.DHCPv4, c *Client, boot Boot, tx *Transaction) (*dhcpv4.DHCPv4, error) {
	if !c.Netboot() {
		return nil, errors.New("not a netboot client")
	}
	switch req.MessageType() {
	case dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeInform:
	default:
		return nil, fmt.Errorf("%s on port %d ignored", msgType(req), PXEPort)
	}
	if boot.File == "" {
		return nil, noBoot(boot)
	}
	return s.reply(req, dhcpv4.MessageTypeAck, c, boot, proxyOffer)
}

func noBoot(b Boot) error {
	if b.Note != "" {
		return errors.New(b.Note)
	}
	return errors.New("no network boot for this machine (local boot)")
}

// full is the DHCP server proper.
func (s *Server) full(req *dhcpv4.DHCPv4, c *Client, boot Boot, now time.Time, tx *Transaction) (*dhcpv4.DHCPv4, error) {
	mac := c.MAC.String()
	sub := s.subnetFor(c, req)
	if sub == nil {
		return nil, fmt.Errorf("no subnet for relay %v", c.Relay)
	}
	a := &allocation{mac: mac, subnet: sub, now: now, taken: s.takenFor(mac, sub)}
	if r, ok := s.Policy.Reservation(c.MAC); ok {
		a.reserved = r
	}
	s.mu.Lock()
	if s.offers == nil {
		s.offers = map[netip.Addr]offer{}
	}
	if s.Leases == nil {
		s.Leases = NewLeases()
	}
	s.mu.Unlock()

	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		a.want = addr(req.RequestedIPAddress())
		s.mu.Lock()
		ip, err := s.Leases.offer(a, s.offers)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return s.reply(req, dhcpv4.MessageTypeOffer, c, boot, s.leaseOptions(sub, ip))

	case dhcpv4.MessageTypeRequest:
		if sid := addr(req.ServerIdentifier()); sid.IsValid() && sid != s.ServerIP {
			// The client took another server's offer.
			s.mu.Lock()
			for ip, o := range s.offers {
				if o.mac == mac {
					delete(s.offers, ip)
				}
			}
			s.mu.Unlock()
			return nil, fmt.Errorf("client chose server %v", sid)
		}
		ip := addr(req.RequestedIPAddress())
		if !ip.IsValid() {
			ip = addr(req.ClientIPAddr)
		}
		if !ip.IsValid() {
			return nil, errors.New("REQUEST names no address")
		}
		if !sub.Prefix.Contains(ip) {
			// A client back from another network: tell it to start over.
			return s.nak(req, fmt.Sprintf("%v is not on this network (%v)", ip, sub.Prefix))
		}
		s.mu.Lock()
		err := s.Leases.bind(a, ip, s.leaseTime(), req.HostName(), s.offers)
		s.mu.Unlock()
		if err != nil {
			return s.nak(req, err.Error())
		}
		return s.reply(req, dhcpv4.MessageTypeAck, c, boot, s.leaseOptions(sub, ip))

	case dhcpv4.MessageTypeDecline:
		ip := addr(req.RequestedIPAddress())
		if !ip.IsValid() {
			return nil, errors.New("DECLINE names no address")
		}
		until := now.Add(s.declineTime())
		s.mu.Lock()
		err := s.Leases.decline(a, ip, until, s.offers)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		tx.IP = ip
		return nil, fmt.Errorf("%v declined: out of the pool until %s", ip, until.Format(time.RFC3339))

	case dhcpv4.MessageTypeRelease:
		ip := addr(req.ClientIPAddr)
		s.mu.Lock()
		err := s.Leases.release(mac, ip, now)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		tx.IP = ip
		return nil, fmt.Errorf("%v released", ip)

	case dhcpv4.MessageTypeInform:
		return s.reply(req, dhcpv4.MessageTypeAck, c, boot, s.leaseOptions(sub, netip.Addr{}))
	}
	return nil, fmt.Errorf("%s ignored", msgType(req))
}

func addr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	a = a.Unmap()
	if !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

func (s *Server) leaseTime() time.Duration {
	if s.LeaseTime > 0 {
		return s.LeaseTime
	}
	return time.Hour
}

func (s *Server) declineTime() time.Duration {
	if s.DeclineTime > 0 {
		return s.DeclineTime
	}
	return 10 * time.Minute
}

// untrustedRelay says why a request naming a relay agent (giaddr) is not
// taken as relayed, or "" if it is. A relay agent sends from its own
// address and the server port, 67 (RFC 1542, section 4.1); a client
// sends from port 68, with no address or its own. So a packet with a
// giaddr that came from port 68, or from no address, is a client on the
// local link claiming a relay's subnet, and is dropped. Where the
// subnet lists its relay agents (Subnet.Agents), the packet must come
// from one of them: a host on the boot network that forges its source
// port cannot pass that.
func (s *Server) untrustedRelay(giaddr netip.Addr, peer *net.UDPAddr) string {
	if peer == nil {
		return "giaddr set on a packet of unknown origin: ignored"
	}
	src, ok := netip.AddrFromSlice(peer.IP)
	src = src.Unmap()
	if !ok || !src.Is4() || src.IsUnspecified() || src == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || peer.Port != ServerPort {
		return fmt.Sprintf("giaddr %v on a packet from %v, which is not a relay agent (relays send from their address and port %d): a client on the local link may not choose a relayed subnet", giaddr, peer, ServerPort)
	}
	for i := range s.Subnets {
		sub := &s.Subnets[i]
		if sub.Prefix.Contains(giaddr) && len(sub.Agents) > 0 && !slices.Contains(sub.Agents, src) {
			return fmt.Sprintf("giaddr %v on a packet from %v, which is not one of the subnet's relay agents %v", giaddr, src, sub.Agents)
		}
	}
	return ""
}

// subnetFor picks the subnet of a request: the relay's, or ours.
func (s *Server) subnetFor(c *Client, req *dhcpv4.DHCPv4) *Subnet {
	where := s.ServerIP
	if c.Relay.IsValid() {
		where = c.Relay
	}
	for i := range s.Subnets {
		if s.Subnets[i].Prefix.Contains(where) {
			return &s.Subnets[i]
		}
	}
	if c.Relay.IsValid() {
		return nil
	}
	return &s.Subnets[0]
}

// takenFor returns the addresses a client may not get besides leased
// ones: ours, the router's, and those reserved for other clients.
func (s *Server) takenFor(mac string, sub *Subnet) func(netip.Addr) bool {
	return func(ip netip.Addr) bool {
		if ip == s.ServerIP || ip == sub.Router {
			return true
		}
		if owner, ok := s.Policy.ReservedFor(ip); ok && owner.String() != mac {
			return true
		}
		return false
	}
}

// leaseOptions are the modifiers for an address (none for INFORM).
func (s *Server) leaseOptions(sub *Subnet, ip netip.Addr) func(*dhcpv4.DHCPv4) {
	return func(d *dhcpv4.DHCPv4) {
		if ip.IsValid() {
			d.YourIPAddr = ip.AsSlice()
			lt := s.leaseTime()
			d.UpdateOption(dhcpv4.OptIPAddressLeaseTime(lt))
			d.UpdateOption(dhcpv4.Option{Code: dhcpv4.OptionRenewTimeValue, Value: dhcpv4.Duration(lt / 2)})
			d.UpdateOption(dhcpv4.Option{Code: dhcpv4.OptionRebindingTimeValue, Value: dhcpv4.Duration(lt * 7 / 8)})
		}
		d.UpdateOption(dhcpv4.OptSubnetMask(sub.Mask()))
		d.UpdateOption(dhcpv4.OptBroadcastAddress(broadcast(sub.Prefix).AsSlice()))
		if sub.Router.IsValid() {
			d.UpdateOption(dhcpv4.OptRouter(sub.Router.AsSlice()))
		}
		if len(sub.DNS) > 0 {
			ips := make([]net.IP, len(sub.DNS))
			for i, a := range sub.DNS {
				ips[i] = a.AsSlice()
			}
			d.UpdateOption(dhcpv4.OptDNS(ips...))
		}
		if sub.DomainName != "" {
			d.UpdateOption(dhcpv4.OptDomainName(sub.DomainName))
		}
	}
}

// proxyOffer marks a proxyDHCP reply: no address.
func proxyOffer(*dhcpv4.DHCPv4) {}

// reply builds a reply with the boot information a netboot client
// needs.
func (s *Server) reply(req *dhcpv4.DHCPv4, t dhcpv4.MessageType, c *Client, boot Boot, extra func(*dhcpv4.DHCPv4)) (*dhcpv4.DHCPv4, error) {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(t),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.ServerIP.AsSlice())),
		extra,
	)
	if err != nil {
		return nil, err
	}
	if c.Netboot() && boot.File != "" {
		withBoot(resp, req, c, boot, s.ServerIP)
	}
	return resp, nil
}

// nak builds a NAK.
func (s *Server) nak(req *dhcpv4.DHCPv4, why string) (*dhcpv4.DHCPv4, error) {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.ServerIP.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptMessage(why)),
	)
	if err != nil {
		return nil, err
	}
	return resp, errors.New(why)
}
