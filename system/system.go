// Package system is the booted system's set of services, each a domain: the
// RAM disk (drivers/ramdisk) guarded by a shadow, and the null service
// (services/null) without one, so that a person at the console can
// watch a fault recovered transparently in the first and reported in the
// second. When the machine has an NVMe controller (Options.PCI), the first
// one is taken from Linux (kernel/pci, with DMA memory from kernel/dma) and
// driven by the NVMe driver domain (drivers/nvme), guarded by a shadow too.
// It also holds the kernel's fault injector (kernel/faults), granted to
// them all, and gives the console shell the commands that show and exercise
// all of it (Register): domains, kill, restart, inject, blk, nvme, lspci and
// call.
//
// It is trusted kernel code: it creates the domains, holds the kernel's
// capabilities to them, and owns the RAM disk's memory, which outlives
// every instance of the driver.
package system

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/drivers/nvme"
	"github.com/rlgo/redleaf/drivers/ramdisk"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
	"github.com/rlgo/redleaf/services/null"
)

// Names of the system's domains.
const (
	DiskName = "ramdisk"
	NullName = "null"
)

// Defaults of Options.
const (
	DefaultDiskSize = 16 << 20
	DefaultDeadline = 2 * time.Second
)

// DefaultPolicy is the RAM disk's shadow policy unless Options says
// otherwise: 3 retries of a call, 120 restarts a minute. The budget is for
// a driver that crashes on everything (it stops restarting it within a
// second or so); a driver that fails now and then under a long workload, as
// in RedLeaf's benchmark of a fault every second, stays well inside it.
var DefaultPolicy = shadow.Policy{Retries: 3, Restarts: 120, Window: time.Minute}

// Options configure Start.
type Options struct {
	// Logf gets the domain log: failures, terminations and restarts (a
	// shadow's restarts among them), and what domains log. Default: none.
	Logf func(format string, args ...any)
	// DiskSize is the RAM disk's size in bytes, a multiple of
	// idl.BlockSize. Default DefaultDiskSize (16 MiB).
	DiskSize int64
	// DiskImage is a file holding the RAM disk's initial contents (the
	// Rv6 file-system image `rlbuild image` puts in the initramfs at
	// boot.RAMDiskImage). When it exists, the RAM disk is its size
	// (DiskSize is ignored) and holds its bytes; when it does not, the
	// RAM disk is DiskSize bytes of zeroes. "" means no image.
	DiskImage string
	// Deadline is the per-call deadline of the kernel's capabilities to the
	// services: a call that does not return within it (an injected loop)
	// fails the domain, and the shell gets control back. Default
	// DefaultDeadline.
	Deadline time.Duration
	// Policy is the RAM disk's shadow's: retries per call and restarts per
	// window; beyond them the failure reaches the caller. Its zero fields
	// get DefaultPolicy's. The NVMe domain's shadow has the same.
	Policy shadow.Policy

	// PCI is the bus scanned for NVMe controllers, the first of which is
	// taken from Linux and driven by the NVMe domain (behind a shadow).
	// nil: the machine's (sysfs) when the process is PID 1, the booted
	// system, and none otherwise: a test or a dry run on a host must never
	// take the host's disks.
	PCI *pci.Bus
	// DMA returns the DMA allocator of the NVMe controller. Default
	// NewSystemDMA.
	DMA func() (DMA, error)
	// NVMe is the configuration granted to the NVMe domain.
	NVMe nvme.Config
	// NVMeDeadline is the per-call deadline of the kernel's capability to
	// the NVMe domain. Default DefaultNVMeDeadline.
	NVMeDeadline time.Duration
	// Net says whether to take a NIC from Linux for a driver domain and the
	// echo service (net.go). nil: from the kernel command line (rl.net=)
	// when the process is PID 1, none otherwise.
	Net *NetConfig
	// LinuxNet says which NIC to leave to Linux for the network
	// benchmarks' baseline (linuxnet.go). nil: from the kernel command
	// line (rl.linuxnet=) when the process is PID 1, none otherwise.
	LinuxNet *LinuxNetConfig
}

