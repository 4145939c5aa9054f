package stack

import "encoding/binary"

// sum adds b to the one's-complement running sum s (RFC 1071), as
// big-endian 16-bit words; an odd last byte is padded with zero.
func sum(s uint32, b []byte) uint32 {
	for len(b) >= 8 {
		s += uint32(binary.BigEndian.Uint16(b)) + uint32(binary.BigEndian.Uint16(b[2:])) +
			uint32(binary.BigEndian.Uint16(b[4:])) + uint32(binary.BigEndian.Uint16(b[6:]))
		b = b[8:]
		if s > 0xffff {
			s = s&0xffff + s>>16
		}
	}
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// fold finishes a running sum into the checksum field's value.
func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// Checksum is the Internet checksum of b: 0 over data that includes a
// correct checksum field.
func Checksum(b []byte) uint16 { return fold(sum(0, b)) }

// pseudoSum is the running sum of the IPv4 pseudo-header of a TCP or UDP
// segment of length n.
func pseudoSum(src, dst [4]byte, proto uint8, n int) uint32 {
	return uint32(binary.BigEndian.Uint16(src[:])) + uint32(binary.BigEndian.Uint16(src[2:])) +
		uint32(binary.BigEndian.Uint16(dst[:])) + uint32(binary.BigEndian.Uint16(dst[2:])) +
		uint32(proto) + uint32(n)
}
