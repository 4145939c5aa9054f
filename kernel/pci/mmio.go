package pci

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/kernel/hw"
)

// MMIO is a mapped memory BAR: it implements hw.Regs with 32-bit atomic
// loads and stores (one bus transaction each, never merged or torn),
// bounds-checked to the BAR.
type MMIO struct {
	mem []byte
}

// NewMMIO makes an MMIO over mapped memory (a test may pass a slice).
func NewMMIO(mem []byte) *MMIO { return &MMIO{mem: mem} }

// Len implements hw.Regs.
func (m *MMIO) Len() int { return len(m.mem) }

func (m *MMIO) word(off int) *uint32 {
	if off < 0 || off&3 != 0 || off+4 > len(m.mem) {
		panic(fmt.Sprintf("pci: register access at %#x outside or misaligned in a %#x-byte BAR", off, len(m.mem)))
	}
	return (*uint32)(unsafe.Pointer(&m.mem[off]))
}

// Read32 implements hw.Regs.
func (m *MMIO) Read32(off int) uint32 { return atomic.LoadUint32(m.word(off)) }

// Write32 implements hw.Regs.
func (m *MMIO) Write32(off int, v uint32) { atomic.StoreUint32(m.word(off), v) }

// MapBAR maps memory BAR i of addr through sysfs's resourceI file.
func (b *Bus) MapBAR(addr string, i int) (*MMIO, error) {
	d, err := b.Lookup(addr)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= 6 || !d.BARs[i].IsMem() || d.BARs[i].Size() == 0 {
		return nil, fmt.Errorf("pci: %s has no memory BAR %d", addr, i)
	}
	f, err := os.OpenFile(filepath.Join(b.root(), addr, fmt.Sprintf("resource%d", i)), os.O_RDWR|unix.O_SYNC, 0)
	if err != nil {
		return nil, fmt.Errorf("pci: %w", err)
	}
	defer f.Close()
	mmap := b.Mmap
	if b == nil || mmap == nil {
		mmap = func(f *os.File, n int) ([]byte, error) {
			return unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		}
	}
	mem, err := mmap(f, int(d.BARs[i].Size()))
	if err != nil {
		return nil, fmt.Errorf("pci: mapping BAR %d of %s: %w", i, addr, err)
	}
	return &MMIO{mem: mem}, nil
}

var _ hw.Regs = (*MMIO)(nil)
