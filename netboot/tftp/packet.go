package tftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Opcodes (RFC 1350, RFC 2347).
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// Error codes (RFC 1350, RFC 2347).
const (
	errUndefined     = 0
	errNotFound      = 1
	errAccess        = 2
	errDiskFull      = 3
	errIllegalOp     = 4
	errUnknownTID    = 5
	errFileExists    = 6
	errNoSuchUser    = 7
	errOptionRefused = 8
)

// maxRequest bounds the request packets the server reads. RFC 2347 limits
// requests with options to 512 bytes; clients in the wild send a little
// more, so be lenient.
const maxRequest = 1024

// Request is a parsed read or write request.
type Request struct {
	// Write is true for a WRQ, which this server refuses.
	Write bool
	// Filename is the name as the client sent it, unvalidated.
	Filename string
	// Mode is "octet" or "netascii" (lower case); "mail" and unknown
	// modes are parse errors.
	Mode string
	// Options are the RFC 2347 options in the order sent, names in lower
	// case. A repeated option is a parse error.
	Options []Option
}

// Option is one name/value pair of a request or an OACK.
type Option struct {
	Name, Value string
}

// Option returns the value of the named option and whether it was sent.
func (r *Request) Option(name string) (string, bool) {
	for _, o := range r.Options {
		if o.Name == name {
			return o.Value, true
		}
	}
	return "", false
}

// ParseRequest parses a RRQ or WRQ packet. Every malformed packet is an
// error: a short packet, a missing NUL terminator, an empty file name, an
// unknown mode, an option without a value, a repeated option.
func ParseRequest(b []byte) (*Request, error) {
	if len(b) < 2 {
		return nil, errors.New("packet too short for an opcode")
	}
	if len(b) > maxRequest {
		return nil, fmt.Errorf("request of %d bytes is longer than %d", len(b), maxRequest)
	}
	op := binary.BigEndian.Uint16(b)
	if op != opRRQ && op != opWRQ {
		return nil, fmt.Errorf("opcode %d is not a read or write request", op)
	}
	fields, err := splitStrings(b[2:])
	if err != nil {
		return nil, err
	}
	if len(fields) < 2 {
		return nil, errors.New("request lacks a file name or mode")
	}
	r := &Request{Write: op == opWRQ, Filename: fields[0], Mode: strings.ToLower(fields[1])}
	if r.Filename == "" {
		return nil, errors.New("empty file name")
	}
	switch r.Mode {
	case "octet", "netascii":
	default:
		return nil, fmt.Errorf("transfer mode %q is not supported (octet, netascii)", fields[1])
	}
	opts := fields[2:]
	if len(opts)%2 != 0 {
		return nil, fmt.Errorf("option %q has no value", opts[len(opts)-1])
	}
	for i := 0; i < len(opts); i += 2 {
		name := strings.ToLower(opts[i])
		if name == "" {
			return nil, errors.New("empty option name")
		}
		if _, dup := r.Option(name); dup {
			return nil, fmt.Errorf("option %q repeated", name)
		}
		r.Options = append(r.Options, Option{Name: name, Value: opts[i+1]})
	}
	return r, nil
}

// splitStrings splits a sequence of NUL-terminated strings. The last one
// must be terminated too.
func splitStrings(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, errors.New("string not terminated by NUL")
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	return out, nil
}

// marshal encodes a request, for tests and clients.
func (r *Request) marshal() []byte {
	op := uint16(opRRQ)
	if r.Write {
		op = opWRQ
	}
	b := binary.BigEndian.AppendUint16(nil, op)
	b = append(append(b, r.Filename...), 0)
	b = append(append(b, r.Mode...), 0)
	for _, o := range r.Options {
		b = append(append(b, o.Name...), 0)
		b = append(append(b, o.Value...), 0)
	}
	return b
}

// appendData appends a DATA packet header to b.
func appendData(b []byte, block uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, opDATA)
	return binary.BigEndian.AppendUint16(b, block)
}

// errorPacket encodes an ERROR packet.
func errorPacket(code uint16, msg string) []byte {
	b := binary.BigEndian.AppendUint16(nil, opERROR)
	b = binary.BigEndian.AppendUint16(b, code)
	return append(append(b, msg...), 0)
}

// oackPacket encodes an OACK packet.
func oackPacket(opts []Option) []byte {
	b := binary.BigEndian.AppendUint16(nil, opOACK)
	for _, o := range opts {
		b = append(append(b, o.Name...), 0)
		b = append(append(b, o.Value...), 0)
	}
	return b
}

// reply is a packet a client sends during a read transfer.
type reply struct {
	op    uint16 // opACK or opERROR
	block uint16 // ACK: block number; ERROR: error code
	msg   string // ERROR: message
}

// parseReply parses an ACK or ERROR packet from the client.
func parseReply(b []byte) (reply, error) {
	if len(b) < 4 {
		return reply{}, fmt.Errorf("packet of %d bytes too short", len(b))
	}
	r := reply{op: binary.BigEndian.Uint16(b), block: binary.BigEndian.Uint16(b[2:])}
	switch r.op {
	case opACK:
		return r, nil
	case opERROR:
		msg := b[4:]
		if i := bytes.IndexByte(msg, 0); i >= 0 {
			msg = msg[:i]
		}
		r.msg = string(msg)
		return r, nil
	}
	return reply{}, fmt.Errorf("unexpected opcode %d during a read transfer", r.op)
}
