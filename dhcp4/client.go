package dhcp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// A State is where the client is in RFC 2131's state machine (figure 5).
type State uint8

// The states. INIT-REBOOT and REBOOTING are not used: the client starts
// from INIT every time.
const (
	StateInit       State = iota // about to send a DISCOVER
	StateSelecting               // DISCOVER sent, waiting for an OFFER
	StateRequesting              // REQUEST for an offer sent, waiting for the ACK
	StateBound                   // holding a lease, until T1
	StateRenewing                // T1 passed: asking the server that gave the lease (unicast)
	StateRebinding               // T2 passed: asking any server (broadcast)
)

var stateNames = [...]string{"init", "selecting", "requesting", "bound", "renewing", "rebinding"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state %d", uint8(s))
}

// An Event is what the caller must act on after Input or Poll.
type Event uint8

// The events.
const (
	EventNone    Event = iota
	EventBound         // a lease for a new address: configure Lease()
	EventRenewed       // the lease of the address in use was extended (router and prefix unchanged)
	EventLost          // the lease expired or a server refused it: drop the address
)

var eventNames = [...]string{"none", "bound", "renewed", "lost"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return fmt.Sprintf("event %d", uint8(e))
}

// Config configures a Client. Zero values take the defaults.
type Config struct {
	MAC   [6]byte // the interface's address (required)
	Class string  // vendor class identifier, option 60 (default ClassID; at most 64 bytes)
	// Seed spreads the transaction ids and the retransmission jitter;
	// give each client a random one.
	Seed uint64
	// Retry is the first retransmission delay of a DISCOVER or REQUEST;
	// it doubles each time up to MaxRetry, with a random ±1/8 (RFC 2131,
	// section 4.1: 4 s, doubling to 64 s).
	Retry, MaxRetry time.Duration
	// Requests is how many times a REQUEST for an offer is sent before
	// the client starts over with a DISCOVER (default 4).
	Requests int
	// MinRenew is the shortest wait between REQUESTs while renewing or
	// rebinding (default 60 s, RFC 2131, section 4.4.5).
	MinRenew time.Duration
	// Broadcast sets the BROADCAST flag in DISCOVERs and REQUESTs for
	// an offer: for a client that cannot receive unicast before it has
	// an address.
	Broadcast bool
}

// A Lease is an address and what comes with it, from an ACK.
type Lease struct {
	Addr      [4]byte
	PrefixLen int     // from the subnet mask (option 1), else the address's class
	Router    [4]byte // the first router of option 3 on the subnet (zero: none)
	Server    [4]byte // the server identifier (option 54)
	// Time is the lease's length; T1 and T2 are when renewing and
	// rebinding start, all counted from Start. Infinite leases are never
	// renewed.
	Time, T1, T2 time.Duration
	Infinite     bool
	// Start is when the REQUEST that got the ACK was sent, on the
	// caller's clock (RFC 2131, section 4.4.1).
	Start time.Duration
}

// Remaining is how long the lease still runs at now (0 once it expired;
// a day for infinite leases is not special: it returns the maximum).
func (l Lease) Remaining(now time.Duration) time.Duration {
	if l.Infinite {
		return time.Duration(1<<63 - 1)
	}
	return max(l.Start+l.Time-now, 0)
}

// Reasons Input ignores a datagram (compare with errors.Is).
var (
	ErrNotOurs    = errors.New("dhcp4: not a BOOTREPLY for our hardware address")
	ErrXid        = errors.New("dhcp4: transaction id is not the one of our outstanding request")
	ErrUnexpected = errors.New("dhcp4: message type not expected in this state")
	ErrBadOffer   = errors.New("dhcp4: unusable OFFER")
	ErrBadAck     = errors.New("dhcp4: unusable ACK")
)

// A Client is one interface's DHCP client. It is not safe for concurrent
// use; one thread drives it (see the package doc).
type Client struct {
	cfg   Config
	state State
	xid   uint32
	rng   uint64

	next    time.Duration // when Poll sends next (not in StateBound)
	tries   int           // messages sent in this state
	started time.Duration // when this exchange began (the secs field)
	sentAt  time.Duration // when the last REQUEST went out

	offerAddr, offerServer [4]byte

	lease    Lease
	hasLease bool
}