// A System is the running set of services.
type System struct {
	m        *domain.Manager
	inj      *faults.Injector
	mem      *Memory
	guard    *shadow.Guard   // the RAM disk's shadow
	disk     idl.BlockDevice // the kernel's shadow capability to the RAM disk
	deadline time.Duration
	logf     func(format string, args ...any)
	opts     Options // as Start completed them: for what starts later (the ixgbe ports)
	svcMu    sync.Mutex
	services []*service // the domains the system started, in the order it started them; guarded by svcMu (addService)
	ramdisk  *blockDev  // the RAM disk, for the shell
	bus      *pci.Bus   // nil: no PCI scan (lspci scans the machine's)
	nvme     *blockDev  // the NVMe domain; nil: none
	nic      *nic       // the NIC domain and its echo service; nil: none

	mu       sync.Mutex
	null     idl.Bench         // the kernel's capability to the null service; guarded by mu
	failures map[string]int    // failed instances of each name, ever; guarded by mu
	owners   map[string]string // PCI address -> the domain driving it; guarded by mu

	ixgbePorts ixgbePorts // the ixgbe ports, started on first use (ixgbe.go)
}

// A service is one domain the system started.
type service struct {
	name  string
	guard *shadow.Guard // nil: no shadow
	// ping makes a null call through the kernel's capability.
	ping func() error
	// rebind binds the kernel's capability to a new instance, for a
	// service without a shadow.
	rebind func(*domain.Domain) error
}

