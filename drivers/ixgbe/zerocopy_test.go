package ixgbe

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// zeroCopy brings up a driver, called directly, with a packet pool of
// cells cells in the model's DMA memory, its rings' cells owned by heap.
func zeroCopy(t *testing.T, mcfg model.Config, cfg Config, cells int) (*model.Model, *Device, *dma.CellPool[idl.Packet], *rref.Account) {
	t.Helper()
	mcfg.RAM = 4 << 20
	m := model.New(mcfg)
	pool, err := m.Packets("ixgbe test", cells)
	if err != nil {
		t.Fatal(err)
	}
	retire(t, pool, false)
	heap := testHeap(t)
	d, err := Open(m, cfg, Hooks{Sleep: quick.Sleep, Packets: pool, Heap: heap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if errs := m.Errors(); len(errs) > 0 {
			t.Errorf("the model saw the driver break the datasheet's rules:\n%v", errs)
		}
	})
	return m, d, pool, heap
}

// retire lets pool and its model's memory go when the test is over, after
// the domain manager's close (registered later: cleanups run last first)
// has killed the driver domains. With strict, a cell still out is a leak;
// without, the kernel's account (which the manager does not close) holds
// the rings of a driver called directly, and the pool stays with its
// model's memory: keep that small.
func retire(tb testing.TB, pool *dma.CellPool[idl.Packet], strict bool) {
	tb.Cleanup(func() {
		if err := pool.Retire(); err != nil && strict {
			tb.Error(err)
		}
	})
}

// cellBuffers is a deque of n free cells of pool.
func cellBuffers(t *testing.T, pool hw.CellPool[idl.Packet], heap *rref.Account, n int) rref.Deque[idl.Packet] {
	t.Helper()
	q := rref.NewDeque[idl.Packet](heap, n)
	for range n {
		c, ok := pool.Get(heap)
		if !ok {
			t.Fatal("packet pool empty")
		}
		q.PushBack(c)
	}
	return q
}

// addrs are the bus addresses of the Data of q's cells, front to back (0
// for a buffer that is not a cell of pool).
func addrs(pool hw.CellPool[idl.Packet], q rref.Deque[idl.Packet]) []uint64 {
	var a []uint64
	for range q.Len() {
		r, _ := q.PopFront()
		ph, _ := pool.Phys(r, dataOff)
		a = append(a, ph)
		q.PushBack(r)
	}
	return a
}

// Random frames arrive and are forwarded through a driver with a packet
// pool: the frames come out exact and in order, every cell handed up is
// one the device wrote (its address was in an RX descriptor), the caller's
// free cells go into the RX ring in their place, and every TX descriptor
// points at the caller's own cell: nothing was copied.
func TestZeroCopyForward(t *testing.T) {
	m, d, pool, heap := zeroCopy(t, model.Config{}, Config{RingSize: 64, CopyBreak: -1}, 2*64+32)
	rng := rand.New(rand.NewPCG(3, 4))
	var sent [][]byte
	for i := range 1000 {
		sent = append(sent, frame(uint32(i), 60+rng.IntN(idl.MaxFrame-59), rng))
	}
	want := slices.Clone(sent)
	q := cellBuffers(t, pool, heap, 32)
	rx, tx := d.rx[0], d.tx[0]
	forwarded := 0
	for polls := 0; forwarded < len(want); polls++ {
		for len(sent) > 0 && rng.IntN(3) > 0 {
			if !m.Inject(0, sent[0]) {
				t.Fatalf("frame %d not accepted", len(want)-len(sent))
			}
			sent = sent[1:]
		}
		if polls > 100*len(want) {
			t.Fatalf("%d of %d frames forwarded after %d polls", forwarded, len(want), polls)
		}
		posted := slices.Clone(rx.phys)
		mine := addrs(pool, q)
		n, err := d.Receive(0, q)
		if err != nil {
			t.Fatal(err)
		}
		got := addrs(pool, q)
		for k := range n {
			if !slices.Contains(posted, got[k]) {
				t.Fatalf("cell %d handed up at %#x, which no RX descriptor held", k, got[k])
			}
			if !slices.Contains(rx.phys, mine[k]) {
				t.Fatalf("the caller's cell %d (%#x) is not in the RX ring after the exchange", k, mine[k])
			}
		}
		first := tx.next
		if k, err := d.Send(0, q); err != nil || k != n {
			t.Fatalf("Send %d of %d: %v", k, n, err)
		}
		for k := range n {
			i := (first + k) % tx.n
			if a := tx.desc.Get64(i * descSize); a != got[k] {
				t.Fatalf("TX descriptor %d points at %#x, the caller's cell %d is at %#x", i, a, k, got[k])
			}
		}
		forwarded += n
	}
	wire := m.Captured(0)
	if len(wire) != len(want) {
		t.Fatalf("%d frames on the wire, want %d", len(wire), len(want))
	}
	for i := range want {
		if !bytes.Equal(wire[i], want[i]) {
			t.Fatalf("frame %d on the wire: %d bytes (seq %d), want %d bytes (seq %d), or the payload differs",
				i, len(wire[i]), seqOf(wire[i]), len(want[i]), seqOf(want[i]))
		}
	}
	if free := pool.Pool().Free(); free != 0 {
		t.Errorf("%d cells free: the rings and the caller hold all %d", free, pool.Pool().Cap())
	}
}

