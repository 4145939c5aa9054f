// Package hw is the domain-facing half of the device substrate: the typed
// accessors through which a driver domain reaches the one device it was
// granted, without unsafe.
//
//   - Regs is a device's register window (a mapped BAR): 32- and 64-bit
//     loads and stores at byte offsets, bounds-checked against the window.
//   - Buffer is DMA memory: a physically contiguous region with its bus
//     address (Phys) and little-endian typed field access.
//   - DMA allocates Buffers; PCIDevice is what the kernel grants a driver:
//     its BARs, its DMA allocator and its PCI command register, read only.
//
// The implementations are trusted kernel code: kernel/pci (mmap of sysfs
// resourceN files), kernel/dma (mlock'd pages translated through
// /proc/self/pagemap) and, for tests, internal/qtest (QEMU's qtest protocol
// and guest RAM in a shared file). The driver code is the same for all.
//
// # What this cannot enforce
//
// Without an IOMMU a device masters any physical address it is given: a
// driver that writes a wrong address into a descriptor reaches memory that
// is not its own, whatever Buffer it holds. NewBuffer is exported for the
// kernel's allocators; a domain calling it gains nothing it did not have
// (it can already write any number into a descriptor).
package hw

import (
	"errors"

	"github.com/rlgo/redleaf/kernel/rref"
)

// Regs is a register window of a device. Offsets are in bytes from the
// window's start; an access outside the window, or misaligned, panics (in a
// domain: the domain fails, nothing else happens).
type Regs interface {
	Len() int
	Read32(off int) uint32
	Write32(off int, v uint32)
}

// Read64 reads a 64-bit register as two 32-bit reads, low half first, as
// NVMe and most PCI devices allow.
func Read64(r Regs, off int) uint64 {
	lo := r.Read32(off)
	hi := r.Read32(off + 4)
	return uint64(hi)<<32 | uint64(lo)
}

// Write64 writes a 64-bit register as two 32-bit writes, low half first.
func Write64(r Regs, off int, v uint64) {
	r.Write32(off, uint32(v))
	r.Write32(off+4, uint32(v>>32))
}

// DMA allocates DMA memory for one device.
type DMA interface {
	// Alloc returns a zeroed, physically contiguous buffer of size bytes
	// whose physical address is a multiple of align (a power of two; at
	// least 64).
	Alloc(size, align int) (*Buffer, error)
}

// PCI command register bits.
const (
	CmdIO          uint16 = 1 << 0
	CmdMemory      uint16 = 1 << 1
	CmdBusMaster   uint16 = 1 << 2
	CmdINTxDisable uint16 = 1 << 10
)

// PCIDevice is the PCI function a driver domain is granted.
type PCIDevice interface {
	// Addr is the function's address (0000:00:04.0).
	Addr() string
	// IDs is its vendor and device ID.
	IDs() (vendor, device uint16)
	// BAR maps base address register i.
	BAR(i int) (Regs, error)
	// DMA is the allocator of DMA memory for the device.
	DMA() DMA
	// Command reads the PCI command register. The kernel sets memory
	// space, bus master and INTx disable when it takes the device; a
	// driver checks them to explain a device that does not answer.
	Command() (uint16, error)
}

// ErrNoBusMaster is what a driver reports when bus mastering is off: the
// device cannot reach memory, so it never completes anything.
var ErrNoBusMaster = errors.New("hw: bus mastering is disabled in the PCI command register; the device cannot DMA")

// A CellPool is a pool of shared-heap cells in DMA memory that the kernel
// grants a driver (kernel/dma.CellPool): the device reads and writes the
// cells' payloads itself, so packets move between the device and the
// driver's callers without a copy.
type CellPool[T any] interface {
	// Get hands out a free cell, owned by a, zeroed; false if the pool is
	// empty.
	Get(a *rref.Account) (rref.RRef[T], bool)
	// Phys is the bus address of byte off of r's payload, if r is a valid
	// handle (its holder owns the cell) to a cell of this pool and off is
	// inside the payload; false otherwise (a cell on the Go heap, another
	// pool's, a stale handle).
	Phys(r rref.RRef[T], off int) (uint64, bool)
}

// Exchange puts c, a cell of pool its caller owns (a descriptor's), in
// place of element k of q and returns the element taken out, with the bus
// address of byte off of its payload: what a zero-copy driver posts in the
// descriptor instead of c. Two compare-and-swaps.
//
// If the element is not a cell of pool (a buffer on the Go heap), x is a
// fresh cell of pool instead and old is the element, now the caller's: it
// copies what it needs of it into x (a frame to send) and drops it. So a
// caller's heap buffers become cells of the pool as they pass. If the pool
// is empty, c goes back where it was: x is c's new handle (the old one went
// stale in the deque), phys 0 and ok false, and the caller copies.
func Exchange[T any](pool CellPool[T], heap *rref.Account, q rref.Deque[T], k int, c rref.RRef[T], off int) (x rref.RRef[T], phys uint64, old rref.RRef[T], ok bool) {
	x = q.Swap(k, c)
	if phys, ok = pool.Phys(x, off); ok {
		return x, phys, old, true
	}
	fresh, ok := pool.Get(heap)
	if !ok {
		return q.Swap(k, x), 0, old, false // c back, with a new handle
	}
	phys, _ = pool.Phys(fresh, off)
	return fresh, phys, x, true
}
