package ramdisk_test

import (
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/rlgo/redleaf/drivers/ramdisk"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// memory is a kernel memory device for the tests.
type memory struct {
	mu       sync.Mutex
	b        []byte
	failFrom int64 // writes at or past this offset fail (0: none)
}

func newMemory(blocks int) *memory { return &memory{b: make([]byte, blocks*idl.BlockSize)} }

func (m *memory) Size() int64 { return int64(len(m.b)) }

func (m *memory) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memory) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failFrom > 0 && off >= m.failFrom {
		return 0, errors.New("bad sector")
	}
	return copy(m.b[off:], p), nil
}

func newManager(t *testing.T) *domain.Manager {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	return m
}

func create(t *testing.T, m *domain.Manager, opts ...domain.CreateOption) *domain.Domain {
	t.Helper()
	d, err := m.Create(ramdisk.Kind, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// do moves a batch of requests for lbas (with data for writes) through op
// and returns the requests that came back, in order.
func do(t *testing.T, m *domain.Manager, op func(rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error), lbas []uint64, data func(i int) byte) ([]idl.BlockReq, error) {
	t.Helper()
	heap := m.Kernel().Heap()
	batch := rref.NewDeque[idl.BlockReq](heap, len(lbas))
	for i, lba := range lbas {
		req := idl.BlockReq{LBA: lba}
		if data != nil {
			req.Data[0], req.Data[idl.BlockSize-1] = data(i), data(i)+1
		}
		batch.PushBack(rref.New(heap, req))
	}
	out, err := op(batch)
	if err != nil {
		rref.DiscardDeque(batch)
		return nil, err
	}
	var reqs []idl.BlockReq
	for {
		r, ok := out.PopFront()
		if !ok {
			break
		}
		reqs = append(reqs, *r.Get())
		r.Drop()
	}
	out.Drop()
	return reqs, nil
}

func TestReadWrite(t *testing.T) {
	m := newManager(t)
	base := rref.Live()
	mem := newMemory(64)
	d := create(t, m, domain.GrantDevice(ramdisk.GrantMemory, ramdisk.Memory(mem)))
	disk, err := domain.Connect[idl.BlockDevice](m.Kernel(), d)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := disk.NumBlocks(); n != 64 || err != nil {
		t.Fatalf("NumBlocks %d %v", n, err)
	}
	if bs, err := disk.BlockSize(); bs != idl.BlockSize || err != nil {
		t.Fatalf("BlockSize %d %v", bs, err)
	}
	lbas := []uint64{0, 5, 63, 64}
	reqs, err := do(t, m, disk.Write, lbas, func(i int) byte { return byte(10 * (i + 1)) })
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		want := idl.BlockOK
		if lbas[i] >= 64 {
			want = idl.BlockOutOfRange
		}
		if r.Status != want || r.LBA != lbas[i] {
			t.Errorf("write %d: %+v", i, r.Status)
		}
	}
	// The data went to the kernel's memory.
	if mem.b[5*idl.BlockSize] != 20 || mem.b[64*idl.BlockSize-1] != 31 {
		t.Errorf("memory: %d %d", mem.b[5*idl.BlockSize], mem.b[64*idl.BlockSize-1])
	}
	reqs, err = do(t, m, disk.Read, lbas, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs[:3] {
		if r.Status != idl.BlockOK || r.Data[0] != byte(10*(i+1)) || r.Data[idl.BlockSize-1] != byte(10*(i+1)+1) {
			t.Errorf("read %d: status %d data %d %d", i, r.Status, r.Data[0], r.Data[idl.BlockSize-1])
		}
	}
	if reqs[3].Status != idl.BlockOutOfRange {
		t.Errorf("read past the end: status %d", reqs[3].Status)
	}
	if err := disk.Flush(); err != nil {
		t.Error(err)
	}
	if rref.Live() != base {
		t.Errorf("rref.Live %d, want %d", rref.Live(), base)
	}
}

func TestIOError(t *testing.T) {
	m := newManager(t)
	mem := newMemory(8)
	mem.failFrom = 4 * idl.BlockSize
	d := create(t, m, domain.GrantDevice(ramdisk.GrantMemory, ramdisk.Memory(mem)))
	disk, _ := domain.Connect[idl.BlockDevice](m.Kernel(), d)
	reqs, err := do(t, m, disk.Write, []uint64{3, 4}, func(int) byte { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Status != idl.BlockOK || reqs[1].Status != idl.BlockIOError {
		t.Errorf("statuses %d %d", reqs[0].Status, reqs[1].Status)
	}
}

func TestNoMemory(t *testing.T) {
	m := newManager(t)
	if _, err := m.Create(ramdisk.Kind); !errors.Is(err, ramdisk.ErrNoMemory) {
		t.Errorf("without memory: %v", err)
	}
	if _, err := m.Create(ramdisk.Kind, domain.Name("tiny"), domain.GrantDevice(ramdisk.GrantMemory, ramdisk.Memory(&memory{b: make([]byte, 100)}))); err == nil {
		t.Error("a disk of less than a block started")
	}
	if _, err := m.Create(ramdisk.Kind, domain.Name("wrong"), domain.GrantDevice(ramdisk.GrantMemory, []byte{1})); !errors.Is(err, ramdisk.ErrNoMemory) {
		t.Errorf("memory of the wrong type: %v", err)
	}
}

// The disk's contents live in the kernel's memory, so they survive the
// driver: a fault injected into the driver is recovered by its shadow, and
// the next instance reads what the last one wrote.
func TestContentsSurviveTheDriver(t *testing.T) {
	m := newManager(t)
	base := rref.Live()
	mem := newMemory(16)
	inj := faults.New()
	d := create(t, m, domain.GrantDevice(ramdisk.GrantMemory, ramdisk.Memory(mem)), domain.GrantDevice(ramdisk.GrantFaults, inj.Device()))
	g, err := shadow.New(m, d, shadow.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := domain.Connect[idl.BlockDevice](m.Kernel(), g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := do(t, m, disk.Write, []uint64{7}, func(int) byte { return 42 }); err != nil {
		t.Fatal(err)
	}
	kinds := []string{faults.Panic, faults.NilPtr, faults.Index, faults.DivZero}
	for i, kind := range kinds {
		inj.Arm(ramdisk.Kind, kind)
		// The fault fires on entry to Read, which moved the batch in: the
		// proxy gives it back, the shadow restarts the driver and retries.
		reqs, err := do(t, m, disk.Read, []uint64{7}, nil)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if reqs[0].Status != idl.BlockOK || reqs[0].Data[0] != 42 || reqs[0].Data[idl.BlockSize-1] != 43 {
			t.Errorf("%s: read %d %d %d", kind, reqs[0].Status, reqs[0].Data[0], reqs[0].Data[idl.BlockSize-1])
		}
		if g.Restarts() != i+1 || g.Current().Restarts() != i+1 {
			t.Errorf("%s: restarts %d", kind, g.Restarts())
		}
	}
	m.Kill(g.Current())
	if n, err := disk.NumBlocks(); n != 16 || err != nil {
		t.Fatalf("after a kill: %d %v", n, err)
	}
	if g.Restarts() != len(kinds)+1 {
		t.Errorf("restarts %d", g.Restarts())
	}
	if rref.Live() != base {
		t.Errorf("rref.Live %d, want %d", rref.Live(), base)
	}
}
