package stack

import (
	"encoding/binary"
	"testing"
	"time"
)

func FuzzEther(f *testing.F) {
	f.Add(make([]byte, 14))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := parseEther(b)
		if err == nil && (len(p) != len(b)-14 || h.typ != binary.BigEndian.Uint16(b[12:])) {
			t.Fatalf("header %+v payload %d of %d", h, len(p), len(b))
		}
	})
}

func FuzzARP(f *testing.F) {
	b := make([]byte, 28)
	putARP(b, arpPacket{op: arpRequest, spa: addrA, tpa: addrB})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseARP(b)
		if err != nil {
			return
		}
		out := make([]byte, 28)
		putARP(out, p)
		if string(out) != string(b[:28]) {
			t.Fatalf("round trip % x -> % x", b[:28], out)
		}
	})
}

func FuzzIPv4(f *testing.F) {
	s := &Stack{cfg: Config{Addr: addrA}}
	b := make([]byte, 40)
	s.putIPv4(b, addrB, protoUDP, 20)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := parseIPv4(b)
		if err != nil {
			return
		}
		if len(p) > len(b)-20 || Checksum(b[:int(b[0]&0xf)*4]) != 0 || h.src != [4]byte(b[12:16]) {
			t.Fatalf("accepted a bad header % x", b)
		}
	})
}

func FuzzTCPOptions(f *testing.F) {
	f.Add([]byte{optMSS, 4, 5, 0xb4, optNOP, optWScale, 3, 7})
	f.Add([]byte{optWScale, 3, 200, optEnd})
	f.Add([]byte{8, 10, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, o []byte) {
		g := tcpSegment{wscale: -1}
		if err := parseTCPOptions(o, &g); err == nil && g.wscale > maxWScale {
			t.Fatalf("window scale %d above 14", g.wscale)
		}
		seg := make([]byte, 20+len(o)&^3)
		copy(seg[20:], o)
		seg[12] = byte(len(seg)/4) << 4
		parseTCP(seg)
	})
}

// FuzzInput feeds arbitrary frames to a stack with a listener and a
// connection: nothing may panic.
func FuzzInput(f *testing.F) {
	p := newPair(f, 99, Config{})
	client, _ := p.connect(80)
	client.Write([]byte("hello"))
	p.round()
	var frames [][]byte
	p.net.a.filter = func(b []byte) bool { frames = append(frames, append([]byte(nil), b...)); return true }
	p.net.b.filter = p.net.a.filter
	client.Write([]byte("more"))
	for range 10 {
		p.round()
	}
	for _, fr := range frames {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p.net.a.filter, p.net.b.filter = nil, nil
		p.b.input(b, p.now)
		p.a.input(b, p.now)
		if len(b) > 34 {
			// Also as TCP with a correct checksum, to get past it.
			c := append([]byte(nil), b...)
			c[12], c[13] = 0x08, 0x00
			copy(c[0:6], p.b.mac[:])
			ip := c[14:]
			ip[0], ip[9] = 0x45, protoTCP
			binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
			binary.BigEndian.PutUint16(ip[6:], 0)
			copy(ip[12:16], addrA[:])
			copy(ip[16:20], addrB[:])
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:], Checksum(ip[:20]))
			seg := ip[20:]
			if len(seg) >= 20 {
				seg[16], seg[17] = 0, 0
				binary.BigEndian.PutUint16(seg[16:], fold(sum(pseudoSum(addrA, addrB, protoTCP, len(seg)), seg)))
			}
			p.b.input(c, p.now)
		}
		p.now += time.Millisecond
		p.a.Poll(p.now)
		p.b.Poll(p.now)
	})
}
