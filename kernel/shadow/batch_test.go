package shadow_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// How the first instance of "stalls-in-batch" behaves once it holds a
// batch: it reports that it is inside, and then
const (
	stallSleep  = iota // sleeps until it dies (its next kernel call unwinds it)
	stallReturn        // waits for the test and returns the batch normally
	stallPop           // pops a request (it dies holding it), then sleeps
)

// A stallRig is what the test grants the domain.
type stallRig struct {
	mode    int
	armed   atomic.Bool   // the next Read stalls
	inside  chan struct{} // a Read is stalled holding the batch
	release chan struct{} // stallReturn: return now
}

func init() {
	domain.Register("stalls-in-batch", func(ctx *domain.Context) (idl.BlockDevice, error) {
		r, _ := domain.Device[*stallRig](ctx, "rig")
		return &staller{ctx: ctx, rig: r}, nil
	})
}

// staller is a block device whose block n reads as n in every byte.
type staller struct {
	ctx *domain.Context
	rig *stallRig
}

func (s *staller) BlockSize() (uint32, error) { return idl.BlockSize, nil }
func (s *staller) NumBlocks() (uint64, error) { return 1 << 20, nil }
func (s *staller) Flush() error               { return nil }
func (s *staller) Write(b rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	return s.Read(b)
}

func (s *staller) Read(batch rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error) {
	// Serve half, as a driver that dies in the middle of a batch would.
	for range batch.Len() / 2 {
		s.serve(batch)
	}
	if s.rig.armed.CompareAndSwap(true, false) {
		var held rref.RRef[idl.BlockReq]
		if s.rig.mode == stallPop {
			held, _ = batch.PopFront()
		}
		s.rig.inside <- struct{}{}
		if s.rig.mode == stallReturn {
			<-s.rig.release
			return batch, nil
		}
		s.ctx.Sleep(time.Hour)
		held.Drop()
	}
	for range batch.Len() - batch.Len()/2 {
		s.serve(batch)
	}
	return batch, nil
}

// serve does the request at the front and rotates it to the back.
func (s *staller) serve(batch rref.Deque[idl.BlockReq]) {
	r, _ := batch.PopFront()
	q := r.Get()
	q.Data[0], q.Status = byte(q.LBA), idl.BlockOK
	batch.PushBack(r)
}

// A batch whose driver is killed while it holds it is rescued by the proxy
// (its heap was closed under the call) and retried by the shadow: the
// caller gets every request served and no error, and nothing leaks —
// whether the dead instance's thread unwinds or returns the batch, and
// with requests from the heap or from a pool. A batch the dead instance had
// taken a request out of is not passed off as the caller's: that call fails.
func TestKillDuringBatch(t *testing.T) {
	for _, c := range []struct {
		name   string
		mode   int
		pooled bool
	}{
		{"unwinds", stallSleep, false},
		{"returns", stallReturn, false},
		{"pooled", stallSleep, true},
		{"popped", stallPop, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := setup(t)
			rig := &stallRig{mode: c.mode, inside: make(chan struct{}, 1), release: make(chan struct{})}
			d := must(m.Create("stalls-in-batch", domain.GrantDevice("rig", rig)))
			g := must(shadow.New(m, d, shadow.Policy{}))
			disk := must(domain.Connect[idl.BlockDevice](m.Kernel(), g))
			heap := m.Kernel().Heap()
			pool := rref.NewPool[idl.BlockReq]("reqs", 32)
			base := rref.Live()

			const n = 32
			q := rref.NewDeque[idl.BlockReq](heap, n)
			for i := range n {
				var r rref.RRef[idl.BlockReq]
				if c.pooled {
					r, _ = pool.Get(heap)
				} else {
					r = rref.New(heap, idl.BlockReq{})
				}
				r.Get().LBA = uint64(100 + i)
				q.PushBack(r)
			}
			rig.armed.Store(true)
			killed := make(chan struct{})
			go func() {
				<-rig.inside
				m.Kill(d)
				close(rig.release)
				close(killed)
			}()
			out, err := disk.Read(q)
			<-killed
			if c.mode == stallPop {
				var f *domain.FailedError
				if !errors.As(err, &f) || q.Valid() || out.Valid() {
					t.Fatalf("Read: %v, batch valid %v, result valid %v: want the kill's failure and no batch", err, q.Valid(), out.Valid())
				}
				if rref.Live() != base {
					t.Errorf("rref.Live %d, want %d: the lost batch leaked", rref.Live(), base)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v (restarts %d)", err, g.Restarts())
			}
			if out.Len() != n {
				t.Fatalf("%d requests back, want %d", out.Len(), n)
			}
			// Every request served once. (The order is the one the dead
			// instance left, rotated by what it had done: callers match
			// requests by block.)
			seen := map[uint64]bool{}
			for range n {
				r, _ := out.PopFront()
				q := r.Get()
				if q.LBA < 100 || q.LBA >= 100+n || seen[q.LBA] || q.Status != idl.BlockOK || q.Data[0] != byte(q.LBA) {
					t.Errorf("request for block %d (seen %v): status %d data %d", q.LBA, seen[q.LBA], q.Status, q.Data[0])
				}
				seen[q.LBA] = true
				r.Drop()
			}
			out.Drop()
			if g.Restarts() != 1 || g.Recovered() != 1 {
				t.Errorf("restarts %d, recovered %d: want 1, 1", g.Restarts(), g.Recovered())
			}
			if rref.Live() != base {
				t.Errorf("rref.Live %d, want %d", rref.Live(), base)
			}
			if pool.Free() != pool.Cap() {
				t.Errorf("pool: %v", pool)
			}
		})
	}
}
