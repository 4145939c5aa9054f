package tftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// testClient is a minimal TFTP reader for the tests, with hooks to lose
// packets and misbehave.
type testClient struct {
	server *net.UDPAddr
	// drop, if set, is called for each DATA block received (n counts
	// receptions of that block from 1) and drops it when it returns true.
	drop func(block uint16, n int) bool
	// dupACK sends every ACK twice.
	dupACK bool
	// abortAfter sends an ERROR after this many blocks (0: never).
	abortAfter int
	timeout    time.Duration
	// ackDelay waits before each ACK.
	ackDelay time.Duration
	// local is the client's address (default 127.0.0.1).
	local net.IP
}

type getResult struct {
	data     []byte
	oack     map[string]string
	errCode  int // ERROR code from the server, -1 if none
	errMsg   string
	received int // DATA packets received, duplicates included
	tid      *net.UDPAddr
}

func (c *testClient) get(name, mode string, opts ...Option) (*getResult, error) {
	local := c.local
	if local == nil {
		local = net.IPv4(127, 0, 0, 1)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: local})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req := (&Request{Filename: name, Mode: mode, Options: opts}).marshal()
	if _, err := conn.WriteToUDP(req, c.server); err != nil {
		return nil, err
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	res := &getResult{errCode: -1}
	blockSize, window := 512, 1
	var (
		expect   uint16 = 1
		inWindow int
		seen     = map[uint16]int{}
		buf      = make([]byte, 70000)
	)
	ack := func(b uint16) {
		time.Sleep(c.ackDelay)
		p := binary.BigEndian.AppendUint16(nil, opACK)
		p = binary.BigEndian.AppendUint16(p, b)
		conn.WriteToUDP(p, res.tid)
		if c.dupACK {
			conn.WriteToUDP(p, res.tid)
		}
	}
	for {
		conn.SetReadDeadline(time.Now().Add(timeout))
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && res.tid != nil {
				// RFC 7440: on timeout acknowledge the last block in order.
				ack(expect - 1)
				inWindow = 0
				continue
			}
			return res, err
		}
		if res.tid == nil {
			res.tid = from
		} else if from.String() != res.tid.String() {
			return res, fmt.Errorf("packet from %v, transfer is with %v", from, res.tid)
		}
		p := buf[:n]
		op := binary.BigEndian.Uint16(p)
		switch op {
		case opERROR:
			res.errCode = int(binary.BigEndian.Uint16(p[2:]))
			res.errMsg = string(bytes.TrimRight(p[4:], "\x00"))
			return res, nil
		case opOACK:
			fields, err := splitStrings(p[2:])
			if err != nil {
				return res, err
			}
			res.oack = map[string]string{}
			for i := 0; i+1 < len(fields); i += 2 {
				res.oack[fields[i]] = fields[i+1]
			}
			if v, ok := res.oack["blksize"]; ok {
				blockSize, _ = strconv.Atoi(v)
			}
			if v, ok := res.oack["windowsize"]; ok {
				window, _ = strconv.Atoi(v)
			}
			ack(0)
		case opDATA:
			block := binary.BigEndian.Uint16(p[2:])
			res.received++
			seen[block]++
			if c.drop != nil && c.drop(block, seen[block]) {
				continue
			}
			if block != expect {
				// Out of order: a block was lost. Acknowledge the last
				// one received in order and start a new window.
				if block != expect-1 {
					ack(expect - 1)
					inWindow = 0
				}
				continue
			}
			res.data = append(res.data, p[4:]...)
			expect++
			inWindow++
			last := len(p)-4 < blockSize
			if c.abortAfter > 0 && int(expect-1) >= c.abortAfter {
				e := errorPacket(errUndefined, "changed my mind")
				conn.WriteToUDP(e, res.tid)
				return res, nil
			}
			if inWindow == window || last {
				ack(block)
				inWindow = 0
			}
			if last {
				return res, nil
			}
		default:
			return res, fmt.Errorf("unexpected opcode %d", op)
		}
	}
}