// Start starts the services: a domain manager, the fault injector, the RAM
// disk (guarded by a shadow) on DiskSize bytes of kernel memory, and the
// null service (no shadow). On an error nothing is left running.
func Start(opts Options) (*System, error) {
	if opts.DiskSize == 0 {
		opts.DiskSize = DefaultDiskSize
	}
	if opts.DiskSize < idl.BlockSize || opts.DiskSize%idl.BlockSize != 0 {
		return nil, fmt.Errorf("system: the RAM disk's size %d is not a positive multiple of %d", opts.DiskSize, idl.BlockSize)
	}
	if opts.Deadline <= 0 {
		opts.Deadline = DefaultDeadline
	}
	if opts.Policy.Retries <= 0 {
		opts.Policy.Retries = DefaultPolicy.Retries
	}
	if opts.Policy.Restarts <= 0 {
		opts.Policy.Restarts = DefaultPolicy.Restarts
	}
	if opts.Policy.Window <= 0 {
		opts.Policy.Window = DefaultPolicy.Window
	}
	if opts.Policy.Logf == nil {
		opts.Policy.Logf = opts.Logf // a spent restart budget is logged
	}
	if opts.NVMeDeadline <= 0 {
		opts.NVMeDeadline = DefaultNVMeDeadline
	}
	s := &System{
		opts:     opts,
		inj:      faults.New(),
		deadline: opts.Deadline,
		logf:     opts.Logf,
		failures: map[string]int{},
		owners:   map[string]string{},
		bus:      pciBus(opts),
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	s.m = domain.NewManager(domain.WithLog(s.domainLog), domain.WithEvents(s.event))
	if err := s.start(opts); err != nil {
		s.m.Close()
		return nil, err
	}
	return s, nil
}

func (s *System) start(opts Options) error {
	mem, err := LoadMemory(opts.DiskImage)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		mem, err = NewMemory(opts.DiskSize)
	case err == nil && mem.Size()%idl.BlockSize != 0:
		err = fmt.Errorf("system: the RAM disk image %s is %d bytes, not a multiple of %d", opts.DiskImage, mem.Size(), idl.BlockSize)
	case err == nil:
		s.logf("%s: %d MiB from %s", DiskName, mem.Size()>>20, opts.DiskImage)
	}
	if err != nil {
		return err
	}
	s.mem = mem

	// The RAM disk, guarded by a shadow. The kernel holds a shadow
	// capability: a call that fails the driver restarts it and is retried.
	d, err := s.m.Create(ramdisk.Kind, domain.Name(DiskName),
		domain.GrantDevice(ramdisk.GrantMemory, ramdisk.Memory(mem)),
		domain.GrantDevice(ramdisk.GrantFaults, s.inj.Device()))
	if err != nil {
		return fmt.Errorf("system: starting %s: %w", DiskName, err)
	}
	if s.guard, err = shadow.New(s.m, d, opts.Policy); err != nil {
		return fmt.Errorf("system: guarding %s: %w", DiskName, err)
	}
	if s.disk, err = domain.Connect[idl.BlockDevice](s.m.Kernel(), s.guard, domain.Deadline(s.deadline)); err != nil {
		return fmt.Errorf("system: connecting to %s: %w", DiskName, err)
	}
	s.ramdisk = &blockDev{name: DiskName, cmd: "blk", dev: s.disk, guard: s.guard}
	s.addService(&service{
		name:  DiskName,
		guard: s.guard,
		ping:  func() error { _, err := s.disk.BlockSize(); return err },
	})

	// The null service, without a shadow: a failure reaches the caller and
	// the service stays dead until restarted.
	nd, err := s.m.Create(null.Kind, domain.Name(NullName), domain.GrantDevice(null.GrantFaults, s.inj.Device()))
	if err != nil {
		return fmt.Errorf("system: starting %s: %w", NullName, err)
	}
	nsvc := &service{
		name: NullName,
		ping: func() error { return s.nullCap().Null() },
		rebind: func(d *domain.Domain) error {
			p, err := domain.Connect[idl.Bench](s.m.Kernel(), d, domain.Deadline(s.deadline))
			if err != nil {
				return err
			}
			s.mu.Lock()
			old := s.null
			s.null = p
			s.mu.Unlock()
			if c, ok := old.(domain.Capability); ok {
				c.Revoke()
			}
			return nil
		},
	}
	if err := nsvc.rebind(nd); err != nil {
		return fmt.Errorf("system: connecting to %s: %w", NullName, err)
	}
	s.addService(nsvc)

	// The NVMe domain, if the machine has a controller; it fails nothing.
	s.startNVMe(opts)
	// The NIC domain, only when asked for; it fails nothing either.
	s.startNet(opts)
	// The Linux baseline of the network benchmarks, only when asked.
	s.startLinuxNet(opts)
	return nil
}

// domainLog is the manager's log but for its events, which event logs in
// a form of its own: what domains log (Context.Logf).
func (s *System) domainLog(format string, args ...any) {
	if len(args) == 1 {
		if _, ok := args[0].(domain.Event); ok {
			return
		}
	}
	s.logf(format, args...)
}

// event logs the deaths and restarts of domains (their creation is logged
// by the restart that caused it, or not at all at boot), and counts
// failures by name, across instances.
func (s *System) event(e domain.Event) {
	if e.Transient {
		return // an Rv6 process: Rv6 reports how it ended
	}
	switch e.Kind {
	case "failed":
		s.mu.Lock()
		s.failures[e.Domain]++
		s.mu.Unlock()
		if e.Err != nil {
			s.logf("%v", e.Err)
		} else {
			s.logf("domain %s (#%d) failed", e.Domain, e.ID)
		}
	case "terminated":
		s.logf("domain %s (#%d) terminated", e.Domain, e.ID)
	case "restarted":
		old := ""
		if e.Err != nil {
			old = fmt.Sprintf(" (#%d)", e.Err.ID)
		}
		if e.Failure != nil {
			s.logf("domain %s%s: restart %d by %s failed: %v", e.Domain, old, e.Restarts, e.By, e.Failure)
		} else {
			s.logf("domain %s%s restarted as #%d by %s (restart %d)", e.Domain, old, e.ID, e.By, e.Restarts)
		}
	}
}