// A cell the caller gave to TxBatch is the driver's: the handle the caller
// kept is stale (Get panics with a *rref.UseError), the deque holds
// another, free cell in its place, and the caller's cell is the one the TX
// descriptor points at.
func TestZeroCopyTxMoves(t *testing.T) {
	_, d, pool, heap := zeroCopy(t, model.Config{Async: true}, Config{RingSize: 16, CopyBreak: -1}, 2*16+1)
	r, _ := pool.Get(heap)
	f := frame(7, 100, nil)
	p := r.Get()
	p.Len = uint16(copy(p.Data[:], f))
	at, _ := pool.Phys(r, dataOff)
	kept := r
	q := rref.NewDeque[idl.Packet](heap, 1)
	q.PushBack(r)
	first := d.tx[0].next
	if n, err := d.Send(0, q); err != nil || n != 1 {
		t.Fatalf("Send: %d %v", n, err)
	}
	if a := d.tx[0].desc.Get64(first * descSize); a != at {
		t.Errorf("TX descriptor points at %#x, the caller's cell is at %#x", a, at)
	}
	if kept.Valid() {
		t.Fatal("the caller's handle to the cell it sent is still valid")
	}
	func() {
		defer func() {
			var ue *rref.UseError
			if v := recover(); v == nil {
				t.Error("Get through the kept handle did not panic")
			} else if err, ok := v.(error); !ok || !errors.As(err, &ue) {
				t.Errorf("Get through the kept handle panicked with %v, want a *rref.UseError", v)
			}
		}()
		kept.Get().Len = 1
	}()
	back, _ := q.PopFront()
	if a, ok := pool.Phys(back, dataOff); !ok || a == at || back.Get().Len != 0 {
		t.Errorf("the deque holds the cell at %#x (pool cell %v, Len %d); want another, free cell of the pool", a, ok, back.Get().Len)
	}
}

// Buffers on the Go heap (rref.New) still work: the driver replaces each
// with a cell of the pool as it passes, while the pool has cells to spare
// (so a caller is zero-copy from its second batch on), and copies once the
// pool is empty. Three rounds of 40 frames go around the 64-entry rings
// twice.
func TestZeroCopyHeapBuffers(t *testing.T) {
	cells := func(pool hw.CellPool[idl.Packet], q rref.Deque[idl.Packet]) int {
		n := 0
		for _, a := range addrs(pool, q) {
			if a != 0 {
				n++
			}
		}
		return n
	}
	for _, spare := range []int{200, 60, 0} {
		m, d, pool, heap := zeroCopy(t, model.Config{}, Config{RingSize: 64, CopyBreak: -1}, 2*64+spare)
		left, seq := spare, uint32(0)
		for round := range 3 {
			q := buffers(heap, 40)
			var want [][]byte
			for i := range 40 {
				want = append(want, frame(seq, 60+37*i, nil))
				m.Inject(0, want[i])
				seq++
			}
			n, err := d.Receive(0, q)
			if err != nil || n != 40 {
				t.Fatalf("spare %d round %d: Receive %d %v", spare, round, n, err)
			}
			if got, want := cells(pool, q), min(left, 40); got != want {
				t.Errorf("spare %d round %d: %d buffers are cells of the pool after RX, want %d", spare, round, got, want)
			}
			left -= min(left, 40)
			got := drain(q, nil)
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("spare %d round %d: received frames differ", spare, round)
			}
			tq := buffers(heap, 40)
			fill(tq, want)
			if k, err := d.Send(0, tq); err != nil || k != 40 {
				t.Fatalf("spare %d round %d: Send %d %v", spare, round, k, err)
			}
			if wire := m.Captured(0); !slices.EqualFunc(wire, want, bytes.Equal) {
				t.Fatalf("spare %d round %d: %d frames on the wire differ from the %d sent", spare, round, len(wire), len(want))
			}
			if got, want := cells(pool, tq), min(left, 40); got != want {
				t.Errorf("spare %d round %d: %d buffers are cells of the pool after TX, want %d", spare, round, got, want)
			}
			left -= min(left, 40)
		}
	}
}

