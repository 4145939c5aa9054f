package faultcampaign

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// blockClient writes batches of blocks through a shadow of a BlockDevice
// and reads them back, verifying every byte against what it wrote last.
type blockClient struct {
	dev     idl.BlockDevice
	heap    *rref.Account
	blocks  uint64
	version []uint32 // per block: what it holds (0: never written, unknown: an error left it uncertain)
	next    uint32
}

const unknown = ^uint32(0)

func newBlockClient(dev idl.BlockDevice, heap *rref.Account, blocks uint64) *blockClient {
	return &blockClient{dev: dev, heap: heap, blocks: blocks, version: make([]uint32, blocks)}
}

// pattern fills b with the contents of version v of block lba.
func pattern(b *idl.Block, lba uint64, v uint32) {
	x := lba*0x9e3779b97f4a7c15 ^ uint64(v)<<32 ^ 0x5851f42d4c957f2d
	for i := 0; i < len(b); i += 8 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		binary.LittleEndian.PutUint64(b[i:], x*0x2545f4914f6cdd1d)
	}
}

func (c *blockClient) Close() {}

// Op writes a batch of 1-8 random blocks with new versions, then reads
// them back and verifies them.
func (c *blockClient) Op(rng *rand.Rand) (units, mismatches int, err error) {
	n := 1 + rng.IntN(8)
	lbas := make([]uint64, 0, n)
	seen := map[uint64]bool{}
	for len(lbas) < n {
		l := rng.Uint64N(c.blocks)
		if !seen[l] {
			seen[l] = true
			lbas = append(lbas, l)
		}
	}
	c.next++
	v := c.next
	if err := c.batch(lbas, true, func(r *idl.BlockReq) { pattern(&r.Data, r.LBA, v) }, nil); err != nil {
		for _, l := range lbas {
			c.version[l] = unknown
		}
		return 0, 0, fmt.Errorf("write: %w", err)
	}
	for _, l := range lbas {
		c.version[l] = v
	}
	var want idl.Block
	err = c.batch(lbas, false, nil, func(r *idl.BlockReq) {
		ver := c.version[r.LBA]
		if ver == unknown {
			return
		}
		pattern(&want, r.LBA, ver)
		if r.Data != want {
			mismatches++
		} else {
			units++
		}
	})
	if err != nil {
		return units, mismatches, fmt.Errorf("read: %w", err)
	}
	return units, mismatches, nil
}

// batch moves one batch of requests for lbas to the device and back: fill
// sets each request up before a write, check looks at each after a read.
func (c *blockClient) batch(lbas []uint64, write bool, fill, check func(*idl.BlockReq)) error {
	q := rref.NewDeque[idl.BlockReq](c.heap, len(lbas))
	for _, l := range lbas {
		r := rref.New(c.heap, idl.BlockReq{LBA: l})
		if fill != nil {
			fill(r.Get())
		}
		q.PushBack(r)
	}
	var out rref.Deque[idl.BlockReq]
	var err error
	if write {
		out, err = c.dev.Write(q)
	} else {
		out, err = c.dev.Read(q)
	}
	if err != nil {
		// Whatever the proxy gave back, and whatever the driver returned
		// with its error: the client drops both (a leak shows in Live).
		back := q.Valid()
		rref.DiscardDeque(q)
		rref.DiscardDeque(out)
		if !back {
			return fmt.Errorf("%w (the batch did not come back)", err)
		}
		return err
	}
	defer out.Drop()
	if out.Len() != len(lbas) {
		return fmt.Errorf("the device returned %d of %d requests", out.Len(), len(lbas))
	}
	for i := range out.Len() {
		r := out.At(i)
		if r.Status != idl.BlockOK {
			return fmt.Errorf("block %d: status %d", r.LBA, r.Status)
		}
		if check != nil {
			check(r)
		}
	}
	return nil
}
