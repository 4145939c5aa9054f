package faultdev

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

func blk(v byte) *blockdev.Block {
	var b blockdev.Block
	b[0] = v
	return &b
}

func byte0(d blockdev.Device, a uint64) byte {
	b, _ := blockdev.ReadBlock(d, a)
	return b[0]
}

func TestCrashAndImage(t *testing.T) {
	base := blockdev.NewMemDisk(16)
	base.Write([]blockdev.Req{{LBA: 0, Data: blk(9)}})
	d := New(base, 3)
	d.Write([]blockdev.Req{{LBA: 1, Data: blk(1)}})
	d.Flush()
	// Writes 1 and 2 land; write 3 (the batch's second block) crashes.
	err := d.Write([]blockdev.Req{{LBA: 2, Data: blk(2)}, {LBA: 3, Data: blk(3)}, {LBA: 4, Data: blk(4)}})
	if !errors.Is(err, ErrCrashed) || !d.Crashed() || d.Writes() != 3 || d.Pending() != 2 || d.Flushes() != 1 {
		t.Fatal(err, d.Writes(), d.Pending())
	}
	if _, err := blockdev.ReadBlock(d, 1); !errors.Is(err, ErrCrashed) || d.Flush() == nil {
		t.Fatal("the device works after the crash")
	}
	if byte0(base, 1) != 0 {
		t.Fatal("the base was written")
	}
	all := d.Image(AllPending, nil)
	if byte0(all, 0) != 9 || byte0(all, 1) != 1 || byte0(all, 2) != 2 || byte0(all, 3) != 3 || byte0(all, 4) != 0 {
		t.Fatal("AllPending image")
	}
	none := d.Image(NonePending, nil)
	if byte0(none, 1) != 1 || byte0(none, 2) != 0 || byte0(none, 3) != 0 {
		t.Fatal("NonePending image")
	}
	// Random subsets: over a few seeds, both blocks land and miss.
	seen := map[[2]byte]bool{}
	for s := range 32 {
		img := d.Image(RandomPending, rand.New(rand.NewPCG(uint64(s), 0)))
		seen[[2]byte{byte0(img, 2), byte0(img, 3)}] = true
	}
	if len(seen) != 4 {
		t.Fatal("random subsets", seen)
	}
	// A fork starts from the current contents, all durable.
	f := all.Fork(Never)
	f.Write([]blockdev.Req{{LBA: 5, Data: blk(5)}})
	if byte0(f.Image(NonePending, nil), 2) != 2 || byte0(f.Image(NonePending, nil), 5) != 0 || byte0(f.Snapshot(), 5) != 5 {
		t.Fatal("fork")
	}
	if byte0(all, 5) != 0 {
		t.Fatal("the fork wrote its parent")
	}
	d.Crash()
}