// With the default CopyBreak, frames up to DefaultCopyBreak bytes are
// copied (the caller keeps its cells, the ring its own) and longer ones
// exchanged, both ways.
func TestZeroCopyCopyBreak(t *testing.T) {
	m, d, pool, heap := zeroCopy(t, model.Config{}, Config{RingSize: 16}, 2*16+2)
	for _, size := range []int{60, DefaultCopyBreak, DefaultCopyBreak + 1, 1514} {
		q := cellBuffers(t, pool, heap, 1)
		mine := addrs(pool, q)[0]
		f := frame(uint32(size), size, nil)
		m.Inject(0, f)
		if n, err := d.Receive(0, q); err != nil || n != 1 {
			t.Fatalf("%d bytes: Receive %d %v", size, n, err)
		}
		copied := size <= DefaultCopyBreak
		if got := addrs(pool, q)[0]; (got == mine) != copied {
			t.Errorf("%d bytes received: the caller's cell %#x, now %#x; want copied %v", size, mine, got, copied)
		}
		mine = addrs(pool, q)[0]
		first := d.tx[0].next
		if n, err := d.Send(0, q); err != nil || n != 1 {
			t.Fatalf("%d bytes: Send %d %v", size, n, err)
		}
		if a := d.tx[0].desc.Get64(first * descSize); (a == mine) == copied {
			t.Errorf("%d bytes sent: descriptor at %#x, the caller's cell at %#x; want copied %v", size, a, mine, copied)
		}
		if wire := m.Captured(0); len(wire) != 1 || !bytes.Equal(wire[0], f) {
			t.Errorf("%d bytes: the wire has %d frames, or the frame differs", size, len(wire))
		}
		q.Drop()
	}
}

// resetProbe is a device granted beside the NIC: when the kernel resets
// the dead domain's devices it records how many cells of the pool are free
// at that moment.
type resetProbe struct {
	pool   *rref.Pool[idl.Packet]
	free   int
	resets int
}

func (p *resetProbe) Reset() { p.free, p.resets = p.pool.Free(), p.resets+1 }

// A driver domain killed with cells in its rings leaks nothing: its
// account holds no cell afterwards, every cell but the caller's is back in
// the pool, and they came back only after the kernel had reset the
// device (which then no longer writes into them). Behind a shadow, three
// restarts later the pool holds what it held with one instance running.
func TestZeroCopyCrashReclaim(t *testing.T) {
	const ring, batch = 64, 32
	m := model.New(model.Config{RAM: 4 << 20})
	pool, err := m.Packets("ixgbe crash", 2*2*ring+batch)
	if err != nil {
		t.Fatal(err)
	}
	retire(t, pool, true)
	probe := &resetProbe{pool: pool.Pool()}
	mgr, d, nic := domainNIC(t, m, Config{RingSize: ring},
		domain.GrantDevice(GrantPackets, hw.CellPool[idl.Packet](pool)), domain.GrantDevice("probe", probe))
	heap := mgr.Kernel().Heap()
	q := cellBuffers(t, pool, heap, batch)
	forward := func(nic idl.Net, frames int) {
		t.Helper()
		for i := range frames {
			m.Inject(0, frame(uint32(i), 60+i, nil))
		}
		var k int
		if q, k, err = nic.RxBatch(0, q); err != nil || k != min(frames, batch) {
			t.Fatalf("RxBatch %d of %d: %v", k, frames, err)
		}
		if q, _, err = nic.TxBatch(0, q); err != nil {
			t.Fatal(err)
		}
	}
	forward(nic, 20)
	total := pool.Pool().Cap()
	running := total - 2*ring - batch // free with one instance running
	if free := pool.Pool().Free(); free != running {
		t.Fatalf("%d cells free with the driver running, want %d", free, running)
	}
	id := uint32(d.ID())
	if held := rref.CountByOwner()[id]; held != 2*ring {
		t.Fatalf("the driver holds %d cells, want its rings' %d", held, 2*ring)
	}
	mgr.Kill(d)
	if probe.resets != 1 || probe.free != running {
		t.Errorf("at the device reset %d cells were free (resets %d); want %d: cells went back to the pool before the device was reset",
			probe.free, probe.resets, running)
	}
	if held := rref.CountByOwner()[id]; held != 0 {
		t.Errorf("the dead driver still holds %d cells", held)
	}
	if free := pool.Pool().Free(); free != total-batch {
		t.Errorf("%d cells free after the driver died, want %d (all but the caller's %d)", free, total-batch, batch)
	}

	// The same behind a shadow: each restart's instance takes its rings'
	// cells, its predecessor's came back.
	d2, err := mgr.Create(Kind, domain.GrantDevice(GrantPCI, hw.PCIDevice(m)), domain.GrantDevice(GrantConfig, Config{RingSize: ring}),
		domain.GrantDevice(GrantPackets, hw.CellPool[idl.Packet](pool)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := shadow.New(mgr, d2, shadow.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	guarded, err := domain.Connect[idl.Net](mgr.Kernel(), g)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		forward(guarded, 10)
		mgr.Kill(g.Current())
		if _, err := guarded.LinkStatus(); err != nil { // the shadow restarts the driver
			t.Fatal(err)
		}
	}
	forward(guarded, 10)
	if g.Restarts() != 3 {
		t.Errorf("%d restarts, want 3", g.Restarts())
	}
	if free := pool.Pool().Free(); free != running {
		t.Errorf("%d cells free after 3 restarts, want %d", free, running)
	}
	q.Drop() // the rest come back as the manager closes: retire checks
}
