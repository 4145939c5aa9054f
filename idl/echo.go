package idl

// UDPEcho is a UDP echo service (RFC 862) on a NIC: a domain that answers
// ARP for its address and sends back the UDP datagrams (and ICMP echo
// requests) addressed to it. It works on its own thread; the interface
// only reports.
type UDPEcho interface {
	// EchoStats reads the service's counters.
	EchoStats() (EchoStats, error)
}

// EchoStats are a UDPEcho's counters since it started.
type EchoStats struct {
	Addr       [4]byte // the service's IPv4 address
	PrefixLen  uint8   // of its network
	Port       uint16  // the UDP port it echoes on
	Echoed     uint64  // UDP datagrams sent back
	ARPReplies uint64  // ARP requests answered
	Pings      uint64  // ICMP echo requests answered
	Ignored    uint64  // frames not for the service
	Dropped    uint64  // replies the NIC had no room for
}