func (s *System) nullCap() idl.Bench {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.null
}

// Close kills every domain. The system serves nothing afterwards.
func (s *System) Close() { s.m.Close() }

// Manager is the system's domain manager.
func (s *System) Manager() *domain.Manager { return s.m }

// Injector is the system's fault injector.
func (s *System) Injector() *faults.Injector { return s.inj }

// Memory is the RAM disk's memory.
func (s *System) Memory() *Memory { return s.mem }

// Disk is the kernel's capability to the RAM disk, through its shadow.
func (s *System) Disk() idl.BlockDevice { return s.disk }

// Guard is the RAM disk's shadow.
func (s *System) Guard() *shadow.Guard { return s.guard }

// Null is the kernel's capability to the null service (no shadow).
func (s *System) Null() idl.Bench { return s.nullCap() }

// Summary names the services, "ramdisk (shadowed), null", for the boot log.
func (s *System) Summary() string {
	var parts []string
	for _, svc := range s.serviceList() {
		if svc.guard != nil {
			parts = append(parts, svc.name+" (shadowed)")
		} else {
			parts = append(parts, svc.name)
		}
	}
	return strings.Join(parts, ", ")
}

// Failures is how many instances named name failed (not counting kills).
func (s *System) Failures(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures[name]
}

func (s *System) service(name string) *service {
	for _, svc := range s.serviceList() {
		if svc.name == name {
			return svc
		}
	}
	return nil
}

func (s *System) serviceNames() string {
	var names []string
	for _, svc := range s.serviceList() {
		names = append(names, svc.name)
	}
	return strings.Join(names, ", ")
}

// Errors of the system's operations, for the shell to print.
var (
	errNoDomain = errors.New("no such domain")
	errKernel   = errors.New("the kernel is not a domain the shell can do this to")
)

// lookup returns the latest instance named name.
func (s *System) lookup(name string) (*domain.Domain, error) {
	d := s.m.Lookup(name)
	if name == "kernel" {
		return nil, fmt.Errorf("%s: %w", name, errKernel)
	}
	if d == nil {
		return nil, fmt.Errorf("%s: %w (domains: %s)", name, errNoDomain, s.serviceNames())
	}
	return d, nil
}

// Kill terminates the instance named name. A shadowed one is re-created by
// its shadow on its next call. It returns the instance killed.
func (s *System) Kill(name string) (*domain.Domain, error) {
	d, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	if !d.Alive() {
		return d, fmt.Errorf("%s (#%d) is not running: it is %v", name, d.ID(), d.State())
	}
	s.m.Kill(d)
	return d, nil
}

// Restart ends the instance named name, if it is running, and starts the
// next one: a shadowed service through its shadow (which restarts it on the
// call Restart makes), another by the kernel, which binds its capability to
// the new instance. It returns the new instance.
func (s *System) Restart(name string) (*domain.Domain, error) {
	d, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	svc := s.service(name)
	if svc == nil {
		return nil, fmt.Errorf("%s: not one of the system's services (%s)", name, s.serviceNames())
	}
	if svc.guard != nil {
		s.m.Kill(d)
		if err := svc.ping(); err != nil {
			return nil, err
		}
		return svc.guard.Current(), nil
	}
	nd, err := s.m.Restart(d, "shell")
	if err != nil {
		return nil, err
	}
	if err := svc.rebind(nd); err != nil {
		return nil, err
	}
	return nd, nil
}

// Inject arms fault kind in the service named name, for its next call.
func (s *System) Inject(name, kind string) error {
	if !faults.IsKind(kind) {
		return fmt.Errorf("unknown fault kind %q (kinds: %s)", kind, strings.Join(faults.Kinds(), ", "))
	}
	d, err := s.lookup(name)
	if err != nil {
		return err
	}
	svc := s.service(name)
	if svc == nil {
		return fmt.Errorf("%s: it was not granted the fault injector (services: %s)", name, s.serviceNames())
	}
	if !d.Alive() && svc.guard == nil {
		return fmt.Errorf("%s (#%d) is %v and has no shadow: nothing would call it (restart %s first)", name, d.ID(), d.State(), name)
	}
	return s.inj.Arm(name, kind)
}

