package layout

import (
	"errors"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

func TestNewSuperblock(t *testing.T) {
	// 16 GiB: the size the issue asks for at least.
	sb, err := NewSuperblock(16<<30/BlockSize, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sb.NLog != MaxLogBlocks || sb.NInodes != 16<<30/BlockSize/16 || sb.NBitmap != 128 {
		t.Fatalf("%+v", sb)
	}
	if sb.InodeStart() != LogStart+sb.NLog || sb.DataStart() != sb.BitmapStart()+sb.NBitmap {
		t.Fatal("regions")
	}
	// The largest, and too large.
	if _, err := NewSuperblock(MaxBlocks, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSuperblock(MaxBlocks+1, 0, 0); !errors.Is(err, errno.EINVAL) {
		t.Fatal(err)
	}
	if _, err := NewSuperblock(38, 0, 0); !errors.Is(err, errno.ENOSPC) {
		t.Fatal(err)
	}
	if _, err := NewSuperblock(4096, 0, 10); !errors.Is(err, errno.EINVAL) {
		t.Fatal(err)
	}
	// Inodes round up to whole blocks.
	sb, _ = NewSuperblock(4096, 33, 0)
	if sb.NInodes != 64 || sb.NInodeBlocks != 2 {
		t.Fatalf("%+v", sb)
	}
	blk, off := sb.InodeBlock(33)
	if blk != sb.InodeStart()+1 || off != InodeSize {
		t.Fatal(blk, off)
	}
	bb, bit := sb.BitmapBlock(BitsPerBlock + 5)
	if bb != sb.BitmapStart()+1 || bit != 5 {
		t.Fatal(bb, bit)
	}
}

func TestSuperblockEncoding(t *testing.T) {
	sb, _ := NewSuperblock(100_000, 0, 0)
	sb.State, sb.Created = StateMounted, 1234
	var b blockdev.Block
	sb.Encode(&b)
	got, err := DecodeSuperblock(&b)
	if err != nil || got != sb {
		t.Fatalf("%+v, %v", got, err)
	}
	corrupt := []struct {
		name string
		off  int
		want string
	}{
		{"magic", 0, "magic"},
		{"crc", 60, "checksum"},
		{"size", 16, "checksum"},
	}
	for _, c := range corrupt {
		b2 := b
		b2[c.off] ^= 1
		if _, err := DecodeSuperblock(&b2); !errors.Is(err, errno.EUCLEAN) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Valid checksums over invalid geometry.
	for _, bad := range []func(*Superblock){
		func(s *Superblock) { s.NLog = 2 },
		func(s *Superblock) { s.NBitmap++ },
		func(s *Superblock) { s.NInodeBlocks++ },
		func(s *Superblock) { s.State = 7 },
		func(s *Superblock) { s.Size = s.DataStart() },
	} {
		s := sb
		bad(&s)
		s.Encode(&b)
		if _, err := DecodeSuperblock(&b); !errors.Is(err, errno.EUCLEAN) {
			t.Errorf("%+v decodes: %v", s, err)
		}
	}
}

func TestDinode(t *testing.T) {
	d := Dinode{Type: TypeFile, Nlink: 3, Size: 1 << 32, Blocks: 7, Mtime: -5, Ctime: 9}
	for i := range d.Addrs {
		d.Addrs[i] = uint32(1000 + i)
	}
	raw := make([]byte, InodeSize)
	d.Encode(raw)
	if PeekType(raw) != TypeFile {
		t.Fatal("peek")
	}
	got, err := DecodeDinode(raw)
	if err != nil || got != d {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, bad := range []Dinode{
		{Type: 3},
		{Type: TypeFile, Size: uint64(MaxFileSize) + 1},
		{Type: TypeDir, Size: 100},
		{Type: TypeDir, Size: MaxDirSize + BlockSize},
	} {
		bad.Encode(raw)
		if _, err := DecodeDinode(raw); !errors.Is(err, errno.EUCLEAN) {
			t.Errorf("%+v decodes: %v", bad, err)
		}
	}
	if _, err := DecodeDinode(raw[:10]); err == nil {
		t.Error("short dinode decodes")
	}
}

func TestDirent(t *testing.T) {
	raw := make([]byte, DirentSize)
	e := Dirent{Inum: 42, Type: TypeDir, Name: strings.Repeat("n", NameMax)}
	e.Encode(raw)
	if got, err := DecodeDirent(raw); err != nil || got != e {
		t.Fatalf("%+v, %v", got, err)
	}
	(&Dirent{}).Encode(raw)
	if got, err := DecodeDirent(raw); err != nil || got.Inum != 0 {
		t.Fatal(got, err)
	}
	for _, mut := range []func([]byte){
		func(b []byte) { b[4] = 9 },           // type
		func(b []byte) { b[5] = 0 },           // empty name
		func(b []byte) { b[5] = NameMax + 1 }, // too long
		func(b []byte) { b[6] = '/' },         // slash
		func(b []byte) { b[5], b[6] = 1, 0 },  // NUL
	} {
		(&Dirent{Inum: 1, Type: TypeFile, Name: "abc"}).Encode(raw)
		mut(raw)
		if _, err := DecodeDirent(raw); !errors.Is(err, errno.EUCLEAN) {
			t.Errorf("decodes: %v", err)
		}
	}
	for name, want := range map[string]error{"a": nil, ".": nil, "": errno.EINVAL, "a/b": errno.EINVAL, "a\x00": errno.EINVAL,
		strings.Repeat("x", NameMax+1): errno.ENAMETOOLONG} {
		if err := CheckName(name); err != want {
			t.Errorf("CheckName(%q) = %v, want %v", name, err, want)
		}
	}
}

func TestLogHeader(t *testing.T) {
	sb, _ := NewSuperblock(4096, 0, 64)
	data := []*blockdev.Block{new(blockdev.Block), new(blockdev.Block)}
	data[1][7] = 1
	h := LogHeader{Seq: 9, Blocks: []uint32{1, sb.DataStart()}}
	h.CRC = h.Sum(data)
	var b blockdev.Block
	h.Encode(&b)
	got, err := DecodeLogHeader(&b)
	if err != nil || got.Seq != 9 || got.CRC != h.CRC || len(got.Blocks) != 2 || got.Blocks[1] != sb.DataStart() {
		t.Fatalf("%+v, %v", got, err)
	}
	if err := got.CheckBlocks(&sb); err != nil {
		t.Fatal(err)
	}
	data[0][0] = 1
	if h.Sum(data) == h.CRC {
		t.Fatal("the checksum does not cover the logged blocks")
	}
	for _, blocks := range [][]uint32{{0}, {LogStart + 1}, {sb.Size}, {5000, 5000}} {
		h := LogHeader{Blocks: blocks}
		if err := h.CheckBlocks(&sb); !errors.Is(err, errno.EUCLEAN) {
			t.Errorf("%v: %v", blocks, err)
		}
	}
	b[0] ^= 1
	if _, err := DecodeLogHeader(&b); !errors.Is(err, errno.EUCLEAN) {
		t.Fatal(err)
	}
}
