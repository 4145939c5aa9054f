package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// sum16 is RFC 1071's sum, 16 bits at a time: the reference.
func sum16(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func TestSumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2048)
	for i := range 20000 {
		for j := range buf {
			switch i % 4 {
			case 0:
				buf[j] = 0xff // every carry
			case 1:
				buf[j] = byte(r.Uint32()) | 0xf0
			default:
				buf[j] = byte(r.Uint32())
			}
		}
		off, n := r.IntN(8), r.IntN(1600)
		b := buf[off : off+n]
		s0 := uint32(r.IntN(3 * 0xffff))
		if got, want := fold(sum(s0, b)), fold(sum16(s0, b)); got != want {
			t.Fatalf("len %d off %d start %#x: checksum %#04x, want %#04x", n, off, s0, got, want)
		}
	}
}

func BenchmarkChecksum1460(b *testing.B) {
	buf := make([]byte, 1460)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sink16 = fold(sum(0, buf))
	}
}

func BenchmarkChecksum1460Words16(b *testing.B) {
	buf := make([]byte, 1460)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sink16 = fold(sum16(0, buf))
	}
}

var sink16 uint16
