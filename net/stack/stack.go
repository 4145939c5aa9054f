package stack

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"
)

// Config configures a Stack. The zero value of a field takes its default.
type Config struct {
	Addr      [4]byte // our IPv4 address (required unless Unaddressed)
	PrefixLen int     // of our network (default 24)
	Gateway   [4]byte // next hop for off-link addresses (none: unreachable)
	MTU       int     // IP MTU (default and maximum 1500; at least 576)

	// Unaddressed starts the stack without an address (Addr zero), for a
	// DHCP client that sets one later with SetAddr (see addr.go).
	Unaddressed bool

	MaxConns int // TCP connection slots, listeners' pending ones included (default 256)
	MaxUDP   int // UDP sockets (default 16)
	SendBuf  int // bytes of a TCP connection's send buffer (default 64 KiB)
	RecvBuf  int // bytes of its receive buffer (default 64 KiB; window scaling is used above 64 KiB)
	Batch    int // frames per transmit batch (default 32)
	ARPSize  int // ARP cache entries (default 64)

	PingQueue int // echo replies kept for EchoReply (default 0: none)

	ARPTimeout time.Duration // a resolved neighbour is refreshed after (default 60 s)
	ARPRetry   time.Duration // between requests for one neighbour (default 1 s)

	InitialRTO time.Duration // before any RTT sample (default 1 s, RFC 6298)
	MinRTO     time.Duration // default 200 ms (Linux's; RFC 6298 says 1 s)
	MaxRTO     time.Duration // default 60 s
	MaxRetries int           // retransmissions of one segment before the connection times out (default 12)
	SynRetries int           // of a SYN or SYN-ACK (default 6)
	MSL        time.Duration // maximum segment lifetime: TIME_WAIT lasts 2*MSL (default 30 s)
	FinTimeout time.Duration // an orphaned connection waits this long for the peer's FIN (default 60 s)

	KeepAliveIdle     time.Duration // idle time before the first probe (default 2 h, RFC 1122)
	KeepAliveInterval time.Duration // between probes (default 75 s)
	KeepAliveCount    int           // unanswered probes before the connection is dropped (default 9)

	// Seed is the secret of the initial sequence numbers (RFC 6528) and
	// of the ephemeral port choice. Give each stack a random one: a
	// predictable seed makes connections easier to spoof.
	Seed uint64
}