// New makes a client in StateInit: its first Poll sends a DISCOVER.
func New(cfg Config) (*Client, error) {
	if cfg.MAC == ([6]byte{}) || cfg.MAC[0]&1 != 0 {
		return nil, fmt.Errorf("dhcp4: Config.MAC %x is not a unicast Ethernet address", cfg.MAC)
	}
	if cfg.Class == "" {
		cfg.Class = ClassID
	}
	if len(cfg.Class) > 64 {
		return nil, fmt.Errorf("dhcp4: Config.Class is %d bytes long; at most 64", len(cfg.Class))
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 4 * time.Second
	}
	if cfg.MaxRetry <= 0 {
		cfg.MaxRetry = 64 * time.Second
	}
	if cfg.MaxRetry < cfg.Retry {
		return nil, fmt.Errorf("dhcp4: Config.MaxRetry %v is below Retry %v", cfg.MaxRetry, cfg.Retry)
	}
	if cfg.Requests <= 0 {
		cfg.Requests = 4
	}
	if cfg.MinRenew <= 0 {
		cfg.MinRenew = 60 * time.Second
	}
	return &Client{cfg: cfg, rng: cfg.Seed ^ 0x6a09e667f3bcc909}, nil
}

// State is the client's state.
func (c *Client) State() State { return c.state }

// Lease returns the lease held (ok false if none).
func (c *Client) Lease() (Lease, bool) { return c.lease, c.hasLease }

// Xid is the transaction id of the outstanding request.
func (c *Client) Xid() uint32 { return c.xid }

