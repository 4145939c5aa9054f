package stack

import (
	"encoding/binary"
	"errors"
)

// Ethernet.
const (
	etherHeaderLen = 14
	etherTypeIPv4  = 0x0800
	etherTypeARP   = 0x0806
	minFrameLen    = 60 // without the CRC: shorter frames are padded
)

// Broadcast is the Ethernet broadcast address.
var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

var errShortFrame = errors.New("stack: frame shorter than an Ethernet header (14 bytes)")

// An etherHeader is a parsed Ethernet II header.
type etherHeader struct {
	dst, src [6]byte
	typ      uint16
}

// parseEther parses the header of frame f and returns its payload.
func parseEther(f []byte) (etherHeader, []byte, error) {
	if len(f) < etherHeaderLen {
		return etherHeader{}, nil, errShortFrame
	}
	return etherHeader{dst: [6]byte(f[0:6]), src: [6]byte(f[6:12]), typ: binary.BigEndian.Uint16(f[12:14])}, f[etherHeaderLen:], nil
}

func putEther(f []byte, dst, src [6]byte, typ uint16) {
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], typ)
}
