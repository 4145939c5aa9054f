package domain_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/hoard"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/internal/testdomains/ramdisk"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// behavior is what a "tester" domain does: test code run as a domain.
type behavior struct {
	null func(ctx *domain.Context) error
	echo func(ctx *domain.Context, b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error)
	peek func(ctx *domain.Context, b rref.Borrow[idl.Block], i uint32) (byte, error)
}

type tester struct {
	ctx *domain.Context
	b   *behavior
}

func (t *tester) Null() error { return t.b.null(t.ctx) }
func (t *tester) Echo(b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) {
	return t.b.echo(t.ctx, b)
}
func (t *tester) Peek(b rref.Borrow[idl.Block], i uint32) (byte, error) {
	return t.b.peek(t.ctx, b, i)
}

func init() {
	domain.Register("tester", func(ctx *domain.Context) (idl.Bench, error) {
		b, err := domain.Device[*behavior](ctx, "behavior")
		if err != nil {
			return nil, err
		}
		return &tester{ctx, b}, nil
	})
}

func TestRRefMoveAndBorrowAcrossCalls(t *testing.T) {
	m := newManager(t)
	heap := m.Kernel().Heap()
	p := connect[idl.Bench](t, m, create(t, m, nullbench.Kind))
	r := rref.New(heap, idl.Block{1, 2, 3})
	data := r.Get()
	r2, err := p.Echo(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid() || !r2.Valid() || r2.Owner() != uint32(m.Kernel().ID()) || r2.Get() != data {
		t.Errorf("after Echo: old valid %v, new valid %v owner %d, copied %v", r.Valid(), r2.Valid(), r2.Owner(), r2.Get() != data)
	}
	c, err := p.Peek(r2.Borrow(), 2)
	if err != nil || c != 3 || !r2.Valid() {
		t.Errorf("Peek of a borrow: %d %v, still owned %v", c, err, r2.Valid())
	}
	// Use after move, by the kernel: a UseError panic in the kernel's code.
	func() {
		defer func() {
			var ue *rref.UseError
			if v := recover(); v == nil {
				t.Error("passing a moved RRef did not panic")
			} else if err, ok := v.(error); !ok || !errors.As(err, &ue) {
				t.Errorf("panic %v", v)
			}
		}()
		p.Echo(r)
	}()
	r2.Drop()
}

// TestUseAfterMoveFailsTheMisuser has a domain use an RRef after moving it
// to another domain: the misuser fails, the other domain does not.
func TestUseAfterMoveFailsTheMisuser(t *testing.T) {
	m := newManager(t)
	keeper := create(t, m, hoard.Kind)
	misuser := create(t, m, "tester", domain.Grant("keeper", keeper), domain.GrantDevice("behavior", &behavior{
		null: func(ctx *domain.Context) error {
			k, err := domain.Import[idl.Bench](ctx, "keeper")
			if err != nil {
				return err
			}
			r := rref.New(ctx.Heap(), idl.Block{})
			if _, err := k.Echo(r); err != nil { // the keeper keeps it
				return err
			}
			r.Get()[0] = 1 // use after move
			return nil
		},
	}))
	err := connect[idl.Bench](t, m, misuser).Null()
	var ue *rref.UseError
	if f := failure(err); f == nil || f.ID != misuser.ID() || !errors.As(err, &ue) {
		t.Fatalf("error %v, want the misuser's failure with a UseError", err)
	}
	if keeper.State() != domain.Running {
		t.Error("the keeper died")
	}
	if n := rref.CountByOwner()[uint32(keeper.ID())]; n != 1 {
		t.Errorf("the keeper holds %d RRefs, want 1", n)
	}
}

// TestFailedCallGivesRRefsBack: a callee that panics while holding a moved
// RRef, or a borrowed one, leaves it with the caller.
func TestFailedCallGivesRRefsBack(t *testing.T) {
	m := newManager(t)
	heap := m.Kernel().Heap()
	d := create(t, m, "tester", domain.GrantDevice("behavior", &behavior{
		echo: func(ctx *domain.Context, b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) {
			b.Get()[0] = 99
			panic("echo fails")
		},
		peek: func(ctx *domain.Context, b rref.Borrow[idl.Block], i uint32) (byte, error) {
			_ = b.Get()[i]
			panic("peek fails")
		},
	}))
	p := connect[idl.Bench](t, m, d)
	r := rref.New(heap, idl.Block{})
	if _, err := p.Echo(r); failure(err) == nil {
		t.Fatalf("Echo: %v", err)
	}
	if !r.Valid() || r.Get()[0] != 99 {
		t.Errorf("after the failed Echo: valid %v", r.Valid())
	}
	d2, _ := m.Restart(d, "test")
	p = connect[idl.Bench](t, m, d2)
	if _, err := p.Peek(r.Borrow(), 0); failure(err) == nil {
		t.Fatalf("Peek: %v", err)
	}
	if !r.Valid() {
		t.Error("a borrowed RRef did not survive the borrower's death")
	}
	r.Drop()
}

func TestBlockDeviceBatches(t *testing.T) {
	m := newManager(t)
	heap := m.Kernel().Heap()
	base := rref.Live()
	disk := connect[idl.BlockDevice](t, m, create(t, m, ramdisk.Kind, domain.GrantDevice(ramdisk.GrantConfig, ramdisk.Config{Blocks: 64})))
	if n, err := disk.NumBlocks(); n != 64 || err != nil {
		t.Fatalf("NumBlocks %d %v", n, err)
	}
	batch := rref.NewDeque[idl.BlockReq](heap, 8)
	for i := range 8 {
		req := idl.BlockReq{LBA: uint64(i * 3)}
		req.Data[0], req.Data[idl.BlockSize-1] = byte(i), byte(i+100)
		batch.PushBack(rref.New(heap, req))
	}
	batch, err := disk.Write(batch)
	if err != nil || !batch.Valid() || batch.Len() != 8 {
		t.Fatalf("Write: %v, valid %v", err, batch.Valid())
	}
	for range 8 { // clear them, and ask for one block out of range
		r, _ := batch.PopFront()
		r.Get().Data = idl.Block{}
		batch.PushBack(r)
	}
	last, _ := batch.PopBack()
	last.Get().LBA = 1000
	batch.PushBack(last)
	if batch, err = disk.Read(batch); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		r, _ := batch.PopFront()
		req := r.Get()
		switch {
		case i == 7:
			if req.Status != idl.BlockOutOfRange {
				t.Errorf("request %d: status %d", i, req.Status)
			}
		case req.Status != idl.BlockOK || req.Data[0] != byte(i) || req.Data[idl.BlockSize-1] != byte(i+100):
			t.Errorf("request %d: status %d data %d %d", i, req.Status, req.Data[0], req.Data[idl.BlockSize-1])
		}
		r.Drop()
	}
	batch.Drop()
	if rref.Live() != base {
		t.Errorf("Live = %d, want %d", rref.Live(), base)
	}
}

