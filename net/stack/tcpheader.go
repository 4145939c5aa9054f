package stack

import (
	"encoding/binary"
	"errors"
)

const (
	tcpHeaderLen = 20
	flagFIN      = 0x01
	flagSYN      = 0x02
	flagRST      = 0x04
	flagPSH      = 0x08
	flagACK      = 0x10
	flagURG      = 0x20

	optEnd    = 0
	optNOP    = 1
	optMSS    = 2
	optWScale = 3

	maxWScale  = 14  // RFC 7323
	defaultMSS = 536 // RFC 9293: when the peer sends no MSS option
)

var (
	errShortTCP      = errors.New("stack: TCP segment shorter than its header")
	errBadTCPOffset  = errors.New("stack: TCP data offset under 5 words or beyond the segment")
	errBadTCPOptions = errors.New("stack: malformed TCP options: an option's length runs past the header or is under 2")
)

// A tcpSegment is a parsed TCP segment.
type tcpSegment struct {
	sport, dport uint16
	seq, ack     seqnum
	flags        uint8
	wnd          uint16
	payload      []byte
	mss          uint16 // 0: no MSS option
	wscale       int    // -1: no window scale option
}

// len is the segment's length in sequence space.
func (g *tcpSegment) len() int {
	n := len(g.payload)
	if g.flags&flagSYN != 0 {
		n++
	}
	if g.flags&flagFIN != 0 {
		n++
	}
	return n
}

// parseTCP parses a TCP segment (its checksum is the caller's).
func parseTCP(b []byte) (tcpSegment, error) {
	if len(b) < tcpHeaderLen {
		return tcpSegment{}, errShortTCP
	}
	off := int(b[12]>>4) * 4
	if off < tcpHeaderLen || off > len(b) {
		return tcpSegment{}, errBadTCPOffset
	}
	g := tcpSegment{
		sport: binary.BigEndian.Uint16(b[0:]), dport: binary.BigEndian.Uint16(b[2:]),
		seq: seqnum(binary.BigEndian.Uint32(b[4:])), ack: seqnum(binary.BigEndian.Uint32(b[8:])),
		flags: b[13] & 0x3f, wnd: binary.BigEndian.Uint16(b[14:]),
		payload: b[off:], wscale: -1,
	}
	if err := parseTCPOptions(b[tcpHeaderLen:off], &g); err != nil {
		return tcpSegment{}, err
	}
	return g, nil
}

// parseTCPOptions reads the options the stack uses (MSS, window scale)
// and skips the others; a malformed list is an error.
func parseTCPOptions(o []byte, g *tcpSegment) error {
	for len(o) > 0 {
		switch o[0] {
		case optEnd:
			return nil
		case optNOP:
			o = o[1:]
			continue
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return errBadTCPOptions
		}
		n := int(o[1])
		switch {
		case o[0] == optMSS && n == 4:
			g.mss = binary.BigEndian.Uint16(o[2:])
		case o[0] == optWScale && n == 3:
			g.wscale = int(min(o[2], maxWScale))
		}
		o = o[n:]
	}
	return nil
}
