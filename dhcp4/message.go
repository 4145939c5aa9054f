//rl:domain

// Package dhcp4 is the DHCPv4 client logic (RFC 2131, RFC 2132) that both
// the trusted base (kernel/netup, over a Linux packet socket) and the
// network stack domain (services/netstack, over net/stack's UDP) use: it
// builds DISCOVER and REQUEST messages, checks OFFERs, ACKs and NAKs
// against what it asked, turns an ACK into a Lease, and runs the client's
// state machine (selecting, requesting, bound, renewing at T1, rebinding
// at T2, expiry) with retransmissions and backoff.
//
// It owns no socket, thread or clock: the caller feeds it the payloads of
// UDP datagrams that arrived on port 68 (Input), asks it what to send and
// where (Poll), and passes the current monotonic time to both. It imports
// only the standard library and allocates nothing after New, so domains
// may use it (it passes the domain checker) and the kernel may import it
// as a leaf.
package dhcp4

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Ports of DHCP (RFC 2131, section 4.1).
const (
	ServerPort = 67
	ClientPort = 68
)

// ClassID is the vendor class identifier (option 60) the project's
// clients send: the netboot server treats them as plain clients (no
// option 93), so they get an address and no boot file.
const ClassID = "rlkernel"

// MaxMessage is the longest message Poll builds; a buffer of this size
// always suffices.
const MaxMessage = 576 - 28

// A MessageType is option 53's value.
type MessageType uint8

// The message types (RFC 2132, section 9.6).
const (
	Discover MessageType = 1
	Offer    MessageType = 2
	Request  MessageType = 3
	Decline  MessageType = 4
	Ack      MessageType = 5
	Nak      MessageType = 6
	Release  MessageType = 7
	Inform   MessageType = 8
)

var typeNames = [...]string{"none", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}

