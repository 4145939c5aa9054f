package virtionet

import (
	"testing"

	"github.com/rlgo/redleaf/kernel/dma"
)

// fakeDevice is the device side of a queue, in memory: it takes what the
// driver made available and returns it used, as a device does.
type fakeDevice struct {
	q        *queue
	seen     uint16 // avail entries taken
	usedIdx  uint16
	held     []uint32 // descriptors taken, not yet used
	noNotify bool
}

// take takes every newly available descriptor.
func (f *fakeDevice) take() int {
	idx := f.q.avail.Get16(2)
	n := 0
	for ; f.seen != idx; f.seen++ {
		f.held = append(f.held, uint32(f.q.avail.Get16(ringHeaderLen+2*int(f.seen&(f.q.size-1)))))
		n++
	}
	return n
}

// complete returns the first k held descriptors, with n bytes written.
func (f *fakeDevice) complete(k int, n uint32) {
	for _, id := range f.held[:k] {
		off := ringHeaderLen + usedElemSize*int(f.usedIdx&(f.q.size-1))
		f.q.used.Put32(off, id)
		f.q.used.Put32(off+4, n)
		f.usedIdx++
	}
	f.held = f.held[:copy(f.held, f.held[k:])]
	var flags uint16
	if f.noNotify {
		flags = usedNoNotify
	}
	f.q.used.Put16(0, flags)
	f.q.used.Put16(2, f.usedIdx)
}

func testQueue(t testing.TB, size int, write bool) *queue {
	t.Helper()
	a := dma.NewContiguous(make([]byte, 4<<20), 1<<30)
	q, err := newQueue(a, 1, size, write)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestQueueLayout(t *testing.T) {
	q := testQueue(t, 8, true)
	if q.desc.Phys()%4096 != 0 || q.avail.Phys()%2 != 0 || q.used.Phys()%4 != 0 {
		t.Errorf("alignment: desc %#x avail %#x used %#x", q.desc.Phys(), q.avail.Phys(), q.used.Phys())
	}
	for i, b := range q.bufs {
		off := i * descSize
		if q.desc.Get64(off) != b.Phys() || q.desc.Get32(off+8) != bufSize || q.desc.Get16(off+12) != descWrite || q.desc.Get16(off+14) != 0 {
			t.Errorf("descriptor %d: addr %#x len %d flags %d", i, q.desc.Get64(off), q.desc.Get32(off+8), q.desc.Get16(off+12))
		}
	}
	if q.avail.Get16(0) != availNoIntr {
		t.Error("interrupts not suppressed")
	}
	if tq := testQueue(t, 8, false); tq.desc.Get16(12) != 0 {
		t.Error("transmit descriptor writable by the device")
	}
	for _, bad := range []int{0, 3, 1 << 16} {
		if _, err := newQueue(dma.NewContiguous(make([]byte, 1<<20), 0), 0, bad, false); err == nil {
			t.Errorf("queue of %d accepted", bad)
		}
	}
}

// TestQueueWrap runs a queue of 8 through more than 2^16 buffers, so that
// both 16-bit indices wrap, with the device returning them in varying
// batches: every descriptor comes back once, in the order the device used
// them, and the free count returns to the size.
func TestQueueWrap(t *testing.T) {
	q := testQueue(t, 8, false)
	dev := &fakeDevice{q: q}
	const total = 70000
	sent, done, notifies := 0, 0, 0
	for done < total {
		for sent < total {
			id, ok := q.take()
			if !ok {
				break
			}
			q.add(id, hdrLen+sent%1500)
			sent++
		}
		if q.publish() {
			notifies++
		}
		if q.inFlight() > int(q.size) {
			t.Fatalf("%d in flight", q.inFlight())
		}
		dev.take()
		k := 1 + done%len(dev.held)
		want := append([]uint32(nil), dev.held[:k]...)
		dev.noNotify = done%3 == 0
		dev.complete(k, 0)
		for i := range k {
			id, n, ok := q.nextUsed()
			if !ok || id != want[i] || n != 0 {
				t.Fatalf("used %d: %d %d %v, want %d", done, id, n, ok, want[i])
			}
			q.release(uint16(id))
			done++
		}
		if _, _, ok := q.nextUsed(); ok {
			t.Fatal("a used entry that the device did not write")
		}
	}
	if q.next != total%(1<<16) || q.lastUsed != total%(1<<16) || len(q.free) != 8 {
		t.Errorf("next %d lastUsed %d free %d", q.next, q.lastUsed, len(q.free))
	}
	if notifies == 0 || notifies == total {
		t.Errorf("%d notifications", notifies)
	}
	// A device that says it polls is not notified.
	dev.noNotify = true
	dev.complete(0, 0)
	id, _ := q.take()
	q.add(id, 100)
	if q.publish() {
		t.Error("notified a device that set NO_NOTIFY")
	}
	if q.publish() {
		t.Error("nothing new, yet publish reported something")
	}
}
