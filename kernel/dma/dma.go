// Package dma is the kernel's DMA memory: memory off the Go heap that a
// device can master, with known physical addresses.
//
// Memory comes in chunks from a Source: on the target, 2 MiB huge pages
// from hugetlbfs when the kernel has them (each physically contiguous), or
// else 4 KiB pages, mlock'd, with vm.compact_unevictable_allowed=0 so that
// compaction does not move them, and their physical addresses read from
// /proc/self/pagemap (present bit checked). The Allocator carves buffers
// out of the chunks.
//
// # Invariants
//
//   - Every buffer Alloc returns is physically contiguous: it never crosses
//     a boundary between two pages that are not physically adjacent.
//   - Its physical address is a multiple of the alignment asked for (at
//     least 64 bytes), and its memory is zeroed.
//   - Reset takes back every buffer at once (a driver's memory when its
//     domain dies), except those made permanent by Keep (a CellPool's);
//     the chunks stay mapped and locked, for the next one.
package dma

import (
	"errors"
	"fmt"
	"sync"

	"github.com/rlgo/redleaf/kernel/hw"
)

// A Chunk is memory from a Source: its bytes and the physical address of
// each of its pages.
type Chunk struct {
	Mem      []byte
	PageSize int      // power of two
	Phys     []uint64 // physical address of page i (len(Mem)/PageSize entries)
}

// A Source maps chunks of DMA memory of at least n bytes.
type Source interface {
	Map(n int) (Chunk, error)
}

// Allocator hands out DMA buffers from chunks of a Source. It is safe for
// concurrent use and implements hw.DMA.
type Allocator struct {
	src       Source
	chunkSize int

	mu     sync.Mutex
	chunks []*chunkState
}

type chunkState struct {
	Chunk
	next  int // bump pointer: bytes below next are allocated
	floor int // bytes below floor are kept: Reset does not take them back
}

// ErrExhausted is wrapped by Alloc's error when the Source has no more.
var ErrExhausted = errors.New("dma: out of DMA memory")

// New returns an allocator that maps chunks of at least chunkSize bytes
// from src as it needs them.
func New(src Source, chunkSize int) *Allocator {
	return &Allocator{src: src, chunkSize: chunkSize}
}

// NewContiguous returns an allocator over mem, which is physically
// contiguous from phys (a huge page; guest RAM in tests) and never grows.
func NewContiguous(mem []byte, phys uint64) *Allocator {
	a := &Allocator{}
	a.chunks = []*chunkState{{Chunk: Chunk{Mem: mem, PageSize: len(mem), Phys: []uint64{phys}}}}
	return a
}

// Alloc implements hw.DMA.
func (a *Allocator) Alloc(size, align int) (*hw.Buffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("dma: allocation of %d bytes", size)
	}
	if align < 64 {
		align = 64
	}
	if align&(align-1) != 0 {
		return nil, fmt.Errorf("dma: alignment %d is not a power of two", align)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.chunks {
		if b := c.alloc(size, align); b != nil {
			return b, nil
		}
	}
	if a.src == nil {
		return nil, fmt.Errorf("%w: no room for %d bytes aligned to %d", ErrExhausted, size, align)
	}
	c, err := a.src.Map(max(size+align, a.chunkSize))
	if err != nil {
		return nil, fmt.Errorf("%w: mapping a chunk for %d bytes: %w", ErrExhausted, size, err)
	}
	cs := &chunkState{Chunk: c}
	a.chunks = append(a.chunks, cs)
	if b := cs.alloc(size, align); b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("%w: no physically contiguous %d bytes aligned to %d in a fresh chunk of %d bytes in pages of %d",
		ErrExhausted, size, align, len(c.Mem), c.PageSize)
}

// alloc carves [off, off+size) from c: off past next, its physical address
// aligned, all of it physically contiguous.
func (c *chunkState) alloc(size, align int) *hw.Buffer {
	off := c.next
	for off+size <= len(c.Mem) {
		pa := c.phys(off)
		if r := int(pa % uint64(align)); r != 0 {
			off += align - r
			continue
		}
		if end := off + size; end > len(c.Mem) {
			return nil
		} else if bad := c.discontinuity(off, end); bad >= 0 {
			off = bad // start again at the page that does not follow on
			continue
		}
		c.next = off + size
		b := c.Mem[off : off+size : off+size]
		clear(b)
		return hw.NewBuffer(b, pa)
	}
	return nil
}

func (c *chunkState) phys(off int) uint64 {
	return c.Phys[off/c.PageSize] + uint64(off%c.PageSize)
}

// discontinuity returns the offset of the first page in [off, end) that is
// not physically adjacent to the page before it, or -1.
func (c *chunkState) discontinuity(off, end int) int {
	for p := off/c.PageSize + 1; p*c.PageSize < end; p++ {
		if c.Phys[p] != c.Phys[p-1]+uint64(c.PageSize) {
			return p * c.PageSize
		}
	}
	return -1
}

// Reset takes back every buffer. Whoever held them must have stopped the
// device from using them (a driver domain's restart disables its
// controller before it allocates again).
func (a *Allocator) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.chunks {
		c.next = c.floor
	}
}

// Keep makes every buffer handed out so far permanent: Reset no longer
// takes them back. The kernel allocates what outlives a driver instance
// (a NIC's packet cells, see CellPool) and then keeps it, before any
// driver allocates.
func (a *Allocator) Keep() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.chunks {
		c.floor = c.next
	}
}

// InUse is the number of bytes handed out (padding included).
func (a *Allocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.chunks {
		n += c.next
	}
	return n
}

var _ hw.DMA = (*Allocator)(nil)
