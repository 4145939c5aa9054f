package system

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// What every driver domain of the system goes through: its device taken
// from Linux (takeFromLinux), the domain started behind a shadow with the
// kernel's capability bound to it (guarded), and the service recorded
// (addService).

// takeFromLinux takes d from Linux for a driver domain, with DMA memory
// from newDMA (nil: NewSystemDMA). The memory is tried first, while Linux
// still drives d: without it (no CAP_SYS_ADMIN: the pagemap hides frame
// numbers) nothing is taken.
func (s *System) takeFromLinux(d pci.Device, newDMA func() (DMA, error)) (*pci.Function, error) {
	if newDMA == nil {
		newDMA = NewSystemDMA
	}
	alloc, err := newDMA()
	if err != nil {
		return nil, fmt.Errorf("no DMA memory: %w; left to Linux (%s)", err, linuxDriver(d))
	}
	if _, err := alloc.Alloc(4096, 4096); err != nil {
		if errors.Is(err, dma.ErrNoFrame) || errors.Is(err, os.ErrPermission) {
			err = fmt.Errorf("%w (DMA needs physical addresses: run as root with CAP_SYS_ADMIN)", err)
		}
		return nil, fmt.Errorf("no DMA memory: %w; left to Linux (%s)", err, linuxDriver(d))
	}
	alloc.Reset()
	f, err := s.bus.Take(d.Addr, alloc)
	if err != nil {
		return nil, fmt.Errorf("taking it from Linux: %w", err)
	}
	return f, nil
}

// guarded starts a domain of kind named name with grants, behind a shadow
// with policy, and binds the kernel's capability of interface I to the
// shadow, with deadline (0: none). note follows "starting the NAME domain"
// in that step's error: what became of the device. On an error nothing is
// left running.
func guarded[I any](s *System, kind, name, note string, policy shadow.Policy, deadline time.Duration, grants ...domain.CreateOption) (*shadow.Guard, I, error) {
	var none I
	d, err := s.m.Create(kind, append([]domain.CreateOption{domain.Name(name)}, grants...)...)
	if err != nil {
		return nil, none, fmt.Errorf("starting the %s domain%s: %w", name, note, err)
	}
	g, err := shadow.New(s.m, d, policy)
	if err != nil {
		s.m.Kill(d)
		return nil, none, fmt.Errorf("guarding %s: %w", name, err)
	}
	c, err := domain.Connect[I](s.m.Kernel(), g, domain.Deadline(deadline))
	if err != nil {
		s.m.Kill(d)
		return nil, none, fmt.Errorf("connecting to %s: %w", name, err)
	}
	return g, c, nil
}

// addService records a service the system started, for the listing,
// kill, restart and inject. Services are added after start-up too (the
// ixgbe ports start on first use), so the list has its own lock.
func (s *System) addService(svc *service) {
	s.svcMu.Lock()
	s.services = append(s.services, svc)
	s.svcMu.Unlock()
}

// serviceList is a snapshot of the services, in the order they started.
func (s *System) serviceList() []*service {
	s.svcMu.Lock()
	defer s.svcMu.Unlock()
	return append([]*service(nil), s.services...)
}

// drive records that the domain name drives the PCI function at addr.
func (s *System) drive(addr, name string) {
	s.mu.Lock()
	s.owners[addr] = name
	s.mu.Unlock()
}