// TestReclaimAfterCycles creates and kills a domain that holds RRefs (its
// own, in a deque, from a pool, granted by the kernel) and a thread, 1,000
// times: the registry, the pool and the goroutines come back to where they
// were.
func TestReclaimAfterCycles(t *testing.T) {
	m := newManager(t)
	runtime.GC()
	baseG := runtime.NumGoroutine()
	base := rref.Live()
	pool := rref.NewPool[idl.Block]("blocks", 16)
	cfg := hoard.Config{RRefs: 3, Deque: 4, Buffers: 2, Thread: true}
	for i := range 1000 {
		gift := rref.New(m.Kernel().Heap(), idl.Block{})
		d := create(t, m, hoard.Kind, domain.Name("h"),
			domain.GrantDevice(hoard.GrantConf, cfg),
			domain.GrantDevice(hoard.GrantPool, pool),
			domain.GrantRRef(hoard.GrantRRef, gift))
		p := connect[idl.Bench](t, m, d)
		kept := rref.New(m.Kernel().Heap(), idl.Block{})
		if _, err := p.Echo(kept); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want := cfg.RRefs + 1 + cfg.Deque + cfg.Buffers + 1 + 1
			if got := rref.CountByOwner()[uint32(d.ID())]; got != want {
				t.Errorf("the hoard holds %d RRefs, want %d", got, want)
			}
		}
		if i%2 == 0 {
			m.Kill(d)
		} else {
			if _, err := m.Restart(d, "test"); err != nil {
				t.Fatal(err)
			}
			m.Kill(m.Lookup("h"))
		}
		if err := p.Null(); failure(err) == nil {
			t.Fatalf("cycle %d: a call into the dead hoard: %v", i, err)
		}
	}
	if got := rref.Live(); got != base {
		t.Errorf("Live = %d after 1000 cycles, want %d", got, base)
	}
	if pool.Free() != pool.Cap() {
		t.Errorf("the pool has %d of %d cells", pool.Free(), pool.Cap())
	}
	waitGoroutines(t, baseG)
	if s := m.Stats(); s.Threads != 0 || s.Lingering != 0 {
		t.Errorf("stats %+v", s)
	}
}
