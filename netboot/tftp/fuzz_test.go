package tftp

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

// FuzzParseRequest checks that any packet is parsed or refused without a
// panic, and that what parses survives a round trip.
func FuzzParseRequest(f *testing.F) {
	for _, r := range []*Request{
		{Filename: "undionly.kpxe", Mode: "octet"},
		{Filename: "a/b", Mode: "netascii", Options: []Option{{"tsize", "0"}, {"blksize", "1468"}}},
		{Write: true, Filename: "x", Mode: "octet", Options: []Option{{"windowsize", "16"}}},
	} {
		f.Add(r.marshal())
	}
	f.Add([]byte{0, 1})
	f.Add([]byte{0, 1, 'a', 0, 'o', 'c', 't', 'e', 't', 0, 'b', 0})
	f.Add([]byte{0, 5, 0, 1, 'x', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		if r.Filename == "" || (r.Mode != "octet" && r.Mode != "netascii") {
			t.Fatalf("accepted %+v", r)
		}
		again, err := ParseRequest(r.marshal())
		if err != nil {
			t.Fatalf("round trip of %+v: %v", r, err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("round trip changed %+v to %+v", r, again)
		}
		// Replies parse or fail, never panic.
		parseReply(b)
	})
}

// FuzzNegotiate checks that negotiated settings stay within the limits
// whatever the client asks for.
func FuzzNegotiate(f *testing.F) {
	f.Add("blksize", "1468", "windowsize", "16", int64(100), 1468)
	f.Add("timeout", "0", "tsize", "-1", int64(-1), 8)
	f.Add("blksize", "99999999999999999999", "windowsize", "-5", int64(0), 65536)
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string, size int64, maxBlock int) {
		if maxBlock < minBlockSize {
			maxBlock = minBlockSize
		}
		req := &Request{Filename: "f", Mode: "octet", Options: []Option{{n1, v1}, {n2, v2}}}
		oack, p := negotiate(req, size, maxBlock, 64, 5*time.Second)
		if p.blockSize < minBlockSize || p.blockSize > maxBlockSize || (p.blockSize > maxBlock && p.blockSize != defaultBlockSize) {
			t.Fatalf("block size %d (max %d)", p.blockSize, maxBlock)
		}
		if p.window < 1 || p.window > 64 {
			t.Fatalf("window %d", p.window)
		}
		if p.timeout < 0 || p.timeout > 5*time.Second {
			t.Fatalf("timeout %v", p.timeout)
		}
		for _, o := range oack {
			if _, err := strconv.ParseInt(o.Value, 10, 64); err != nil {
				t.Fatalf("OACK value %q", o.Value)
			}
		}
	})
}