// Call makes a null call into the service named name through the kernel's
// capability: the null service's Null, the RAM disk's BlockSize (through its
// shadow).
func (s *System) Call(name string) error {
	if _, err := s.lookup(name); err != nil {
		return err
	}
	svc := s.service(name)
	if svc == nil {
		return fmt.Errorf("%s: not one of the system's services (%s)", name, s.serviceNames())
	}
	return svc.ping()
}

// ReadBlock reads block lba of the RAM disk through its shadow.
func (s *System) ReadBlock(lba uint64) (idl.Block, error) { return s.readBlock(s.ramdisk, lba) }

// WriteBlock writes b to block lba of the RAM disk through its shadow.
func (s *System) WriteBlock(lba uint64, b *idl.Block) error { return s.writeBlock(s.ramdisk, lba, b) }

func (s *System) readBlock(d *blockDev, lba uint64) (idl.Block, error) {
	var b idl.Block
	err := s.blockIO(d, lba, false, func(r *idl.BlockReq) { b = r.Data })
	return b, err
}

// writeBlock writes b to block lba of d, and flushes d if it asks for it.
func (s *System) writeBlock(d *blockDev, lba uint64, b *idl.Block) error {
	if err := s.blockIO(d, lba, true, func(r *idl.BlockReq) { r.Data = *b }); err != nil {
		return err
	}
	if d.flush {
		if err := d.dev.Flush(); err != nil {
			return fmt.Errorf("block %d written, but the flush failed: %w", lba, err)
		}
	}
	return nil
}

// blockIO makes a batch of one request for block lba, lets fill set it up
// (write) or read it back (read), and moves it to d and back.
func (s *System) blockIO(d *blockDev, lba uint64, write bool, fill func(*idl.BlockReq)) error {
	heap := s.m.Kernel().Heap()
	batch := rref.NewDeque[idl.BlockReq](heap, 1)
	req := rref.New(heap, idl.BlockReq{LBA: lba})
	if write {
		fill(req.Get())
	}
	batch.PushBack(req)
	var out rref.Deque[idl.BlockReq]
	var err error
	if write {
		out, err = d.dev.Write(batch)
	} else {
		out, err = d.dev.Read(batch)
	}
	if err != nil {
		// The proxy gave the batch back if it could (a call that missed
		// its deadline too, if its worker came back within the grace);
		// otherwise it went with the driver's heap, or was forfeited
		// (rref.ForfeitDeque). A driver may also return a batch with its
		// error: both are dropped, so a failing driver leaks nothing here.
		lost := !batch.Valid()
		rref.DiscardDeque(batch)
		rref.DiscardDeque(out)
		if lost && isDeadline(err) {
			return fmt.Errorf("%w (the request was lost with the driver: run the command again)", err)
		}
		return err
	}
	defer out.Drop()
	r, ok := out.PopFront()
	if !ok {
		return fmt.Errorf("%s returned an empty batch", d.name)
	}
	defer r.Drop()
	got := r.Get()
	switch got.Status {
	case idl.BlockOK:
	case idl.BlockOutOfRange:
		n, _ := d.dev.NumBlocks()
		return fmt.Errorf("block %d is out of range (the disk has %d blocks)", lba, n)
	case idl.BlockIOError:
		return fmt.Errorf("block %d: I/O error", lba)
	default:
		return fmt.Errorf("block %d: status %d", lba, got.Status)
	}
	if !write {
		fill(got)
	}
	return nil
}

func isDeadline(err error) bool {
	var de *domain.DeadlineError
	return errors.As(err, &de)
}
