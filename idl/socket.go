package idl

import "github.com/rlgo/redleaf/kernel/rref"

// CapInetPrefix starts the name of a network stack's sockets, an
// idl.Inet: "inet:virtio0" is the stack the system runs over its
// virtio-net NIC.
const CapInetPrefix = "inet:"

// Socket readiness, as Inet.Wait reports it (and takes it as the events
// waited for).
const (
	SockReadable uint8 = 1 << 0 // data, the peer's FIN, an error, or (listener) a connection to accept
	SockWritable uint8 = 1 << 1 // room in the send buffer (or an error)
	SockClosed   uint8 = 1 << 2 // the connection is over (reset, timed out, or closed both ways)
)

// Shutdown directions (Inet.Shutdown).
const (
	ShutRead  uint8 = 1
	ShutWrite uint8 = 2
	ShutBoth  uint8 = 3
)

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

// DHCP states of InetInfo.DHCPState (net/dhcp4's states, plus one).
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
// and connections, each a socket number of the stack. Calls never block
// beyond Wait's and Ping's timeouts: an operation that would block fails
// with errno.EAGAIN, and the caller waits with Wait. Errors are errno
// values (rv6/fs/errno), wrapped with what failed.
type Inet interface {
	// Info describes the stack.
	Info() (InetInfo, error)
	// Listen opens a TCP listener on port with a SYN backlog.
	Listen(port uint16, backlog int32) (int32, error)
	// Accept takes a connection of listener sock (EAGAIN: none yet).
	Accept(sock int32) (int32, error)
	// Dial starts a TCP connection (it is writable once established;
	// a refused one reports SockClosed and its error).
	Dial(addr [4]byte, port uint16) (int32, error)
	// Peer is the remote address and port of a connection.
	Peer(sock int32) ([4]byte, uint16, error)
	// Recv reads up to n bytes (at most IOSize) into buf and moves it
	// back; 0 bytes at the end of the stream; EAGAIN: nothing yet.
	Recv(sock int32, buf rref.RRef[IOBuf], n int32) (rref.RRef[IOBuf], int32, error)
	// Send queues up to n bytes of buf and returns how many it took
	// (EAGAIN: none).
	Send(sock int32, buf rref.Borrow[IOBuf], n int32) (int32, error)
	// Shutdown closes one or both directions (ShutRead...).
	Shutdown(sock int32, how uint8) error
	// Close closes the socket (a connection sends what it has, then FIN).
	Close(sock int32) error
	// Wait blocks until sock is ready for one of events (Sock*) or
	// timeoutNs (at most MaxWait) passes, and returns its readiness.
	Wait(sock int32, events uint8, timeoutNs int64) (uint8, error)
	// Ping sends an ICMP echo request of size payload bytes to addr and
	// waits up to timeoutNs (at most MaxWait) for its reply.
	Ping(addr [4]byte, seq uint16, size int32, timeoutNs int64) (PingResult, error)
}
