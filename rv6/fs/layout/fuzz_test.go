package layout

import (
	"testing"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// The parsers take untrusted bytes: they must return an error or a value
// that encodes back to what decodes the same, never panic.

func block(data []byte) *blockdev.Block {
	var b blockdev.Block
	copy(b[:], data)
	return &b
}

func FuzzSuperblock(f *testing.F) {
	sb, _ := NewSuperblock(4096, 0, 0)
	var b blockdev.Block
	sb.Encode(&b)
	f.Add(b[:64])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sb, err := DecodeSuperblock(block(data))
		if err != nil {
			return
		}
		var b2 blockdev.Block
		sb.Encode(&b2)
		sb2, err := DecodeSuperblock(&b2)
		if err != nil || sb2 != sb {
			t.Fatalf("round trip: %+v -> %+v, %v", sb, sb2, err)
		}
		if sb.DataStart() >= sb.Size {
			t.Fatalf("accepted a superblock with no data blocks: %+v", sb)
		}
	})
}

func FuzzDinode(f *testing.F) {
	raw := make([]byte, InodeSize)
	(&Dinode{Type: TypeDir, Nlink: 2, Size: BlockSize, Blocks: 1, Addrs: [NAddrs]uint32{99}}).Encode(raw)
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeDinode(data)
		if err != nil {
			return
		}
		raw := make([]byte, InodeSize)
		d.Encode(raw)
		if d2, err := DecodeDinode(raw); err != nil || d2 != d {
			t.Fatalf("round trip: %+v -> %+v, %v", d, d2, err)
		}
	})
}

func FuzzDirent(f *testing.F) {
	raw := make([]byte, DirentSize)
	(&Dirent{Inum: 5, Type: TypeFile, Name: "hello"}).Encode(raw)
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeDirent(data)
		if err != nil || e.Inum == 0 {
			return
		}
		if CheckName(e.Name) != nil {
			t.Fatalf("decoded an invalid name %q", e.Name)
		}
		raw := make([]byte, DirentSize)
		e.Encode(raw)
		if e2, err := DecodeDirent(raw); err != nil || e2 != e {
			t.Fatalf("round trip: %+v -> %+v, %v", e, e2, err)
		}
	})
}

func FuzzLogHeader(f *testing.F) {
	var b blockdev.Block
	h := LogHeader{Seq: 3, Blocks: []uint32{1, 200, 300}}
	h.CRC = h.Sum(nil)
	h.Encode(&b)
	f.Add(b[:64])
	sb, _ := NewSuperblock(4096, 0, 64)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeLogHeader(block(data))
		if err != nil {
			return
		}
		if len(h.Blocks) > MaxLogEntries {
			t.Fatal("too many blocks")
		}
		_ = h.CheckBlocks(&sb)
		_ = h.Sum(nil)
		var b2 blockdev.Block
		h.Encode(&b2)
		h2, err := DecodeLogHeader(&b2)
		if err != nil || h2.Seq != h.Seq || h2.CRC != h.CRC || len(h2.Blocks) != len(h.Blocks) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
