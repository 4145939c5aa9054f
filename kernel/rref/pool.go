package rref

import (
	"fmt"
	"reflect"
	"sync"
)

// A Pool is a fixed set of preallocated cells of one type, such as the 4 KiB
// buffers of a block driver. Get hands a cell out to an account; Drop, and
// the reclaim of a dead owner, bring it back. Pools are kernel objects: a
// domain gets one as a device grant.
//
// A Pool is a handle: its cells, free list and lock live behind it, where
// the cells find their way home. A domain holding a *Pool can overwrite it
// (*p = rref.Pool[T]{}, Go has no read-only pointers); that breaks that
// handle only (its Gets are refused), never the pool's state, which the
// kernel and the other handles keep using. Grant each domain a handle of
// its own: a Pool value copies the handle.
type Pool[T any] struct {
	p *pool[T]
}

type pool[T any] struct {
	name  string
	cells []cell[T]
	at    []*cell[T] // the cells of a pool in given memory (NewPoolIn), instead of cells
	mu    sync.Mutex
	free  []int32 // indices of free cells, a stack; guarded by mu
	// retired: a pool in given memory let go (Retire); guarded by mu
	retired bool
}

// NewPool preallocates n cells of T. T must be exchangeable.
func NewPool[T any](name string, n int) *Pool[T] {
	t := reflect.TypeFor[T]()
	mustExchange(t)
	p := &pool[T]{name: name, cells: make([]cell[T], n), free: make([]int32, n)}
	for i := range p.cells {
		c := &p.cells[i]
		c.typ, c.slot, c.home, c.idx = t, int32(i), p, -1
		p.free[i] = int32(n - 1 - i)
	}
	return &Pool[T]{p}
}

// pool returns the pool behind h, or panics with a *UseError if h was
// overwritten (or is the zero Pool).
func (h *Pool[T]) pool(op string) *pool[T] {
	if h == nil || h.p == nil {
		panic(&UseError{Op: op, Type: reflect.TypeFor[T](), Reason: "not a pool handle the kernel made (zero or overwritten)"})
	}
	return h.p
}

// Get hands out a free cell, owned by a, its payload zeroed so that nothing
// of its previous owner shows through. It reports false if the pool is
// empty.
func (h *Pool[T]) Get(a *Account) (RRef[T], bool) {
	mustAccount("allocate", a)
	p := h.pool("pool Get")
	p.mu.Lock()
	if len(p.free) == 0 || p.retired {
		p.mu.Unlock()
		return RRef[T]{}, false
	}
	i := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.mu.Unlock()
	c := p.cell(i)
	var zero T
	c.val = zero
	tag := retag(c.word.Load(), a.id)
	c.word.Store(tag)
	if !register(&c.header, a) {
		c.word.Store(retag(tag, ownerFree))
		p.recycle(i)
		refuseClosed(&c.header, a)
	}
	return RRef[T]{c, tag}, true
}

// cell is the cell of slot i.
func (p *pool[T]) cell(i int32) *cell[T] {
	if p.at != nil {
		return p.at[i]
	}
	return &p.cells[i]
}

func (p *pool[T]) recycle(slot int32) {
	p.mu.Lock()
	p.free = append(p.free, slot)
	p.mu.Unlock()
}

// unrecycle takes slot out of the free cells, if it is there.
func (p *pool[T]) unrecycle(slot int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, s := range p.free {
		if s == slot {
			p.free = append(p.free[:i], p.free[i+1:]...)
			return true
		}
	}
	return false
}

// Free is the number of cells in the pool.
func (h *Pool[T]) Free() int {
	p := h.pool("pool Free")
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// Cap is the number of cells the pool was made with.
func (h *Pool[T]) Cap() int {
	p := h.pool("pool Cap")
	return len(p.cells) + len(p.at)
}

func (h *Pool[T]) String() string {
	if h == nil || h.p == nil {
		return "pool (not a handle the kernel made)"
	}
	return fmt.Sprintf("pool %s: %d/%d free", h.p.name, h.Free(), h.Cap())
}
