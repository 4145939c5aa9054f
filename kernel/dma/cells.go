package dma

import (
	"fmt"
	"reflect"

	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// A CellPool is a pool of shared-heap cells in DMA memory: cells a device
// reads and writes itself, so that a driver hands the cell the NIC filled
// to its caller, and puts the caller's cell in its ring, without copying
// (zero-copy packets). It implements hw.CellPool.
//
// # Invariants
//
//   - Each cell is physically contiguous and its payload's bus address is
//     known (phys); the memory is kept (Allocator.Keep): a driver's restart
//     does not take it back.
//   - Phys tells a bus address only to the holder of a valid handle: the
//     cell's owner. A driver learns the addresses of the cells it owns,
//     which it may give its device, and nothing else.
//   - Cells are rref cells: moved, dropped and reclaimed like any other.
//     A dead driver's cells (those in its rings) go back to the pool when
//     its account is closed, which the domain kernel does after it has
//     reset the driver's devices: the device no longer writes into them.
type CellPool[T any] struct {
	pool *rref.Pool[T]
	phys []uint64 // bus address of the payload of cell i
	size int      // bytes of payload
}

// NewCellPool allocates n cells of T from a, named name, and keeps their
// memory (a.Keep: call it before the device's driver allocates anything,
// or the driver's memory is kept too).
func NewCellPool[T any](name string, a *Allocator, n int) (*CellPool[T], error) {
	if n <= 0 {
		return nil, fmt.Errorf("dma: cell pool %s of %d cells", name, n)
	}
	size, align, off := rref.CellSize[T](), max(rref.CellAlign[T](), 64), rref.PayloadOffset[T]()
	mems := make([][]byte, n)
	phys := make([]uint64, n)
	for i := range n {
		b, err := a.Alloc(size, align)
		if err != nil {
			return nil, fmt.Errorf("dma: cell %d of %d of pool %s (%d bytes each): %w", i, n, name, size, err)
		}
		mems[i], phys[i] = b.Bytes(), b.Phys()+uint64(off)
	}
	a.Keep()
	return &CellPool[T]{pool: rref.NewPoolIn[T](name, mems), phys: phys, size: int(reflect.TypeFor[T]().Size())}, nil
}

// Get implements hw.CellPool.
func (p *CellPool[T]) Get(a *rref.Account) (rref.RRef[T], bool) { return p.pool.Get(a) }

// Phys implements hw.CellPool.
func (p *CellPool[T]) Phys(r rref.RRef[T], off int) (uint64, bool) {
	i, ok := p.pool.Slot(r)
	if !ok || off < 0 || off >= p.size {
		return 0, false
	}
	return p.phys[i] + uint64(off), true
}

// Retire lets the pool and its memory go once every cell is back
// (rref.Pool.Retire): for device models, whose DMA memory is Go memory.
func (p *CellPool[T]) Retire() error { return p.pool.Retire() }

// Pool is the pool of the cells, for the kernel's accounting (Free, Cap).
func (p *CellPool[T]) Pool() *rref.Pool[T] { return p.pool }

var _ hw.CellPool[struct{}] = (*CellPool[struct{}])(nil)