// random is splitmix64 over the seed: spread, not secrecy (a
// transaction id only has to differ from other clients').
func (c *Client) random() uint64 {
	c.rng += 0x9e3779b97f4a7c15
	z := c.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// backoff is the wait after the try-th transmission: Retry doubled per
// try up to MaxRetry, ±1/8 at random.
func (c *Client) backoff(try int) time.Duration {
	d := c.cfg.MaxRetry
	if try-1 < 62-bits.Len64(uint64(c.cfg.Retry)) {
		d = min(c.cfg.Retry<<(try-1), c.cfg.MaxRetry)
	}
	j := d / 8
	if j > 0 {
		d += time.Duration(c.random()%uint64(2*j+1)) - j
	}
	return d
}

// Next is when the client next needs Poll: a retransmission, T1, T2 or
// the lease's end.
func (c *Client) Next() time.Duration {
	t := c.next
	switch c.state {
	case StateBound:
		if c.lease.Infinite {
			return time.Duration(1<<63 - 1)
		}
		t = c.lease.Start + c.lease.T1
	case StateRenewing:
		t = min(t, c.lease.Start+c.lease.T2)
	case StateRebinding:
		t = min(t, c.lease.Start+c.lease.Time)
	}
	return t
}

// enter moves to state st, with the next transmission at when.
func (c *Client) enter(st State, when time.Duration) {
	c.state, c.next, c.tries = st, when, 0
	c.xid = uint32(c.random())
}

// restart drops the lease and goes back to INIT, sending at when; it
// reports EventLost if there was a lease.
func (c *Client) restart(when time.Duration) Event {
	c.enter(StateInit, when)
	if c.hasLease {
		c.hasLease = false
		c.lease = Lease{}
		return EventLost
	}
	return EventNone
}

// Poll runs the client's timers at now and builds the message due, if
// any, into buf (at least MaxMessage bytes): n is its length (0: nothing
// to send) and dst where it goes, port ServerPort (255.255.255.255, or
// the server's address while renewing). ev is EventLost when the lease
// expired.
func (c *Client) Poll(now time.Duration, buf []byte) (n int, dst [4]byte, ev Event) {
	if len(buf) < MaxMessage {
		panic(fmt.Sprintf("dhcp4: Poll needs a buffer of %d bytes, got %d", MaxMessage, len(buf)))
	}
	if c.hasLease && !c.lease.Infinite {
		l := &c.lease
		switch {
		case now >= l.Start+l.Time:
			ev = c.restart(now)
		case c.state == StateBound && now >= l.Start+l.T1:
			c.enter(StateRenewing, now)
			c.started = now
		case c.state == StateRenewing && now >= l.Start+l.T2:
			c.enter(StateRebinding, now)
		}
	}
	if c.state == StateBound || now < c.next {
		return 0, dst, ev
	}
	bcast := [4]byte{255, 255, 255, 255}
	secs := uint16(min((now-c.started)/time.Second, 0xffff))
	switch c.state {
	case StateInit:
		c.enter(StateSelecting, now)
		c.started, secs = now, 0
		fallthrough
	case StateSelecting:
		w := request(buf, Discover, c.xid, secs, c.cfg.Broadcast, [4]byte{}, c.cfg.MAC)
		c.common(&w)
		c.tries++
		c.next = now + c.backoff(c.tries)
		return w.n, bcast, ev
	case StateRequesting:
		if c.tries >= c.cfg.Requests {
			// No ACK: start over, after a pause.
			c.enter(StateInit, now+c.backoff(1))
			return 0, dst, ev
		}
		w := request(buf, Request, c.xid, secs, c.cfg.Broadcast, [4]byte{}, c.cfg.MAC)
		w.optAddr(optRequestedIP, c.offerAddr)
		w.optAddr(optServerID, c.offerServer)
		c.common(&w)
		c.tries++
		c.sentAt = now
		c.next = now + c.backoff(c.tries)
		return w.n, bcast, ev
	default: // renewing, rebinding: ciaddr set, no server id or requested address
		end, to := c.lease.Start+c.lease.T2, c.lease.Server
		if c.state == StateRebinding || to == ([4]byte{}) {
			end, to = c.lease.Start+c.lease.Time, bcast
		}
		w := request(buf, Request, c.xid, secs, false, c.lease.Addr, c.cfg.MAC)
		c.common(&w)
		c.tries++
		c.sentAt = now
		c.next = now + max(c.cfg.MinRenew, (end-now)/2)
		return w.n, to, ev
	}
}

// common appends the options every request carries and the end.
func (c *Client) common(w *builder) {
	w.b[w.n], w.b[w.n+1] = optClientID, 7
	w.b[w.n+2] = 1 // hardware type Ethernet (RFC 2132, section 9.14)
	copy(w.b[w.n+3:], c.cfg.MAC[:])
	w.n += 9
	w.b[w.n], w.b[w.n+1] = optClassID, byte(len(c.cfg.Class))
	w.n += 2 + copy(w.b[w.n+2:], c.cfg.Class)
	w.opt(optParamList, optSubnetMask, optRouter, optLeaseTime, optT1, optT2)
	w.opt(optMaxSize, byte((MaxMessage+28)>>8), byte((MaxMessage+28)&0xff))
	w.b[w.n] = optEnd
	w.n++
	for w.n < 300 { // BOOTP's minimum, which some relays and servers expect
		w.b[w.n] = optPad
		w.n++
	}
}

// Input processes a datagram that arrived on port 68. A reply that is not
// for this client, or not expected now, changes nothing and comes back as
// an error saying why (count it; it is not a failure of the client).
func (c *Client) Input(now time.Duration, b []byte) (Event, error) {
	m, err := Parse(b)
	if err != nil {
		return EventNone, err
	}
	if m.Op != opReply || !m.Ether || m.CHAddr != c.cfg.MAC {
		return EventNone, ErrNotOurs
	}
	if c.state == StateInit || c.state == StateBound || m.Xid != c.xid {
		return EventNone, ErrXid
	}
	if c.state == StateSelecting {
		if m.Type != Offer {
			return EventNone, fmt.Errorf("%w: %v while selecting", ErrUnexpected, m.Type)
		}
		if !unicast(m.YIAddr) || m.ServerID == ([4]byte{}) {
			return EventNone, fmt.Errorf("%w: address %s, server identifier %s", ErrBadOffer, ip(m.YIAddr), ip(m.ServerID))
		}
		c.offerAddr, c.offerServer = m.YIAddr, m.ServerID
		c.state, c.next, c.tries = StateRequesting, now, 0
		return EventNone, nil
	}
	switch m.Type {
	case Nak:
		if c.state == StateRequesting && m.ServerID != ([4]byte{}) && m.ServerID != c.offerServer {
			return EventNone, fmt.Errorf("%w: NAK from %s, not from the server we asked (%s)", ErrUnexpected, ip(m.ServerID), ip(c.offerServer))
		}
		// Start over after a pause, so that a server that refuses
		// everything is not asked in a tight loop (RFC 2131, 3.1.4).
		return c.restart(now + c.cfg.Retry), nil
	case Ack:
		l, err := c.leaseFrom(&m)
		if err != nil {
			return EventNone, err
		}
		prev, had := c.lease, c.hasLease
		c.lease, c.hasLease = l, true
		c.state, c.tries = StateBound, 0
		if had && prev.Addr == l.Addr && prev.PrefixLen == l.PrefixLen && prev.Router == l.Router {
			return EventRenewed, nil
		}
		return EventBound, nil
	}
	return EventNone, fmt.Errorf("%w: %v while %v", ErrUnexpected, m.Type, c.state)
}

// leaseFrom turns an ACK into a lease (ParseAck's rules, with the
// server identifier of the offer or lease when the ACK lacks one).
func (c *Client) leaseFrom(m *Message) (Lease, error) {
	l, err := LeaseFromAck(m)
	if err != nil {
		return l, err
	}
	if l.Server == ([4]byte{}) {
		l.Server = c.offerServer
		if c.state != StateRequesting {
			l.Server = c.lease.Server
		}
	}
	l.Start = c.sentAt
	return l, nil
}

// LeaseFromAck turns an ACK into a lease (Start is left 0). The subnet
// mask defaults to the address's classful mask, as RFC 2131 clients do
// without option 1; T1 and T2 default to 1/2 and 7/8 of the lease time
// (RFC 2131, section 4.4.5); a router off the subnet is dropped.
func LeaseFromAck(m *Message) (Lease, error) {
	var l Lease
	if m.Type != Ack {
		return l, fmt.Errorf("%w: message type %v", ErrBadAck, m.Type)
	}
	if !unicast(m.YIAddr) {
		return l, fmt.Errorf("%w: address (yiaddr) %s is not a unicast address", ErrBadAck, ip(m.YIAddr))
	}
	l.Addr, l.Server = m.YIAddr, m.ServerID
	if m.HasMask {
		mask := binary.BigEndian.Uint32(m.SubnetMask[:])
		ones := bits.LeadingZeros32(^mask)
		if ones == 0 || mask != ^uint32(0)<<(32-ones) {
			return l, fmt.Errorf("%w: subnet mask %s is not a prefix of 1 to 32 bits", ErrBadAck, ip(m.SubnetMask))
		}
		l.PrefixLen = ones
	} else {
		switch a := m.YIAddr[0]; {
		case a < 128:
			l.PrefixLen = 8
		case a < 192:
			l.PrefixLen = 16
		default:
			l.PrefixLen = 24
		}
	}
	mask := ^uint32(0) << (32 - l.PrefixLen)
	if r := m.Router; r != ([4]byte{}) && binary.BigEndian.Uint32(r[:])&mask == binary.BigEndian.Uint32(l.Addr[:])&mask && r != l.Addr {
		l.Router = r
	}
	if !m.HasLease {
		return l, fmt.Errorf("%w: no lease time (option 51)", ErrBadAck)
	}
	if m.LeaseTime == 0xffffffff {
		l.Infinite = true
		return l, nil
	}
	if m.LeaseTime == 0 {
		return l, fmt.Errorf("%w: lease time 0", ErrBadAck)
	}
	sec := func(s uint32) time.Duration { return time.Duration(s) * time.Second }
	l.Time = sec(m.LeaseTime)
	l.T1, l.T2 = l.Time/2, l.Time*7/8
	if m.T2 != 0 && m.T2 < m.LeaseTime {
		l.T2 = sec(m.T2)
	}
	if m.T1 != 0 && sec(m.T1) < l.T2 {
		l.T1 = sec(m.T1)
	}
	l.T1 = min(l.T1, l.T2)
	return l, nil
}

// unicast reports whether a is an address a host may take: not 0.0.0.0/8,
// loopback, multicast, reserved or broadcast.
func unicast(a [4]byte) bool {
	return a[0] != 0 && a[0] != 127 && a[0] < 224
}

// ip formats an address for errors.
func ip(a [4]byte) string { return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]) }