func (c Config) withDefaults() (Config, error) {
	if c.Addr == ([4]byte{}) && !c.Unaddressed {
		return c, fmt.Errorf("stack: Config.Addr is required (the stack's IPv4 address), unless Config.Unaddressed (DHCP sets it)")
	}
	if c.Addr != ([4]byte{}) && c.Unaddressed {
		return c, fmt.Errorf("stack: Config.Addr and Config.Unaddressed are both set")
	}
	if c.PrefixLen == 0 {
		c.PrefixLen = 24
	}
	if c.PrefixLen < 1 || c.PrefixLen > 32 {
		return c, fmt.Errorf("stack: Config.PrefixLen %d is not in 1..32", c.PrefixLen)
	}
	if c.MTU == 0 {
		c.MTU = 1500
	}
	if c.MTU < 576 || c.MTU > 1500 {
		return c, fmt.Errorf("stack: Config.MTU %d is not in 576..1500", c.MTU)
	}
	def := func(v *int, d, lo, hi int, name string) error {
		if *v == 0 {
			*v = d
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("stack: Config.%s %d is not in %d..%d", name, *v, lo, hi)
		}
		return nil
	}
	for _, e := range []error{
		def(&c.MaxConns, 256, 1, 1<<20, "MaxConns"),
		def(&c.MaxUDP, 16, 1, 4096, "MaxUDP"),
		def(&c.SendBuf, 64<<10, 2048, 1<<30, "SendBuf"),
		def(&c.RecvBuf, 64<<10, 2048, 1<<30, "RecvBuf"),
		def(&c.Batch, 32, 1, 4096, "Batch"),
		def(&c.ARPSize, 64, 1, 1<<16, "ARPSize"),
		def(&c.PingQueue, 0, 0, 1024, "PingQueue"),
		def(&c.MaxRetries, 12, 1, 100, "MaxRetries"),
		def(&c.SynRetries, 6, 1, 100, "SynRetries"),
		def(&c.KeepAliveCount, 9, 1, 100, "KeepAliveCount"),
	} {
		if e != nil {
			return c, e
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&c.ARPTimeout, 60*time.Second)
	dur(&c.ARPRetry, time.Second)
	dur(&c.InitialRTO, time.Second)
	dur(&c.MinRTO, 200*time.Millisecond)
	dur(&c.MaxRTO, 60*time.Second)
	dur(&c.MSL, 30*time.Second)
	dur(&c.FinTimeout, 60*time.Second)
	dur(&c.KeepAliveIdle, 2*time.Hour)
	dur(&c.KeepAliveInterval, 75*time.Second)
	if c.MinRTO > c.MaxRTO {
		return c, fmt.Errorf("stack: Config.MinRTO %v is above MaxRTO %v", c.MinRTO, c.MaxRTO)
	}
	return c, nil
}

// Stats are the stack's counters.
type Stats struct {
	RxFrames, TxFrames uint64
	RxDropped          uint64 // malformed, or no room to keep
	RxChecksumErrors   uint64
	RxNotForUs         uint64 // other addresses, protocols, ports
	TxDropped          uint64 // the link did not take them, or no buffer
	ARPRequests        uint64
	ARPReplies         uint64
	EchoReplies        uint64
	UDPReceived        uint64
	UDPSent            uint64

	TCPSegsIn, TCPSegsOut uint64
	TCPRetransmits        uint64 // segments sent again (timeouts and fast retransmits)
	TCPTimeouts           uint64 // retransmission timer expirations
	TCPFastRetransmits    uint64
	TCPDupAcks            uint64
	TCPOutOfOrder         uint64 // segments kept beyond a hole
	TCPResetsSent         uint64
	TCPResetsReceived     uint64
	TCPSynDropped         uint64 // SYNs dropped: backlog or slots full
	TCPChallengeAcks      uint64 // RFC 5961
	TCPTimeWaitReopened   uint64 // TIME-WAIT connections ended by a SYN of a new incarnation
	TCPKeepAliveProbes    uint64
	TCPEstablished        uint64 // connections that reached ESTABLISHED
	TCPBadSegments        uint64 // checksum or header errors
	AddrLostConns         uint64 // connections closed because the address went (ClearAddr, SetAddr)
}

// A Stack is one network interface's IPv4 stack. See the package doc.
type Stack struct {
	cfg  Config
	link Link
	mac  [6]byte

	mask            uint32
	subnetBroadcast [4]byte
	ipID            uint16

	arp         arpCache
	arpResolved bool // a neighbour was learned: retry what waited for it

	udp        []udpSocket
	udpPending bool
	pings      dgramQueue

	tcp tcpTable

	// The transmit batch: frames are built in place in arena and sent in
	// one Transmit call when the batch is full and at the end of a poll.
	arena    []byte
	frameCap int
	tx       [][]byte // frames built, ready to send
	txErr    error

	stats Stats
	now   time.Duration
	rng   uint64 // ephemeral ports, ISN offsets
}

// New makes a stack over link.
func New(link Link, cfg Config) (*Stack, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, link: link, mac: link.HardwareAddr()}
	s.setMask()
	s.arp.e = make([]arpEntry, cfg.ARPSize)
	s.udp = make([]udpSocket, cfg.MaxUDP)
	if cfg.PingQueue > 0 {
		s.pings = newDgramQueue(cfg.PingQueue, cfg.MTU)
	}
	s.frameCap = etherHeaderLen + cfg.MTU
	s.arena = make([]byte, cfg.Batch*s.frameCap)
	s.tx = make([][]byte, 0, cfg.Batch)
	s.rng = cfg.Seed ^ 0x9e3779b97f4a7c15
	s.tcp.init(s, cfg.MaxConns)
	return s, nil
}

// Addr is the stack's IPv4 address.
func (s *Stack) Addr() [4]byte { return s.cfg.Addr }

// HardwareAddr is the link's MAC address.
func (s *Stack) HardwareAddr() [6]byte { return s.mac }

// Config returns the configuration in effect (defaults filled in).
func (s *Stack) Config() Config { return s.cfg }

// Stats returns the counters.
func (s *Stack) Stats() Stats { return s.stats }

