package hw

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// A Buffer is a physically contiguous region of DMA memory: the device sees
// it at Phys, the driver reads and writes it through typed little-endian
// accessors. Offsets are bounds-checked (an access outside panics).
//
// Fields the device writes while the driver polls (completion entries,
// descriptor status) must be read with Load32, an atomic load the compiler
// cannot hoist out of a polling loop or merge with an earlier read.
type Buffer struct {
	b    []byte
	phys uint64
}

// NewBuffer makes a Buffer over b, which the device sees at phys. For the
// kernel's allocators (package kernel/dma, tests).
func NewBuffer(b []byte, phys uint64) *Buffer { return &Buffer{b: b, phys: phys} }

// Len is the buffer's size in bytes.
func (b *Buffer) Len() int { return len(b.b) }

// Phys is the physical (bus) address of the buffer's first byte.
func (b *Buffer) Phys() uint64 { return b.phys }

// PhysAt is the physical address of byte off.
func (b *Buffer) PhysAt(off int) uint64 {
	if off < 0 || off > len(b.b) {
		panic(fmt.Sprintf("hw: offset %d outside a %d-byte DMA buffer", off, len(b.b)))
	}
	return b.phys + uint64(off)
}

// Get8 .. Put64 access little-endian fields at byte offsets.
func (b *Buffer) Get8(off int) uint8        { return b.b[off] }
func (b *Buffer) Put8(off int, v uint8)     { b.b[off] = v }
func (b *Buffer) Get16(off int) uint16      { return binary.LittleEndian.Uint16(b.b[off:]) }
func (b *Buffer) Put16(off int, v uint16)   { binary.LittleEndian.PutUint16(b.b[off:], v) }
func (b *Buffer) Get32(off int) uint32      { return binary.LittleEndian.Uint32(b.b[off:]) }
func (b *Buffer) Put32(off int, v uint32)   { binary.LittleEndian.PutUint32(b.b[off:], v) }
func (b *Buffer) Get64(off int) uint64      { return binary.LittleEndian.Uint64(b.b[off:]) }
func (b *Buffer) Put64(off int, v uint64)   { binary.LittleEndian.PutUint64(b.b[off:], v) }
func (b *Buffer) CopyIn(off int, p []byte)  { copy(b.b[off:off+len(p)], p) }
func (b *Buffer) CopyOut(p []byte, off int) { copy(p, b.b[off:off+len(p)]) }

// Zero clears n bytes from off.
func (b *Buffer) Zero(off, n int) { clear(b.b[off : off+n]) }

// Load32 atomically loads the little-endian 32-bit field at off, which must
// be 4-byte aligned: for fields the device writes while the driver polls.
func (b *Buffer) Load32(off int) uint32 {
	if off&3 != 0 {
		panic(fmt.Sprintf("hw: Load32 at misaligned offset %d", off))
	}
	if off < 0 || off+4 > len(b.b) {
		// An explicit check, not a load: a plain read of the field would
		// race with the device's (or a model's) atomic store to it.
		panic(fmt.Sprintf("hw: Load32 at offset %d outside a %d-byte buffer", off, len(b.b)))
	}
	// Little-endian host (amd64, arm64): the loaded word is the field.
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b.b[off])))
}

// Store32 atomically stores v as the little-endian 32-bit field at off,
// which must be 4-byte aligned: for a device (or a device model) writing a
// field the driver polls with Load32.
func (b *Buffer) Store32(off int, v uint32) {
	if off&3 != 0 {
		panic(fmt.Sprintf("hw: Store32 at misaligned offset %d", off))
	}
	if off < 0 || off+4 > len(b.b) {
		panic(fmt.Sprintf("hw: Store32 at offset %d outside a %d-byte buffer", off, len(b.b)))
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b.b[off])), v)
}

// Sub is the part [off, off+n) of the buffer, sharing its memory.
func (b *Buffer) Sub(off, n int) Buffer {
	return Buffer{b: b.b[off : off+n : off+n], phys: b.phys + uint64(off)}
}

// Bytes is the buffer's memory. For tests and kernel code; driver domains
// use the typed accessors.
func (b *Buffer) Bytes() []byte { return b.b }
