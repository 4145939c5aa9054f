package rref

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// Pools in given memory: cells whose storage the kernel chose, such as DMA
// memory a device reads and writes (kernel/dma's CellPool). The cells are
// ordinary cells in every other respect: owned, moved, lent, dropped and
// reclaimed as any other, and back in their pool when dropped or reclaimed.

// CellSize is the number of bytes a cell holding a T takes in memory given
// to NewPoolIn.
func CellSize[T any]() int { return int(unsafe.Sizeof(cell[T]{})) }

// CellAlign is the alignment the memory of such a cell needs.
func CellAlign[T any]() int { return int(unsafe.Alignof(cell[T]{})) }

// PayloadOffset is the offset of the payload (the T) in such a cell: the
// payload of the cell in mem starts at mem[PayloadOffset[T]()].
func PayloadOffset[T any]() int { return int(unsafe.Offsetof(cell[T]{}.val)) }

// placed keeps every pool in given memory reachable until it is retired:
// its cells point to it (their home), and the garbage collector does not
// look into memory off the Go heap, nor into a []byte, to find that out.
var placed struct {
	mu    sync.Mutex
	pools []any
}

// NewPoolIn makes a pool of len(mems) cells of T, cell i in mems[i], which
// must hold CellSize[T]() bytes aligned to CellAlign[T](). T must be
// exchangeable, so the garbage collector has nothing to find in a payload;
// the rest of a cell points only to static data and to the pool, which is
// kept alive. The memory must stay mapped for ever and must not be used for
// anything else: the pool owns it from now on. For the kernel (kernel/dma):
// a domain is not given memory to place cells in.
func NewPoolIn[T any](name string, mems [][]byte) *Pool[T] {
	t := reflect.TypeFor[T]()
	mustExchange(t)
	size, align := CellSize[T](), CellAlign[T]()
	p := &pool[T]{name: name, at: make([]*cell[T], len(mems)), free: make([]int32, len(mems))}
	for i, m := range mems {
		if len(m) < size {
			panic(fmt.Sprintf("rref: NewPoolIn %s: cell %d has %d bytes of memory, a cell of %v needs %d", name, i, len(m), t, size))
		}
		base := unsafe.Pointer(unsafe.SliceData(m))
		if uintptr(base)%uintptr(align) != 0 {
			panic(fmt.Sprintf("rref: NewPoolIn %s: the memory of cell %d is not aligned to %d bytes", name, i, align))
		}
		clear(m[:size]) // the zero cell
		c := (*cell[T])(base)
		c.typ, c.slot, c.home, c.idx = t, int32(i), p, -1
		p.at[i] = c
		p.free[i] = int32(len(mems) - 1 - i)
	}
	placed.mu.Lock()
	placed.pools = append(placed.pools, p)
	placed.mu.Unlock()
	return &Pool[T]{p}
}

// Slot reports which cell of the pool r is, if r is a valid handle to one
// of them: for the kernel's tables kept beside a pool (the bus address of
// each cell of a CellPool). Valid means its holder owns the cell now, so a
// slot is only ever told to the cell's owner.
func (h *Pool[T]) Slot(r RRef[T]) (int, bool) {
	if h == nil || h.p == nil || r.c == nil {
		return 0, false
	}
	// The cell of r's slot in this pool is r's cell: a pointer compare,
	// cheaper than comparing r's home (an interface) with the pool.
	p, s := h.p, r.c.slot
	if s < 0 || int(s) >= len(p.at)+len(p.cells) || p.cell(s) != r.c || !r.Valid() {
		return 0, false
	}
	return int(s), true
}

// Retire lets the pool go: it no longer keeps itself reachable, so that
// the garbage collector can take it (and its memory, when that is Go
// memory: a device model's) once nobody holds it. Every cell must be back
// in the pool (Get hands out none afterwards): it returns an error naming
// how many are out otherwise, and keeps the pool. For tests and
// device models; the kernel's DMA memory is never unmapped.
func (h *Pool[T]) Retire() error {
	p := h.pool("pool Retire")
	p.mu.Lock()
	out := len(p.at) - len(p.free)
	if out == 0 {
		p.retired = true // Get hands out nothing any more
	}
	p.mu.Unlock()
	if out != 0 {
		return fmt.Errorf("rref: pool %s: %d of %d cells are still out; not retired", p.name, out, len(p.at))
	}
	placed.mu.Lock()
	defer placed.mu.Unlock()
	for i, q := range placed.pools {
		if q == any(p) {
			placed.pools = append(placed.pools[:i], placed.pools[i+1:]...)
			break
		}
	}
	return nil
}