// Poll runs the stack once at time now (monotonic, from any origin, never
// going back): it takes the link's received frames, processes them, fires
// the due timers, lets every connection send what it may and transmits the
// batch. It reports whether anything was received or sent, and the link's
// error, if any (the stack stays usable: poll again).
func (s *Stack) Poll(now time.Duration) (bool, error) {
	if now < s.now {
		now = s.now
	}
	s.now = now
	s.txErr = nil
	frames, err := s.link.Receive()
	for _, f := range frames {
		s.stats.RxFrames++
		s.input(f, now)
	}
	worked := len(frames) > 0
	if s.arpResolved {
		s.arpResolved = false
		s.tcp.wakeAll()
		s.udpPending = true
	}
	s.tcp.timers(now)
	s.tcp.output(now)
	if s.udpPending {
		s.flushUDP(now)
	}
	if len(s.tx) > 0 {
		worked = true
	}
	s.flush()
	if err == nil {
		err = s.txErr
	}
	return worked, err
}

// NextTimer returns the earliest time at which a timer of the stack is
// due (ok false if none is armed): a caller with nothing to do may sleep
// until then (or until a frame arrives).
func (s *Stack) NextTimer() (time.Duration, bool) {
	return s.tcp.nextTimer()
}

// input processes one received frame.
func (s *Stack) input(f []byte, now time.Duration) {
	eh, payload, err := parseEther(f)
	if err != nil {
		s.stats.RxDropped++
		return
	}
	if eh.dst != s.mac && eh.dst != broadcastMAC {
		s.stats.RxNotForUs++
		return
	}
	switch eh.typ {
	case etherTypeARP:
		s.handleARP(payload, now)
	case etherTypeIPv4:
		s.handleIPv4(&eh, payload, now)
	default:
		s.stats.RxNotForUs++
	}
}

// txFrame returns a buffer for the next frame of the batch (sending the
// batch first if it is full), or nil if the link takes nothing.
func (s *Stack) txFrame() []byte {
	if len(s.tx) == cap(s.tx) {
		s.flush()
		if len(s.tx) == cap(s.tx) {
			s.stats.TxDropped++
			return nil
		}
	}
	i := len(s.tx) * s.frameCap
	return s.arena[i : i+s.frameCap]
}

// txCommit adds the frame built in f, n bytes long (padded to the minimum
// frame length), to the batch.
func (s *Stack) txCommit(f []byte, n int) {
	if n < minFrameLen {
		clear(f[n:minFrameLen])
		n = minFrameLen
	}
	s.tx = append(s.tx, f[:n])
}

// flush transmits the batch. Frames the link does not take are dropped:
// TCP sends them again, and the rest is best effort.
func (s *Stack) flush() {
	if len(s.tx) == 0 {
		return
	}
	n, err := s.link.Transmit(s.tx)
	if err != nil && s.txErr == nil {
		s.txErr = err
	}
	n = max(0, min(n, len(s.tx)))
	s.stats.TxFrames += uint64(n)
	s.stats.TxDropped += uint64(len(s.tx) - n)
	s.tx = s.tx[:0]
}

// random returns the next value of the stack's generator (splitmix64 over
// the seed): not a secret, only spread.
func (s *Stack) random() uint64 {
	s.rng += 0x9e3779b97f4a7c15
	z := s.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// ephemeralPort picks a free port in 49152..65535 (RFC 6335), starting at
// a random one; used reports whether a port is taken. 0: none free.
func (s *Stack) ephemeralPort(used func(uint16) bool) uint16 {
	const lo, n = 49152, 16384
	start := int(s.random() % n)
	for i := range n {
		p := uint16(lo + (start+i)%n)
		if !used(p) {
			return p
		}
	}
	return 0
}

// isnHash is the keyed hash of a connection's 4-tuple for its initial
// sequence number (RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock).
func (s *Stack) isn(raddr [4]byte, lport, rport uint16, now time.Duration) seqnum {
	k := s.cfg.Seed
	v := uint64(binary.BigEndian.Uint32(raddr[:]))<<32 | uint64(lport)<<16 | uint64(rport)
	v ^= uint64(binary.BigEndian.Uint32(s.cfg.Addr[:])) * 0xff51afd7ed558ccd
	h := k
	for range 2 {
		h ^= v
		h = bits.RotateLeft64(h*0x9e3779b97f4a7c15, 31) * 0xc4ceb9fe1a85ec53
		v = h ^ k
	}
	return seqnum(uint32(h) + uint32(now/(4*time.Microsecond)))
}
