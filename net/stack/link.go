package stack

// A Link moves Ethernet frames (without the CRC) in batches: a NIC, or
// anything standing in for one. The idl.Net adapter (package
// net/stack/idlnet) is the one the system uses.
type Link interface {
	// HardwareAddr is the link's own MAC address.
	HardwareAddr() [6]byte
	// Receive returns the frames that arrived since the last call (none
	// is fine). The slices stay valid until the next call of Receive.
	Receive() ([][]byte, error)
	// Transmit sends frames, front to back, and returns how many it took;
	// it copies them, so the caller may reuse their buffers at once.
	Transmit(frames [][]byte) (int, error)
}
