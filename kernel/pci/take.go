package pci

import (
	"fmt"
	"sync"

	"github.com/rlgo/redleaf/kernel/hw"
)

// A Function is a PCI function taken from Linux for a driver domain. It
// implements hw.PCIDevice; grant it (domain.GrantDevice) to exactly one
// driver. When the driver dies the kernel calls Reset, which takes its DMA
// memory back for the next instance.
type Function struct {
	bus *Bus
	dev Device
	dma interface {
		hw.DMA
		Reset()
	}

	mu   sync.Mutex
	bars [6]*MMIO
}

// Take detaches addr from its Linux driver and turns on memory space, bus
// mastering and INTx disable (drivers here poll; nobody handles its
// interrupts). dma is the device's DMA allocator.
func (b *Bus) Take(addr string, dma interface {
	hw.DMA
	Reset()
}) (*Function, error) {
	d, err := b.Lookup(addr)
	if err != nil {
		return nil, err
	}
	if err := b.Unbind(addr); err != nil {
		return nil, err
	}
	if _, err := b.SetCommand(addr, hw.CmdMemory|hw.CmdBusMaster|hw.CmdINTxDisable, 0); err != nil {
		return nil, err
	}
	d.Driver = ""
	return &Function{bus: b, dev: d, dma: dma}, nil
}

// Device is the function's description at Take.
func (f *Function) Device() Device { return f.dev }

// Addr implements hw.PCIDevice.
func (f *Function) Addr() string { return f.dev.Addr }

// IDs implements hw.PCIDevice.
func (f *Function) IDs() (uint16, uint16) { return f.dev.Vendor, f.dev.DeviceID }

// BAR implements hw.PCIDevice; the mapping is made once and shared by the
// driver's instances.
func (f *Function) BAR(i int) (hw.Regs, error) {
	if i < 0 || i >= 6 {
		return nil, fmt.Errorf("pci: BAR %d", i)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bars[i] == nil {
		m, err := f.bus.MapBAR(f.dev.Addr, i)
		if err != nil {
			return nil, err
		}
		f.bars[i] = m
	}
	return f.bars[i], nil
}

// DMA implements hw.PCIDevice.
func (f *Function) DMA() hw.DMA { return f.dma }

// Command implements hw.PCIDevice.
func (f *Function) Command() (uint16, error) { return f.bus.ReadConfig16(f.dev.Addr, ConfigCommand) }

// Reset takes the DMA memory of a dead driver back. The controller may
// still hold addresses in it: the next instance's bring-up disables the
// controller before it allocates (drivers here are written so).
func (f *Function) Reset() { f.dma.Reset() }

var _ hw.PCIDevice = (*Function)(nil)
