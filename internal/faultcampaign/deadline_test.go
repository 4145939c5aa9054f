package faultcampaign

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// rig starts the RAM disk behind its shadow and returns the kernel's
// capability through the shadow with a 20 ms deadline.
func rig(t *testing.T, disk *RAMDisk) (*domain.Manager, *faults.Injector, *shadow.Guard, idl.BlockDevice) {
	t.Helper()
	m := domain.NewManager()
	t.Cleanup(m.Close)
	inj := faults.New()
	g, c, err := disk.Start(m, inj, shadow.Policy{Retries: 3, Restarts: 100}, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return m, inj, g, c.(*blockClient).dev
}

func oneBlock(heap *rref.Account, lba uint64, fill byte) rref.Deque[idl.BlockReq] {
	q := rref.NewDeque[idl.BlockReq](heap, 1)
	r := rref.New(heap, idl.BlockReq{LBA: lba})
	r.Get().Data[0] = fill
	q.PushBack(r)
	return q
}

// A call that fails by its deadline (an endless loop in the driver) gets
// its batch back when the worker unwinds, so the shadow retries it on a
// fresh instance and the caller never sees the fault. Before issue 16 the
// batch came back only after the caller had returned with an error and an
// invalid handle, to nobody: the shadow could not retry, and the cells
// stayed live for good.
func TestDeadlineGivesBatchBack(t *testing.T) {
	base := rref.Live()
	m, inj, g, dev := rig(t, &RAMDisk{})
	heap := m.Kernel().Heap()
	for i := range 5 {
		if err := inj.Arm("ramdisk", faults.Loop); err != nil {
			t.Fatal(err)
		}
		q := oneBlock(heap, uint64(i), byte(i+1))
		out, err := dev.Write(q)
		if err != nil {
			t.Fatalf("write %d: %v (the batch was not given back for the shadow's retry)", i, err)
		}
		if got := out.At(0).Status; got != idl.BlockOK {
			t.Fatalf("write %d: status %d", i, got)
		}
		out.Drop()
	}
	if g.Restarts() != 5 || g.Recovered() != 5 || inj.Fired("ramdisk") != 5 {
		t.Errorf("restarts %d, recovered %d, fired %d; want 5 each", g.Restarts(), g.Recovered(), inj.Fired("ramdisk"))
	}
	if s := m.Stats(); s.StuckTotal != 0 {
		t.Errorf("%d workers abandoned; the loop's worker unwinds at the driver's death", s.StuckTotal)
	}
	if got := rref.Live(); got != base {
		t.Errorf("%d cells left behind", got-base)
	}
}

// A call whose worker stays out past the deadline and the grace (the
// driver is held in a device access, which no death unwinds) returns an
// error, and what it moved is forfeited: when the worker finally comes
// back, the batch is dropped, not revived under the caller's handle that
// nobody holds any more. Before issue 16 the late rescue made the
// caller's handle valid again and the cells stayed live for good.
func TestAbandonedBatchIsForfeited(t *testing.T) {
	base := rref.Live()
	var hold atomic.Bool
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var once sync.Once
	disk := &RAMDisk{Gate: func() {
		if hold.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
	}}
	m, _, g, dev := rig(t, disk)
	heap := m.Kernel().Heap()
	defer once.Do(func() { close(release) })

	hold.Store(true)
	q := oneBlock(heap, 7, 0xaa)
	out, err := dev.Write(q)
	<-entered
	var de *domain.DeadlineError
	if err == nil || !errors.As(err, &de) {
		t.Fatalf("write: %v, want a DeadlineError", err)
	}
	if q.Valid() || out.Valid() {
		t.Fatalf("the abandoned call left the caller a valid batch (%v) or result (%v)", q.Valid(), out.Valid())
	}
	if s := m.Stats(); s.Stuck != 1 {
		t.Fatalf("stats %+v: want one abandoned worker", s)
	}
	hold.Store(false)
	once.Do(func() { close(release) })
	if !waitFor(10*time.Second, func() bool { return m.Stats().Stuck == 0 }) {
		t.Fatal("the released worker never came back")
	}
	if q.Valid() {
		t.Error("the late worker revived the forfeited batch under the caller's handle")
	}
	// The driver serves again, through a fresh instance.
	q = oneBlock(heap, 7, 0xbb)
	if out, err = dev.Write(q); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
	out.Drop()
	m.Kill(g.Current())
	if got := rref.Live(); got != base {
		t.Errorf("%d cells left behind", got-base)
	}
}
