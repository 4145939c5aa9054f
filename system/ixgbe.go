package system

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/bench"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// The ixgbe ports: each an ixgbe driver domain (drivers/ixgbe) behind a
// shadow, named IxgbePrefix and its number (ixgbe0, ixgbe1), over a real
// 82599-family function taken from Linux when the machine has one, and
// over an instance of the 82599 model (drivers/ixgbe/model) otherwise:
// always in QEMU, which has no 82599. The model generates traffic into
// the RX ring of a port and sinks what is sent, so Rv6's benchnet, fwd and
// pktgen run anywhere. Those programs drive the ports themselves, through
// the capabilities Rv6 passes them (grants.go): the port's driver through
// its shadow, and the kernel's control of the port (portControl).
//
// The ports start when they are first bound (grants.go: init holds them,
// so with Rv6 at boot) or on the first ifconfig (writeIxgbeIfconfig) at
// the kernel's console: the models' DMA memory and the bring-up cost
// nothing to a system that never uses them.

// IxgbePrefix is the prefix of the ixgbe ports' domain names.
const IxgbePrefix = "ixgbe"

// IxgbeModelPorts is how many ports the model provides when the machine
// has no 82599: two, so Rv6's fwd forwards between ports.
const IxgbeModelPorts = 2

// ixgbeDeadline is the per-call deadline of the kernel's capabilities to
// the ixgbe ports: a call that does not return within it (an injected
// loop) fails the domain; it is long enough for the shadow to bring up a
// new instance (a reset, 10 ms, and the rings) inside the call it retries.
const ixgbeDeadline = 15 * time.Second

// ixgbeModelRAM is the DMA memory of one model port: its packet pool
// (ixgbePacketCells cells of a little over 2 KiB) and the driver's
// descriptor rings.
const ixgbeModelRAM = 8 << 20

// ixgbePacketCells is the size of a port's packet pool (kernel/dma.CellPool
// in the port's DMA memory, granted as ixgbe.GrantPackets): the cells of
// its 512-entry RX and TX rings (a restarted instance takes them again
// after its predecessor's came back) and as many for its callers' buffers,
// which the driver exchanges for cells of the pool on RX. When the pool
// runs dry the driver copies, as it does without one.
const ixgbePacketCells = 4 * 512

// ixgbeConfig is what the ports are brought up with: one queue pair of
// RedLeaf's 512-entry rings.
var ixgbeConfig = ixgbe.Config{Queues: 1, RingSize: 512}

// An ixgbePort is one ixgbe driver domain and the kernel's capabilities
// to it.
type ixgbePort struct {
	name  string       // the domain's name, ixgbe0
	where string       // "82599 model (8086:10fb)", "0000:03:00.0 (8086:10fb)"
	model *model.Model // nil: a real NIC
	guard *shadow.Guard
	mode  *ixgbe.Mode // the kernel's loopback switch, read by each instance as it starts (portControl.Loopback)
	// ctl is the kernel's shadow capability with ixgbeDeadline: every
	// call runs on a kernel worker, so a domain that never returns is failed
	// and the kernel gets control back (promiscuous mode, ifconfig, the
	// service's ping).
	ctl idl.Net
}

// ixgbePorts is the system's set of ports, started once.
type ixgbePorts struct {
	mu    sync.Mutex
	ports []*ixgbePort // nil until started; guarded by mu
	err   error        // why they could not start; guarded by mu
}

// ixgbe is the system's ports.
func (s *System) ixgbe() *ixgbePorts {
	return &s.ixgbePorts
}

// ixgbeStart starts the ixgbe ports if they are not running yet and
// returns them. A failure is remembered: the next use reports it
// without trying again.
func (s *System) ixgbeStart() ([]*ixgbePort, error) {
	st := s.ixgbe()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ports != nil || st.err != nil {
		return st.ports, st.err
	}
	ports, found := s.bindRealIxgbe()
	if len(ports) == 0 {
		why := "no 82599 on the machine"
		if found > 0 {
			why = "the machine's 82599 could not be taken from Linux"
		}
		for i := range IxgbeModelPorts {
			p, err := s.startModelIxgbe(i, why)
			if err != nil {
				st.err = fmt.Errorf("%s: %w", IxgbePrefix, err)
				return nil, st.err
			}
			ports = append(ports, p)
		}
	}
	st.ports = ports
	return ports, nil
}

