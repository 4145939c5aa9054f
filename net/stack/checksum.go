package stack

import (
	"encoding/binary"
	"math/bits"
)

// sum adds b to the one's-complement running sum s (RFC 1071), as
// big-endian 16-bit words; an odd last byte is padded with zero.
//
// It adds 64-bit little-endian words with carries (the one's-complement
// sum does not depend on the byte order, RFC 1071 2(B), and a carry out
// of 64 bits is worth 1, as 2^16 is), folds and swaps the bytes at the
// end: a quarter of the instructions of 16-bit words, which counts under
// an emulated CPU, where the checksum of every segment is the stack's
// largest per-byte cost with the copies.
func sum(s uint32, b []byte) uint32 {
	var acc, carries, c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), 0)
		carries += c
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:]), 0)
		carries += c
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:]), 0)
		carries += c
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:]), 0)
		carries += c
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), 0)
		carries += c
		b = b[8:]
	}
	if len(b) > 0 { // 1..7 bytes, zero-padded
		var w [8]byte
		copy(w[:], b)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(w[:]), 0)
		carries += c
	}
	acc, c = bits.Add64(acc, carries, 0)
	acc += c // no carry again: acc is below carries here
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffff + acc>>16
	acc = acc&0xffff + acc>>16
	return s + uint32(bits.ReverseBytes16(uint16(acc)))
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
