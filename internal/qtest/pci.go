package qtest

import (
	"fmt"
	"sync"

	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/hw"
)

// A PCIFunc is a function on bus 0 of the machine, reached through the
// legacy config mechanism (ports 0xcf8/0xcfc). It implements hw.PCIDevice:
// BARs are assigned by MapBAR, DMA memory is guest RAM.
type PCIFunc struct {
	m        *Machine
	dev, fn  int
	vendor   uint16
	deviceID uint16
	dma      *dma.Allocator

	mu   sync.Mutex
	bars [6]hw.Regs
}

// DMABase is where DMA memory starts in guest RAM: below it is left alone.
const DMABase = 16 << 20

// FindPCI returns the first function on bus 0 with the IDs given; its DMA
// allocator hands out guest RAM from DMABase.
func (m *Machine) FindPCI(vendor, device uint16) (*PCIFunc, error) {
	for dev := range 32 {
		f := &PCIFunc{m: m, dev: dev}
		id := f.ConfigRead32(0)
		if uint16(id) == vendor && uint16(id>>16) == device {
			f.vendor, f.deviceID = vendor, device
			f.dma = dma.NewContiguous(m.RAM[DMABase:], DMABase)
			return f, nil
		}
	}
	return nil, fmt.Errorf("qtest: no PCI function %04x:%04x on bus 0", vendor, device)
}

func (f *PCIFunc) cfgAddr(off int) uint32 {
	return 1<<31 | uint32(f.dev)<<11 | uint32(f.fn)<<8 | uint32(off)&0xfc
}

// ConfigRead32 .. ConfigWrite16 access config space.
func (f *PCIFunc) ConfigRead32(off int) uint32 {
	f.m.Outl(0xcf8, f.cfgAddr(off))
	return f.m.Inl(0xcfc)
}
func (f *PCIFunc) ConfigWrite32(off int, v uint32) {
	f.m.Outl(0xcf8, f.cfgAddr(off))
	f.m.Outl(0xcfc, v)
}
func (f *PCIFunc) ConfigRead16(off int) uint16 {
	f.m.Outl(0xcf8, f.cfgAddr(off))
	return f.m.Inw(0xcfc + uint16(off&2))
}
func (f *PCIFunc) ConfigWrite16(off int, v uint16) {
	f.m.Outl(0xcf8, f.cfgAddr(off))
	f.m.Outw(0xcfc+uint16(off&2), v)
}

// SetCommand sets and clears bits of the command register.
func (f *PCIFunc) SetCommand(set, clear uint16) {
	f.ConfigWrite16(4, f.ConfigRead16(4)&^clear|set)
}

// MapBAR assigns memory BAR i the address addr and returns its registers;
// it sizes the BAR the standard way (write all ones, read back).
func (f *PCIFunc) MapBAR(i int, addr uint64) (hw.Regs, error) {
	off := 0x10 + 4*i
	orig := f.ConfigRead32(off)
	if orig&1 != 0 {
		return nil, fmt.Errorf("qtest: BAR %d is I/O space", i)
	}
	f.ConfigWrite32(off, 0xffffffff)
	size := ^(f.ConfigRead32(off) &^ 0xf) + 1
	is64 := orig&0x6 == 0x4
	f.ConfigWrite32(off, uint32(addr))
	if is64 {
		f.ConfigWrite32(off+4, uint32(addr>>32))
	}
	if size == 0 {
		return nil, fmt.Errorf("qtest: BAR %d is unused", i)
	}
	r := &Regs{m: f.m, base: addr, size: int(size)}
	f.mu.Lock()
	f.bars[i] = r
	f.mu.Unlock()
	return r, nil
}

// Addr implements hw.PCIDevice.
func (f *PCIFunc) Addr() string { return fmt.Sprintf("0000:00:%02x.%d", f.dev, f.fn) }

// IDs implements hw.PCIDevice.
func (f *PCIFunc) IDs() (uint16, uint16) { return f.vendor, f.deviceID }

// BAR implements hw.PCIDevice: BARs assigned by MapBAR.
func (f *PCIFunc) BAR(i int) (hw.Regs, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < 0 || i >= 6 || f.bars[i] == nil {
		return nil, fmt.Errorf("qtest: BAR %d not mapped", i)
	}
	return f.bars[i], nil
}

// DMA implements hw.PCIDevice.
func (f *PCIFunc) DMA() hw.DMA { return f.dma }

// DMAAllocator is the allocator DMA returns.
func (f *PCIFunc) DMAAllocator() *dma.Allocator { return f.dma }

// Command implements hw.PCIDevice.
func (f *PCIFunc) Command() (uint16, error) { return f.ConfigRead16(4), nil }

// Reset is what the kernel calls when the driver dies: its DMA memory is
// taken back (as pci.Function does).
func (f *PCIFunc) Reset() { f.dma.Reset() }

// Regs is a BAR's registers over qtest MMIO; it implements hw.Regs.
type Regs struct {
	m    *Machine
	base uint64
	size int
}

func (r *Regs) check(off int) {
	if off < 0 || off&3 != 0 || off+4 > r.size {
		panic(fmt.Sprintf("qtest: register access at %#x outside or misaligned in a %#x-byte BAR", off, r.size))
	}
}

// Len implements hw.Regs.
func (r *Regs) Len() int { return r.size }

// Read32 implements hw.Regs.
func (r *Regs) Read32(off int) uint32 { r.check(off); return r.m.Readl(r.base + uint64(off)) }

// Write32 implements hw.Regs.
func (r *Regs) Write32(off int, v uint32) { r.check(off); r.m.Writel(r.base+uint64(off), v) }

var _ hw.PCIDevice = (*PCIFunc)(nil)