// ixgbeFunctions are the 82599-family functions on the PCI bus, in bus
// order, at most two (the two ports of an X520-DA2).
func (s *System) ixgbeFunctions() []pci.Device {
	if s.bus == nil {
		return nil
	}
	devs, err := s.bus.Scan()
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.logf("%s: scanning PCI: %v", IxgbePrefix, err)
		}
		return nil
	}
	var nics []pci.Device
	for _, d := range devs {
		if _, ok := ixgbe.Lookup(d.Vendor, d.DeviceID); ok && len(nics) < 2 {
			nics = append(nics, d)
		}
	}
	return nics
}

// bindRealIxgbe takes the machine's 82599-family functions from Linux
// (the first two) and starts a port on each. It returns the ports it
// started and how many functions it found; no ports when the machine has
// no such NIC or none could be taken (the model then stands in, and the
// log says why).
func (s *System) bindRealIxgbe() ([]*ixgbePort, int) {
	var ports []*ixgbePort
	funcs := s.ixgbeFunctions()
	for _, d := range funcs {
		name := fmt.Sprintf("%s%d", IxgbePrefix, len(ports))
		p, err := s.bindIxgbe(name, d)
		if err != nil {
			s.logf("%s: %s (%04x:%04x): %v; carrying on without it", name, d.Addr, d.Vendor, d.DeviceID, err)
			continue
		}
		ports = append(ports, p)
	}
	return ports, len(funcs)
}

// bindIxgbe takes the function d from Linux and starts the port name on
// it, as bindNVMe does for a controller.
func (s *System) bindIxgbe(name string, d pci.Device) (*ixgbePort, error) {
	f, err := s.takeFromLinux(d, s.opts.DMA)
	if err != nil {
		return nil, err
	}
	m, _ := ixgbe.Lookup(d.Vendor, d.DeviceID)
	p, err := s.startIxgbe(name, hw.PCIDevice(f), nil, fmt.Sprintf("%s (%04x:%04x, %s)", d.Addr, d.Vendor, d.DeviceID, m.Name))
	if err != nil {
		return nil, fmt.Errorf("%w (the NIC is no longer Linux's)", err)
	}
	s.drive(d.Addr, name)
	s.logf("%s: %s (%04x:%04x) taken from %s: domain %s (shadowed)", name, d.Addr, d.Vendor, d.DeviceID, linuxDriver(d), name)
	return p, nil
}

// startModelIxgbe starts port i over a new instance of the 82599 model;
// why says why there is no real one.
func (s *System) startModelIxgbe(i int, why string) (*ixgbePort, error) {
	m := model.New(model.Config{
		RAM:    ixgbeModelRAM,
		Queues: ixgbeConfig.Queues,
		MAC:    [6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, byte(i)}, // locally administered
	})
	m.Capture(false) // what a port sends goes nowhere: the model only counts it
	name := fmt.Sprintf("%s%d", IxgbePrefix, i)
	vendor, device := m.IDs()
	p, err := s.startIxgbe(name, m, m, fmt.Sprintf("82599 model (%04x:%04x)", vendor, device))
	if err != nil {
		return nil, err
	}
	s.logf("%s: %s: domain %s (shadowed) over the 82599 model", name, why, name)
	return p, nil
}

// startIxgbe starts the ixgbe domain name on dev behind a shadow, turns
// promiscuous mode on (the shadow replays it into every new instance) and
// adds it to the system's services.
func (s *System) startIxgbe(name string, dev hw.PCIDevice, m *model.Model, where string) (*ixgbePort, error) {
	mode := &ixgbe.Mode{}
	grants := []domain.CreateOption{
		domain.GrantDevice(ixgbe.GrantPCI, dev),
		domain.GrantDevice(ixgbe.GrantConfig, ixgbeConfig),
		domain.GrantDevice(ixgbe.GrantMode, mode),
		domain.GrantDevice(ixgbe.GrantFaults, s.inj.Device()),
	}
	if pool := s.packetPool(name, dev.DMA(), ixgbePacketCells); pool != nil {
		grants = append(grants, domain.GrantDevice(ixgbe.GrantPackets, pool))
	}
	g, ctl, err := guarded[idl.Net](s, ixgbe.Kind, name, "", s.opts.Policy, ixgbeDeadline, grants...)
	if err != nil {
		return nil, err
	}
	if err := ctl.SetPromisc(true); err != nil {
		s.m.Kill(g.Current())
		return nil, fmt.Errorf("%s: promiscuous mode: %w", name, err)
	}
	p := &ixgbePort{name: name, where: where, model: m, guard: g, mode: mode, ctl: ctl}
	s.addService(&service{
		name:  name,
		guard: g,
		ping:  func() error { _, err := ctl.LinkStatus(); return err },
	})
	return p, nil
}

