package idl

import "github.com/rlgo/redleaf/kernel/rref"

// CapInetPrefix starts the name of a network stack's sockets, an
// idl.Inet: "inet:virtio0" is the stack the system runs over its
// virtio-net NIC.
const CapInetPrefix = "inet:"

// Socket readiness, as Inet.Wait and Inet.PollSocks report it (and take
// it as the events waited for).
const (
	SockReadable uint8 = 1 << 0 // data, the peer's FIN, an error, or (listener) a connection to accept
	SockWritable uint8 = 1 << 1 // room in the send buffer (or an error)
	SockClosed   uint8 = 1 << 2 // the connection is over (reset, timed out, or closed both ways)
	// SockStale (PollSocks): the number is of an earlier instance of the
	// stack, which restarted: every call on it fails with ENETRESET.
	SockStale uint8 = 1 << 3
	// SockBad (PollSocks): no such open socket (EBADF).
	SockBad uint8 = 1 << 4
)

// Shutdown directions (Inet.Shutdown).
const (
	ShutRead  uint8 = 1
	ShutWrite uint8 = 2
	ShutBoth  uint8 = 3
)

// MaxPollSocks is how many sockets one Inet.PollSocks waits for.
const MaxPollSocks = 64

// SockPoll is the request and the result of Inet.PollSocks: the first N
// of Socks, each waited for Events; Ready is filled in.
type SockPoll struct {
	N      int32
	Socks  [MaxPollSocks]int64
	Events [MaxPollSocks]uint8
	Ready  [MaxPollSocks]uint8
}

// Datagram describes what Inet.RecvFrom took.
type Datagram struct {
	N    int32 // bytes copied into the buffer
	Len  int32 // the datagram's length (more than N: the rest was dropped)
	Addr [4]byte
	Port uint16
}

// MaxWait is the longest one Inet.Wait or Inet.Ping blocks: longer waits
// are loops of calls, so that a caller's thread comes back to its own
// domain now and then (where it stops if that domain was killed).
const MaxWait int64 = 1e9 // 1 s

// InetInfo describes a network stack.
type InetInfo struct {
	Addr      [4]byte // its IPv4 address
	PrefixLen uint8
	Gateway   [4]byte
	MAC       [6]byte
	Sockets   int32 // open sockets
	Conns     int32 // TCP connection slots in use
	// Counters since the stack started.
	RxFrames, TxFrames uint64
	Restarts           uint64 // (filled by the system) restarts of the stack's domain

	// Address by DHCP (rl.netaddr=dhcp): the client's state (DHCPStatic
	// when the address is static), the lease's server and remaining time
	// (-1: infinite; 0: no lease).
	DHCPState  uint8
	DHCPServer [4]byte
	LeaseNs    int64
	// More counters.
	RxDropped, TxDropped       uint64
	UDPReceived, UDPSent       uint64
	TCPEstablished, TCPRetrans uint64
	DHCPSent, DHCPReceived     uint64
	DHCPLeases, DHCPLosses     uint64 // leases got (new addresses) and lost (expired or refused)
}

// DHCP states of InetInfo.DHCPState (dhcp4's states, plus one).
const (
	DHCPStatic     uint8 = iota // the address is static: no DHCP
	DHCPInit                    // about to ask
	DHCPSelecting               // DISCOVER sent
	DHCPRequesting              // REQUEST for an offer sent
	DHCPBound                   // holding a lease
	DHCPRenewing                // T1 passed: asking the server that gave it
	DHCPRebinding               // T2 passed: asking any server
)

// DHCPStateName names a DHCPState.
func DHCPStateName(s uint8) string {
	switch s {
	case DHCPStatic:
		return "static"
	case DHCPInit:
		return "init"
	case DHCPSelecting:
		return "selecting"
	case DHCPRequesting:
		return "requesting"
	case DHCPBound:
		return "bound"
	case DHCPRenewing:
		return "renewing"
	case DHCPRebinding:
		return "rebinding"
	}
	return "unknown"
}

// PingResult is the outcome of Inet.Ping.
type PingResult struct {
	Got   bool  // a reply came back in time
	RTTNs int64 // its round-trip time
}

// Inet is a network stack's sockets (services/netstack): TCP listeners
// and connections and UDP sockets, each a socket number of the stack.
// Calls never block beyond Wait's, PollSocks' and Ping's timeouts: an
// operation that would block fails with errno.EAGAIN, and the caller
// waits with Wait or PollSocks. Errors are errno values (rv6/fs/errno),
// wrapped with what failed.
//
// A socket number names the instance of the stack that made it (its high
// 32 bits): after the stack's domain restarts behind its shadow, every
// call on a number of the old instance fails with errno.ENETRESET, and
// never reaches a socket of the new one.
type Inet interface {
	// Info describes the stack.
	Info() (InetInfo, error)
	// Listen opens a TCP listener on port with a SYN backlog.
	Listen(port uint16, backlog int32) (int64, error)
	// Accept takes a connection of listener sock (EAGAIN: none yet).
	Accept(sock int64) (int64, error)
	// Dial starts a TCP connection (it is writable once established;
	// a refused one reports SockClosed and its error).
	Dial(addr [4]byte, port uint16) (int64, error)
	// Peer is the remote address and port of a connection.
	Peer(sock int64) ([4]byte, uint16, error)
	// Local is the local address and port of a socket.
	Local(sock int64) ([4]byte, uint16, error)
	// Recv reads up to n bytes (at most IOSize) into buf and moves it
	// back; 0 bytes at the end of the stream; EAGAIN: nothing yet.
	Recv(sock int64, buf rref.RRef[IOBuf], n int32) (rref.RRef[IOBuf], int32, error)
	// Send queues up to n bytes of buf and returns how many it took
	// (EAGAIN: none).
	Send(sock int64, buf rref.Borrow[IOBuf], n int32) (int32, error)
	// Shutdown closes one or both directions (ShutRead...).
	Shutdown(sock int64, how uint8) error
	// Close closes the socket (a connection sends what it has, then FIN).
	Close(sock int64) error
	// BindUDP opens a UDP socket on port (0: an ephemeral port).
	BindUDP(port uint16) (int64, error)
	// SendTo queues buf[:n] as one datagram to addr:port (EAGAIN: the
	// socket's queue is full; EMSGSIZE: over 1472 bytes).
	SendTo(sock int64, addr [4]byte, port uint16, buf rref.Borrow[IOBuf], n int32) (int32, error)
	// RecvFrom takes the oldest datagram received, up to n bytes of it
	// into buf, and moves buf back (EAGAIN: none).
	RecvFrom(sock int64, buf rref.RRef[IOBuf], n int32) (rref.RRef[IOBuf], Datagram, error)
	// Wait blocks until sock is ready for one of events (Sock*) or
	// timeoutNs (at most MaxWait) passes, and returns its readiness.
	Wait(sock int64, events uint8, timeoutNs int64) (uint8, error)
	// PollSocks blocks until one of the first req.N sockets is ready for
	// its events (or closed, stale or bad) or timeoutNs (at most MaxWait)
	// passes, and returns req with Ready filled in.
	PollSocks(req SockPoll, timeoutNs int64) (SockPoll, error)
	// Ping sends an ICMP echo request of size payload bytes to addr and
	// waits up to timeoutNs (at most MaxWait) for its reply.
	Ping(addr [4]byte, seq uint16, size int32, timeoutNs int64) (PingResult, error)
}
