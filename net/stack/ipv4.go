package stack

import (
	"encoding/binary"
	"errors"
	"time"
)

const (
	ipv4HeaderLen = 20
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
	defaultTTL    = 64
)

var broadcastIP = [4]byte{255, 255, 255, 255}

var (
	errBadIPv4      = errors.New("stack: not an IPv4 header: version is not 4, header length under 20 bytes, or total length beyond the frame")
	errIPv4Checksum = errors.New("stack: IPv4 header checksum mismatch")
	errFragment     = errors.New("stack: IPv4 fragment (fragments are not reassembled)")
)

// An ipv4Header is a parsed IPv4 header.
type ipv4Header struct {
	src, dst [4]byte
	proto    uint8
	ttl      uint8
}

// parseIPv4 checks an IPv4 packet (version, lengths, header checksum, no
// fragment) and returns its header and payload (trimmed to the total
// length: Ethernet padding goes).
func parseIPv4(b []byte) (ipv4Header, []byte, error) {
	if len(b) < ipv4HeaderLen || b[0]>>4 != 4 {
		return ipv4Header{}, nil, errBadIPv4
	}
	ihl := int(b[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < ipv4HeaderLen || total < ihl || total > len(b) {
		return ipv4Header{}, nil, errBadIPv4
	}
	if Checksum(b[:ihl]) != 0 {
		return ipv4Header{}, nil, errIPv4Checksum
	}
	if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 { // MF or an offset
		return ipv4Header{}, nil, errFragment
	}
	return ipv4Header{src: [4]byte(b[12:16]), dst: [4]byte(b[16:20]), proto: b[9], ttl: b[8]}, b[ihl:total], nil
}

// putIPv4 writes a 20-byte header for a payload of n bytes.
func (s *Stack) putIPv4(b []byte, dst [4]byte, proto uint8, n int) {
	b[0], b[1] = 0x45, 0
	binary.BigEndian.PutUint16(b[2:], uint16(ipv4HeaderLen+n))
	s.ipID++
	binary.BigEndian.PutUint16(b[4:], s.ipID)
	binary.BigEndian.PutUint16(b[6:], 0x4000) // don't fragment
	b[8], b[9] = defaultTTL, proto
	b[10], b[11] = 0, 0
	copy(b[12:16], s.cfg.Addr[:])
	copy(b[16:20], dst[:])
	binary.BigEndian.PutUint16(b[10:], Checksum(b[:ipv4HeaderLen]))
}

func (s *Stack) onLink(ip [4]byte) bool {
	a := binary.BigEndian.Uint32(ip[:])
	b := binary.BigEndian.Uint32(s.cfg.Addr[:])
	return a&s.mask == b&s.mask
}

// handleIPv4 delivers a packet addressed to us; eh is its Ethernet header.
func (s *Stack) handleIPv4(eh *etherHeader, b []byte, now time.Duration) {
	h, payload, err := parseIPv4(b)
	if err != nil {
		s.stats.RxDropped++
		if err == errIPv4Checksum {
			s.stats.RxChecksumErrors++
		}
		return
	}
	bcast := h.dst == broadcastIP || h.dst == s.subnetBroadcast
	if !s.HasAddr() {
		// Only UDP, to any address: DHCP's replies before we have one.
		if h.proto != protoUDP {
			s.stats.RxNotForUs++
			return
		}
		bcast = true
	} else if h.dst != s.cfg.Addr && !bcast {
		s.stats.RxNotForUs++
		return
	}
	switch h.proto {
	case protoICMP:
		if !bcast {
			s.handleICMP(eh, &h, payload, now)
		}
	case protoUDP:
		s.handleUDP(&h, payload, now)
	case protoTCP:
		if !bcast {
			s.handleTCP(eh, &h, payload, now)
		}
	default:
		s.stats.RxNotForUs++
	}
}
