package bcache

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// countingDev counts device reads and can fail them.
type countingDev struct {
	*blockdev.MemDisk
	reads   atomic.Int64
	batches atomic.Int64
	fail    atomic.Bool
}

func (d *countingDev) Read(reqs []blockdev.Req) error {
	if d.fail.Load() {
		return errors.New("injected read error")
	}
	d.reads.Add(int64(len(reqs)))
	d.batches.Add(1)
	return d.MemDisk.Read(reqs)
}

func newDev(n uint64) *countingDev {
	d := &countingDev{MemDisk: blockdev.NewMemDisk(n)}
	for i := range n {
		var b blockdev.Block
		b[0] = byte(i)
		d.MemDisk.Write([]blockdev.Req{{LBA: i, Data: &b}})
	}
	return d
}

func TestReadHitMiss(t *testing.T) {
	d := newDev(100)
	c := New(d, 32)
	b, err := c.Read(7)
	if err != nil || b.Data[0] != 7 || b.Block() != 7 {
		t.Fatal(err)
	}
	c.Release(b)
	b, _ = c.Read(7)
	c.Release(b)
	if d.reads.Load() != 1 {
		t.Fatalf("%d device reads", d.reads.Load())
	}
	st := c.Stats()
	if st.Hits != 1 || st.Misses != 1 || st.Resident != 1 || st.Bytes() != blockdev.BlockSize {
		t.Fatalf("%+v", st)
	}
	if _, err := c.Read(100); err == nil {
		t.Fatal("read past the end")
	}
}

func TestReadBatch(t *testing.T) {
	d := newDev(100)
	c := New(d, 64)
	b, _ := c.Read(5)
	c.Release(b)
	bufs, err := c.ReadBatch([]uint64{4, 5, 6, 50})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []byte{4, 5, 6, 50} {
		if bufs[i].Data[0] != want {
			t.Fatal(i)
		}
		c.Release(bufs[i])
	}
	// One batch for the three misses.
	if d.batches.Load() != 2 || d.reads.Load() != 4 {
		t.Fatalf("%d batches, %d reads", d.batches.Load(), d.reads.Load())
	}
}

func TestEvictionAndPins(t *testing.T) {
	d := newDev(200)
	c := New(d, 16)
	pinned, _ := c.Read(0)
	c.Pin(pinned)
	pinned.Data[1] = 42 // a change only the cache has
	c.Release(pinned)
	for i := uint64(1); i < 100; i++ {
		b, err := c.Read(i)
		if err != nil {
			t.Fatal(err)
		}
		c.Release(b)
	}
	if st := c.Stats(); st.Resident > 16 || st.Pinned != 1 {
		t.Fatalf("%+v", st)
	}
	b, _ := c.Read(0)
	if b.Data[1] != 42 {
		t.Fatal("a pinned block was evicted")
	}
	c.Unpin(b)
	c.Release(b)
	// The most recently used stay.
	before := d.reads.Load()
	b, _ = c.Read(99)
	c.Release(b)
	if d.reads.Load() != before {
		t.Fatal("the most recent block was evicted")
	}
	// Referenced blocks stay even past the capacity, which is soft.
	var held []*Buf
	for i := uint64(100); i < 140; i++ {
		b, _ := c.Read(i)
		held = append(held, b)
	}
	if st := c.Stats(); st.Resident < 40 {
		t.Fatalf("%+v", st)
	}
	for _, b := range held {
		c.Release(b)
	}
	if st := c.Stats(); st.Resident > 16 {
		t.Fatalf("did not shrink back: %+v", st)
	}
}

func TestFreshAndOverwrite(t *testing.T) {
	d := newDev(10)
	c := New(d, 16)
	b := c.Fresh(3)
	if !blockdev.IsZero(b.Data) {
		t.Fatal("not zeroed")
	}
	c.Release(b)
	b = c.ForOverwrite(4)
	c.Release(b)
	if d.reads.Load() != 0 {
		t.Fatal("read from the device")
	}
	// Fresh on a cached block zeroes it; ForOverwrite keeps it.
	b, _ = c.Read(5)
	c.Release(b)
	b = c.ForOverwrite(5)
	if b.Data[0] != 5 {
		t.Fatal("ForOverwrite changed a cached block")
	}
	c.Release(b)
	b = c.Fresh(5)
	if b.Data[0] != 0 {
		t.Fatal("Fresh did not zero a cached block")
	}
	c.Release(b)
	var data blockdev.Block
	data[9] = 9
	c.Overlay(6, &data)
	b, _ = c.Read(6)
	if b.Data[9] != 9 {
		t.Fatal("overlay")
	}
	c.Release(b)
}

func TestReadErrorNotCached(t *testing.T) {
	d := newDev(10)
	c := New(d, 16)
	d.fail.Store(true)
	if _, err := c.Read(1); err == nil {
		t.Fatal("no error")
	}
	if _, err := c.ReadBatch([]uint64{1, 2}); err == nil {
		t.Fatal("no error")
	}
	d.fail.Store(false)
	b, err := c.Read(1)
	if err != nil || b.Data[0] != 1 {
		t.Fatal("a failed read was cached", err)
	}
	c.Release(b)
}

func TestConcurrentLoadsReadOnce(t *testing.T) {
	d := newDev(64)
	c := New(d, 128)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 64 {
				b, err := c.Read(uint64((i + g) % 64))
				if err != nil || b.Data[0] != byte((i+g)%64) {
					t.Error("bad read", err)
					return
				}
				b.Lock()
				b.Data[100]++
				b.Unlock()
				c.Release(b)
			}
		}()
	}
	wg.Wait()
	if d.reads.Load() != 64 {
		t.Fatalf("%d device reads for 64 blocks", d.reads.Load())
	}
}

func TestReleasePanics(t *testing.T) {
	c := New(newDev(4), 16)
	b, _ := c.Read(1)
	c.Release(b)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	c.Release(b)
}
