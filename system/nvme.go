package system

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rlgo/redleaf/drivers/nvme"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// NVMeName is the name of the NVMe driver domain (and of its shell command).
const NVMeName = "nvme"

// ClassNVMe is the PCI class of an NVMe controller: mass storage,
// non-volatile memory, NVM Express.
const ClassNVMe = 0x010802

// DefaultNVMeDeadline is the per-call deadline of the kernel's capability
// to the NVMe domain unless Options says otherwise: longer than a command's
// timeout, and long enough for the shadow to bring a new instance up (a
// controller reset, under TCG) inside the call it retries.
const DefaultNVMeDeadline = 15 * time.Second

// DMA is a device's DMA allocator as the kernel holds it: Reset takes a
// dead driver's memory back for the next instance (pci.Function.Reset).
type DMA interface {
	hw.DMA
	Reset()
}

// NewSystemDMA is the default Options.DMA: the target's allocator
// (dma.NewSystem: huge pages when the kernel has them, mlock'd 4 KiB pages
// otherwise, compaction disabled).
func NewSystemDMA() (DMA, error) { return dma.NewSystem() }

// A blockDev is a block device the shell reaches: the kernel's capability
// to a driver domain, through its shadow.
type blockDev struct {
	name  string // the domain's name
	cmd   string // the shell command
	dev   idl.BlockDevice
	guard *shadow.Guard
	where string // "on 0000:00:04.0 (1b36:0010)" or ""
	flush bool   // flush after every write the shell makes
}

// pciBus is the bus the system scans: Options.PCI, or the machine's when
// the process is PID 1, or nil.
func pciBus(opts Options) *pci.Bus {
	if opts.PCI != nil {
		return opts.PCI
	}
	if os.Getpid() == 1 {
		return &pci.Bus{}
	}
	return nil
}

// startNVMe finds the NVMe controllers on the bus and binds the first to
// an NVMe driver domain behind a shadow. It never fails the system: what
// went wrong is logged, and the controller is left to Linux when that is
// still possible. The other controllers stay with Linux (its driver is
// what ours is compared with).
func (s *System) startNVMe(opts Options) {
	if s.bus == nil {
		return
	}
	devs, err := s.bus.Scan()
	if errors.Is(err, os.ErrNotExist) {
		s.logf("nvme: no PCI bus (%v)", err)
		return
	}
	if err != nil {
		s.logf("nvme: scanning PCI: %v", err)
		return
	}
	var ctrls []pci.Device
	for _, d := range devs {
		if d.Class == ClassNVMe {
			ctrls = append(ctrls, d)
		}
	}
	if len(ctrls) == 0 {
		s.logf("nvme: no NVMe controller")
		return
	}
	for _, d := range ctrls[1:] {
		s.logf("nvme: %s (%04x:%04x) left to Linux (%s)", d.Addr, d.Vendor, d.DeviceID, linuxDriver(d))
	}
	d := ctrls[0]
	if err := s.bindNVMe(opts, d); err != nil {
		s.logf("nvme: %s (%04x:%04x): %v; carrying on without it", d.Addr, d.Vendor, d.DeviceID, err)
	}
}

// takenFrom names the Linux driver d is taken from, for the log.
func takenFrom(d pci.Device) string {
	if d.Driver == "" {
		return "no Linux driver"
	}
	return "Linux's " + d.Driver
}

func linuxDriver(d pci.Device) string {
	if d.Driver == "" {
		return "no driver"
	}
	return "driver " + d.Driver
}

// bindNVMe takes the controller d from Linux and starts the NVMe domain on
// it, behind a shadow.
func (s *System) bindNVMe(opts Options, d pci.Device) error {
	f, err := s.takeFromLinux(d, opts.DMA)
	if err != nil {
		return err
	}
	g, disk, err := guarded[idl.BlockDevice](s, nvme.Kind, NVMeName, " (the controller is no longer Linux's)", opts.Policy, opts.NVMeDeadline,
		domain.GrantDevice(nvme.GrantPCI, hw.PCIDevice(f)),
		domain.GrantDevice(nvme.GrantConfig, opts.NVMe),
		domain.GrantDevice(nvme.GrantFaults, s.inj.Device()))
	if err != nil {
		return err
	}
	s.nvme = &blockDev{name: NVMeName, cmd: NVMeName, dev: disk, guard: g, flush: true,
		where: fmt.Sprintf("on %s (%04x:%04x)", d.Addr, d.Vendor, d.DeviceID)}
	s.addService(&service{
		name:  NVMeName,
		guard: g,
		ping:  func() error { _, err := disk.BlockSize(); return err },
	})
	s.drive(d.Addr, NVMeName)
	what := ""
	if n, err := disk.NumBlocks(); err != nil {
		what = fmt.Sprintf("; asking its size: %v", err)
	} else {
		what = fmt.Sprintf(", %d blocks of %d bytes (%s)", n, idl.BlockSize, size(n*idl.BlockSize))
	}
	s.logf("nvme: %s (%04x:%04x) taken from %s: domain %s (shadowed)%s", d.Addr, d.Vendor, d.DeviceID, takenFrom(d), NVMeName, what)
	return nil
}

// PCIOwner names the domain that drives the PCI function at addr, or "".
func (s *System) PCIOwner(addr string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[addr]
}

// NVMe is the kernel's capability to the NVMe domain, through its shadow,
// or nil when no controller was bound.
func (s *System) NVMe() idl.BlockDevice {
	if s.nvme == nil {
		return nil
	}
	return s.nvme.dev
}

// NVMeGuard is the NVMe domain's shadow, or nil.
func (s *System) NVMeGuard() *shadow.Guard {
	if s.nvme == nil {
		return nil
	}
	return s.nvme.guard
}

// errNoNVMe is what the nvme command and the NVMe block calls report on a
// machine without a bound controller.
var errNoNVMe = errors.New("no NVMe controller is driven by a domain (lspci lists the PCI devices; the boot log says why)")

// ReadNVMe reads block lba of the NVMe namespace through its shadow.
func (s *System) ReadNVMe(lba uint64) (idl.Block, error) {
	if s.nvme == nil {
		return idl.Block{}, errNoNVMe
	}
	return s.readBlock(s.nvme, lba)
}

// WriteNVMe writes b to block lba of the NVMe namespace through its
// shadow, and flushes it.
func (s *System) WriteNVMe(lba uint64, b *idl.Block) error {
	if s.nvme == nil {
		return errNoNVMe
	}
	return s.writeBlock(s.nvme, lba, b)
}