func (t MessageType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Fixed layout of a BOOTP/DHCP message (RFC 2131, figure 1).
const (
	opRequest  = 1
	opReply    = 2
	headerLen  = 236
	cookieLen  = 4
	minMessage = headerLen + cookieLen
	flagBcast  = 0x8000
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Options (RFC 2132).
const (
	optPad         = 0
	optSubnetMask  = 1
	optRouter      = 3
	optRequestedIP = 50
	optLeaseTime   = 51
	optOverload    = 52
	optMessageType = 53
	optServerID    = 54
	optParamList   = 55
	optMaxSize     = 57
	optT1          = 58
	optT2          = 59
	optClassID     = 60
	optClientID    = 61
	optEnd         = 255
)

// A Message is a parsed DHCP message: the fixed fields and the options the
// client uses. Parse fills it without allocating.
type Message struct {
	Op     uint8
	Xid    uint32
	Flags  uint16
	CIAddr [4]byte // the client's address (renewing, rebinding)
	YIAddr [4]byte // "your" address: the one offered or acknowledged
	SIAddr [4]byte
	GIAddr [4]byte
	CHAddr [6]byte // the client's MAC (htype 1, hlen 6 only)
	Ether  bool    // htype 1 and hlen 6

	Type        MessageType // option 53 (0: none, a BOOTP message)
	ServerID    [4]byte     // option 54
	SubnetMask  [4]byte     // option 1
	HasMask     bool
	Router      [4]byte // the first router of option 3 (zero: none)
	RequestedIP [4]byte // option 50
	LeaseTime   uint32  // option 51, seconds
	HasLease    bool
	T1, T2      uint32 // options 58 and 59, seconds (0: not sent)
}

// Errors of Parse.
var (
	ErrShort     = errors.New("dhcp4: message shorter than a BOOTP header and the magic cookie (240 bytes)")
	ErrCookie    = errors.New("dhcp4: no DHCP magic cookie after the BOOTP header")
	ErrOption    = errors.New("dhcp4: an option runs past the end of the message")
	ErrOptionLen = errors.New("dhcp4: an option has the wrong length for its code")
	ErrOverload  = errors.New("dhcp4: options overloaded into the file/sname fields (option 52) are not supported")
)

// Parse decodes a DHCP message (a UDP payload). It checks the lengths of
// the options it knows and ignores the others.
func Parse(b []byte) (Message, error) {
	var m Message
	if len(b) < minMessage {
		return m, ErrShort
	}
	if [4]byte(b[headerLen:minMessage]) != magicCookie {
		return m, ErrCookie
	}
	m.Op = b[0]
	m.Ether = b[1] == 1 && b[2] == 6
	m.Xid = binary.BigEndian.Uint32(b[4:])
	m.Flags = binary.BigEndian.Uint16(b[10:])
	m.CIAddr = [4]byte(b[12:16])
	m.YIAddr = [4]byte(b[16:20])
	m.SIAddr = [4]byte(b[20:24])
	m.GIAddr = [4]byte(b[24:28])
	if m.Ether {
		m.CHAddr = [6]byte(b[28:34])
	}
	opts := b[minMessage:]
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == optPad {
			i++
			continue
		}
		if code == optEnd {
			break
		}
		if i+2 > len(opts) || i+2+int(opts[i+1]) > len(opts) {
			return m, ErrOption
		}
		v := opts[i+2 : i+2+int(opts[i+1])]
		i += 2 + len(v)
		if err := m.option(code, v); err != nil {
			return m, fmt.Errorf("%w (option %d, %d bytes)", err, code, len(v))
		}
	}
	return m, nil
}

// option records one option's value.
func (m *Message) option(code byte, v []byte) error {
	four := func(dst *[4]byte) error {
		if len(v) != 4 {
			return ErrOptionLen
		}
		*dst = [4]byte(v)
		return nil
	}
	u32 := func(dst *uint32) error {
		if len(v) != 4 {
			return ErrOptionLen
		}
		*dst = binary.BigEndian.Uint32(v)
		return nil
	}
	switch code {
	case optMessageType:
		if len(v) != 1 {
			return ErrOptionLen
		}
		m.Type = MessageType(v[0])
	case optServerID:
		return four(&m.ServerID)
	case optSubnetMask:
		m.HasMask = true
		return four(&m.SubnetMask)
	case optRouter:
		if len(v) == 0 || len(v)%4 != 0 {
			return ErrOptionLen
		}
		for i := 0; i < len(v); i += 4 {
			if r := [4]byte(v[i : i+4]); r != ([4]byte{}) {
				m.Router = r
				break
			}
		}
	case optRequestedIP:
		return four(&m.RequestedIP)
	case optLeaseTime:
		m.HasLease = true
		return u32(&m.LeaseTime)
	case optT1:
		return u32(&m.T1)
	case optT2:
		return u32(&m.T2)
	case optOverload:
		return ErrOverload
	}
	return nil
}

// A builder appends a request to a buffer of at least MaxMessage bytes.
type builder struct {
	b []byte
	n int
}

func (w *builder) opt(code byte, v ...byte) {
	w.b[w.n], w.b[w.n+1] = code, byte(len(v))
	w.n += 2 + copy(w.b[w.n+2:], v)
}

func (w *builder) optAddr(code byte, a [4]byte) { w.opt(code, a[0], a[1], a[2], a[3]) }

// request writes the fixed part of a client message into b.
func request(b []byte, typ MessageType, xid uint32, secs uint16, bcast bool, ciaddr [4]byte, mac [6]byte) builder {
	clear(b[:minMessage])
	b[0], b[1], b[2] = opRequest, 1, 6
	binary.BigEndian.PutUint32(b[4:], xid)
	binary.BigEndian.PutUint16(b[8:], secs)
	if bcast {
		binary.BigEndian.PutUint16(b[10:], flagBcast)
	}
	copy(b[12:16], ciaddr[:])
	copy(b[28:34], mac[:])
	copy(b[headerLen:], magicCookie[:])
	w := builder{b: b, n: minMessage}
	w.opt(optMessageType, byte(typ))
	return w
}
