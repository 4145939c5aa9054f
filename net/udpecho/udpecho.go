//rl:domain

// Package udpecho is a UDP echo service (RFC 862) as a domain, over any
// NIC (an idl.Net): it answers ARP requests for its IPv4 address, sends
// every UDP datagram to its port back where it came from, and answers
// ICMP echo requests (ping). It is the smallest thing that shows a NIC
// driver domain working end to end: a datagram from a host on the other
// side of the wire comes back.
//
// One thread polls the NIC: a batch of receive buffers goes in, the
// frames that come back are answered in place (addresses swapped, the
// same buffer) and go out in one transmit batch, and the buffers return
// to the receive batch. Nothing is allocated per packet. An idle poll
// sleeps (Config.Idle) so as not to take a CPU from the rest of the
// machine.
package udpecho

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name the service registers under.
const Kind = "udpecho"

// Grant names.
const (
	GrantNet    = "net"    // the NIC, an idl.Net (required)
	GrantConfig = "config" // a Config (optional)
)

// Config configures the service; zero fields get the defaults.
type Config struct {
	Addr      [4]byte // IPv4 address (default 10.0.2.15, QEMU's user network)
	PrefixLen uint8   // of its network (default 24); for reports only
	Port      uint16  // UDP port echoed (default 7)
	Queue     uint16  // the NIC's queue
	Batch     int     // packets per batch (default 32)
	Idle      time.Duration
}

// Defaults of Config.
var (
	DefaultAddr = [4]byte{10, 0, 2, 15}
)

const (
	defaultPort  = 7
	defaultBatch = 32
	defaultIdle  = time.Millisecond
)

func (c Config) withDefaults() Config {
	if c.Addr == [4]byte{} {
		c.Addr, c.PrefixLen = DefaultAddr, 24
	}
	if c.PrefixLen == 0 || c.PrefixLen > 32 {
		c.PrefixLen = 24
	}
	if c.Port == 0 {
		c.Port = defaultPort
	}
	if c.Batch <= 0 {
		c.Batch = defaultBatch
	}
	if c.Idle <= 0 {
		c.Idle = defaultIdle
	}
	return c
}

func init() {
	domain.Register(Kind, New)
}

// Echo is the service.
type Echo struct {
	ctx *domain.Context
	nic idl.Net
	cfg Config
	mac [6]byte

	echoed, arps, pings, ignored, dropped atomic.Uint64
}

// New is the constructor of the domain: it imports the NIC, reads its
// address and starts the polling thread.
func New(ctx *domain.Context) (idl.UDPEcho, error) {
	nic, err := domain.Import[idl.Net](ctx, GrantNet)
	if err != nil {
		return nil, err
	}
	cfg, _ := domain.Device[Config](ctx, GrantConfig)
	e := &Echo{ctx: ctx, nic: nic, cfg: cfg.withDefaults()}
	link, err := nic.LinkStatus()
	if err != nil {
		return nil, err
	}
	e.mac = link.MAC
	a := e.cfg.Addr
	ctx.Logf("%d.%d.%d.%d/%d port %d on %02x:%02x:%02x:%02x:%02x:%02x (link up %v)",
		a[0], a[1], a[2], a[3], e.cfg.PrefixLen, e.cfg.Port, e.mac[0], e.mac[1], e.mac[2], e.mac[3], e.mac[4], e.mac[5], link.Up)
	ctx.Spawn("poll", e.run)
	return e, nil
}

// EchoStats implements idl.UDPEcho.
func (e *Echo) EchoStats() (idl.EchoStats, error) {
	return idl.EchoStats{
		Addr: e.cfg.Addr, PrefixLen: e.cfg.PrefixLen, Port: e.cfg.Port,
		Echoed: e.echoed.Load(), ARPReplies: e.arps.Load(), Pings: e.pings.Load(),
		Ignored: e.ignored.Load(), Dropped: e.dropped.Load(),
	}, nil
}

// run is the polling thread. It ends with the domain.
func (e *Echo) run() {
	heap := e.ctx.Heap()
	rx, tx := e.newBatches(heap)
	failing := false
	for {
		got, n, err := e.nic.RxBatch(e.cfg.Queue, rx)
		rx = returned(got, rx)
		if err == nil && n > 0 {
			e.answer(rx, tx)
			if tx.Len() > 0 {
				got, _, err = e.nic.TxBatch(e.cfg.Queue, tx)
				if tx = returned(got, tx); tx.Valid() && rx.Valid() {
					e.recycle(tx, rx)
				}
			}
		}
		if err != nil {
			if !failing {
				e.ctx.Logf("the NIC failed: %v; retrying", err)
			}
			failing = true
			if !rx.Valid() || !tx.Valid() { // lost with a dead driver
				rref.DiscardDeque(rx)
				rref.DiscardDeque(tx)
				rx, tx = e.newBatches(heap)
			}
			e.ctx.Sleep(100 * time.Millisecond)
			continue
		}
		if failing {
			e.ctx.Logf("the NIC works again")
			failing = false
		}
		if n == 0 {
			e.ctx.Sleep(e.cfg.Idle)
		}
	}
}

// returned is the handle of a batch after a call that took orig: the
// one the call returned, or, when the callee failed, orig, which the proxy
// gave back if it could (if not, neither is valid).
func returned(got, orig rref.Deque[idl.Packet]) rref.Deque[idl.Packet] {
	if got.Valid() {
		return got
	}
	return orig
}