// ixgbePort returns the started port named name.
func (s *System) ixgbePort(name string) (*ixgbePort, error) {
	ports, err := s.ixgbeStart()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range ports {
		if p.name == name {
			return p, nil
		}
		names = append(names, p.name)
	}
	return nil, fmt.Errorf("no port %q (ports: %s)", name, strings.Join(names, ", "))
}

// writeIxgbeIfconfig writes ifconfig's stanza of each ixgbe port (starting
// them if need be): link, counters since the current instance came up,
// the instance and its restarts. For the ifconfig command.
func (s *System) writeIxgbeIfconfig(w io.Writer) error {
	ports, err := s.ixgbeStart()
	if err != nil {
		return err
	}
	for _, p := range ports {
		if err := p.writeIfconfig(w); err != nil {
			return err
		}
	}
	return nil
}

func (p *ixgbePort) writeIfconfig(w io.Writer) error {
	link, err := p.ctl.LinkStatus()
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	st, err := p.ctl.Stats()
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	speed := "speed unknown"
	if link.SpeedMbps != 0 {
		speed = fmt.Sprintf("%d Mbit/s", link.SpeedMbps)
	}
	fmt.Fprintf(w, "%s: %s %s link %s, %s, promiscuous; instance #%d, restarts %d\n",
		p.name, p.where, macString(link.MAC), upDown(link.Up), speed, p.guard.Current().ID(), p.guard.Restarts())
	fmt.Fprintf(w, "  rx %d packets, %d bytes, %d errors, %d missed\n", st.RxPackets, st.RxBytes, st.RxErrors, st.RxMissed)
	fmt.Fprintf(w, "  tx %d packets, %d bytes, %d errors\n", st.TxPackets, st.TxBytes, st.TxErrors)
	return nil
}

// Frame sizes the port control's Generate takes (without the CRC the NIC appends).
const (
	minFrame = 60
	maxFrame = idl.MaxFrame
)

// generate makes p's model deliver frames of size bytes into every free RX
// descriptor (nothing on a real NIC, whose traffic is the wire's).
func (p *ixgbePort) generate(size int) {
	if p.model != nil {
		p.model.Generate(0, bench.TestFrame([6]byte{0x02, 0, 0, 0, 0, 1}, size, 0))
	}
}

// wire is what a model saw at its wire, for the port's idl.PortInfo.
type wire struct{ delivered, sent uint64 }

func (p *ixgbePort) wire() wire {
	if p.model == nil {
		return wire{}
	}
	c := p.model.Counters()
	return wire{c.Delivered, c.Sent}
}

// replayed says how the last restart of g went: whether the new instance
// came up and got its configuration (the //idl:init calls) replayed.
func replayed(g *shadow.Guard) string {
	log := g.Log()
	if len(log) > 0 && log[len(log)-1].Err != nil {
		return "restart failed: " + log[len(log)-1].Err.Error()
	}
	return "config replayed"
}

// packetPool makes the packet pool of the NIC name, n cells in its DMA
// memory mem, before the driver allocates any (the pool is kept across the
// driver's restarts): zero-copy rings. Without one (memory of another kind,
// or too little of it: logged) the driver copies.
func (s *System) packetPool(name string, mem hw.DMA, n int) hw.CellPool[idl.Packet] {
	a, ok := mem.(*dma.Allocator)
	if !ok {
		return nil
	}
	pool, err := dma.NewCellPool[idl.Packet](name+" packets", a, n)
	if err != nil {
		a.Reset() // what it took
		s.logf("%s: no packet pool (%v): the driver copies frames", name, err)
		return nil
	}
	return pool
}