// newBatches makes the receive batch, full of free packets, and the
// (empty) transmit batch.
func (e *Echo) newBatches(heap *rref.Account) (rx, tx rref.Deque[idl.Packet]) {
	rx = rref.NewDeque[idl.Packet](heap, e.cfg.Batch)
	tx = rref.NewDeque[idl.Packet](heap, e.cfg.Batch)
	for range e.cfg.Batch {
		rx.PushBack(rref.New(heap, idl.Packet{}))
	}
	return rx, tx
}

// answer turns each received frame that asks for an answer into it, in
// place, and moves it to tx; the other buffers are freed and stay in rx.
func (e *Echo) answer(rx, tx rref.Deque[idl.Packet]) {
	for i := rx.Len(); i > 0; i-- {
		r, _ := rx.PopFront()
		p := r.Get()
		if p.Len > 0 && e.reply(p) {
			tx.PushBack(r)
			continue
		}
		if p.Len > 0 {
			e.ignored.Add(1)
		}
		p.Len = 0
		rx.PushBack(r)
	}
}

// recycle moves the packets of tx back to rx, dropping the replies the
// NIC had no room for (an echo is best effort).
func (e *Echo) recycle(tx, rx rref.Deque[idl.Packet]) {
	for {
		r, ok := tx.PopFront()
		if !ok {
			return
		}
		if p := r.Get(); p.Len != 0 {
			e.dropped.Add(1)
			p.Len = 0
		}
		rx.PushBack(r)
	}
}

// Frame layout.
const (
	ethLen       = 14
	etherARP     = 0x0806
	etherIPv4    = 0x0800
	protoICMP    = 1
	protoUDP     = 17
	minFrame     = 60 // without the CRC
	arpLen       = 28
	icmpEchoReq  = 8
	icmpEchoRepl = 0
)

// reply rewrites the frame of p into the answer to it and reports whether
// there is one.
func (e *Echo) reply(p *idl.Packet) bool {
	n := int(p.Len)
	if n < ethLen || n > idl.MaxFrame { // a reply as long would not be sent
		return false
	}
	f := p.Data[:n]
	switch binary.BigEndian.Uint16(f[12:]) {
	case etherARP:
		return e.arp(p, f)
	case etherIPv4:
		return e.ipv4(p, f)
	}
	return false
}

// arp answers a request for the service's address.
func (e *Echo) arp(p *idl.Packet, f []byte) bool {
	if len(f) < ethLen+arpLen {
		return false
	}
	a := f[ethLen:]
	// Ethernet (1), IPv4, 6- and 4-byte addresses, a request (1).
	if binary.BigEndian.Uint16(a[0:]) != 1 || binary.BigEndian.Uint16(a[2:]) != etherIPv4 ||
		a[4] != 6 || a[5] != 4 || binary.BigEndian.Uint16(a[6:]) != 1 || [4]byte(a[24:28]) != e.cfg.Addr {
		return false
	}
	var sha [6]byte
	var spa [4]byte
	copy(sha[:], a[8:14])
	copy(spa[:], a[14:18])
	binary.BigEndian.PutUint16(a[6:], 2) // reply
	copy(a[8:14], e.mac[:])
	copy(a[14:18], e.cfg.Addr[:])
	copy(a[18:24], sha[:])
	copy(a[24:28], spa[:])
	copy(f[0:6], sha[:])
	copy(f[6:12], e.mac[:])
	clear(p.Data[ethLen+arpLen : minFrame])
	p.Len = minFrame
	e.arps.Add(1)
	return true
}

// ipv4 answers a UDP datagram to the echo port or an ICMP echo request
// addressed to the service: the same packet, back to its sender.
func (e *Echo) ipv4(p *idl.Packet, f []byte) bool {
	ip := f[ethLen:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return false
	}
	ihl := int(ip[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ihl < 20 || total < ihl || total > len(ip) || checksum(ip[:ihl]) != 0 ||
		binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 || // a fragment
		[4]byte(ip[16:20]) != e.cfg.Addr {
		return false
	}
	body := ip[ihl:total]
	switch ip[9] {
	case protoUDP:
		if len(body) < 8 || binary.BigEndian.Uint16(body[2:]) != e.cfg.Port {
			return false
		}
		// Swapping the ports (and below, the addresses) leaves the UDP
		// checksum as it is: the pseudo-header sum does not change.
		sp, dp := binary.BigEndian.Uint16(body[0:]), binary.BigEndian.Uint16(body[2:])
		binary.BigEndian.PutUint16(body[0:], dp)
		binary.BigEndian.PutUint16(body[2:], sp)
		e.echoed.Add(1)
	case protoICMP:
		if len(body) < 8 || body[0] != icmpEchoReq || checksum(body) != 0 {
			return false
		}
		body[0] = icmpEchoRepl
		body[2], body[3] = 0, 0
		binary.BigEndian.PutUint16(body[2:], checksum(body))
		e.pings.Add(1)
	default:
		return false
	}
	var src [4]byte
	copy(src[:], ip[12:16])
	copy(ip[12:16], ip[16:20])
	copy(ip[16:20], src[:])
	ip[8] = 64 // TTL
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], checksum(ip[:ihl]))
	copy(f[0:6], f[6:12])
	copy(f[6:12], e.mac[:])
	p.Len = uint16(max(ethLen+total, minFrame))
	if ethLen+total < minFrame {
		clear(p.Data[ethLen+total : minFrame])
	}
	return true
}

// checksum is the Internet checksum of b (RFC 1071): 0 over data that
// includes a correct checksum field.
func checksum(b []byte) uint16 {
	var sum uint32
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
