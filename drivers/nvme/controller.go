package nvme

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/kernel/hw"
)

// Config is what the kernel configures a controller with (granted to the
// domain under GrantConfig; the zero Config gets the defaults).
type Config struct {
	Queues  int           // I/O queue pairs (default 1); clamped to what the controller grants
	Depth   int           // entries per I/O queue (default 64: one 4 KiB page of SQ); clamped to CAP.MQES
	Timeout time.Duration // of one command (default 2 s)
	NSID    uint32        // the namespace a Disk serves (default: the first active one)
	// Spin is how long a wait for completions polls without pause
	// before it starts sleeping between looks (default DefaultSpin).
	// Spinning is the lowest latency (what SPDK and RedLeaf do); a sleep
	// costs what the machine's timers make it: about 1.3 ms in a QEMU
	// guest under TCG, so a completion that misses a short spin waits
	// for it (see BENCHMARKS.md, benchnvme).
	Spin time.Duration
}

// DefaultSpin is Config.Spin's default: long enough for any healthy
// device's 4 KiB I/O, short enough that a stalled one does not hold a CPU
// for long before the waits turn into sleeps.
const DefaultSpin = 2 * time.Millisecond

func (c Config) withDefaults() Config {
	if c.Queues <= 0 {
		c.Queues = 1
	}
	if c.Depth <= 1 {
		c.Depth = 64
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Spin <= 0 {
		c.Spin = DefaultSpin
	}
	return c
}

// Info is what Identify Controller said.
type Info struct {
	VendorID     uint16
	Serial       string
	Model        string
	Firmware     string
	MaxTransfer  int // bytes per command (MDTS), 0 if unlimited
	Namespaces   uint32
	MaxQueues    int // I/O queue pairs the controller granted (Set Features)
	MaxQueueSize int // CAP.MQES+1
}

// A Namespace is an active namespace.
type Namespace struct {
	ID        uint32
	Blocks    uint64 // size in logical blocks (NSZE)
	BlockSize int    // logical block size in bytes
}

// Hooks let the driver cooperate with the domain kernel: check is called
// while polling (Context.Check: a dead domain's thread unwinds there) and
// sleep waits (Context.Sleep). Nil hooks do nothing and time.Sleep.
type Hooks struct {
	Check func()
	Sleep func(time.Duration)
}

// A Controller is one NVMe controller brought up by the driver.
type Controller struct {
	dev   hw.PCIDevice
	regs  hw.Regs
	dma   hw.DMA
	cfg   Config
	hooks Hooks
	cap   capability

	gen atomic.Uint64 // incremented by every reset

	adminMu sync.Mutex // the admin queue and resets
	admin   *queuePair

	ioq  []*queuePair
	free chan *queuePair // I/O pairs not in use
	info Info
	ns   []Namespace
	idb  *hw.Buffer // identify data
}

// Open brings up the controller of dev from whatever state it is in and
// sets up its I/O queues.
func Open(dev hw.PCIDevice, cfg Config, hooks Hooks) (*Controller, error) {
	if hooks.Check == nil {
		hooks.Check = func() {}
	}
	if hooks.Sleep == nil {
		hooks.Sleep = time.Sleep
	}
	c := &Controller{dev: dev, dma: dev.DMA(), cfg: cfg.withDefaults(), hooks: hooks}
	regs, err := dev.BAR(0)
	if err != nil {
		return nil, fmt.Errorf("nvme: %s: %w", dev.Addr(), err)
	}
	if regs.Len() < regDB+8 {
		return nil, fmt.Errorf("nvme: %s: BAR 0 is %d bytes, too small for an NVMe controller", dev.Addr(), regs.Len())
	}
	c.regs = regs
	if err := c.checkCommand(); err != nil {
		return nil, err
	}
	c.cap = decodeCAP(hw.Read64(regs, regCAP))
	if c.cap.mpsmin > 0 {
		return nil, fmt.Errorf("nvme: %s: smallest page size is %d bytes, the driver uses 4 KiB", dev.Addr(), 4096<<c.cap.mpsmin)
	}
	if c.cfg.Depth > c.cap.mqes {
		c.cfg.Depth = c.cap.mqes
	}
	if err := c.enable(); err != nil {
		return nil, err
	}
	if err := c.identify(); err != nil {
		return nil, err
	}
	if err := c.setupIO(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Controller) check()                { c.hooks.Check() }
func (c *Controller) sleep(d time.Duration) { c.hooks.Sleep(d) }
func (c *Controller) enableTimeout() time.Duration {
	return time.Duration(max(c.cap.to, 1)) * 500 * time.Millisecond
}

// checkCommand reports a PCI command register that keeps the controller
// from working.
func (c *Controller) checkCommand() error {
	cmd, err := c.dev.Command()
	if err != nil {
		return fmt.Errorf("nvme: %s: reading the PCI command register: %w", c.dev.Addr(), err)
	}
	if cmd&hw.CmdMemory == 0 {
		return fmt.Errorf("nvme: %s: memory space is disabled in the PCI command register (%#04x)", c.dev.Addr(), cmd)
	}
	if cmd&hw.CmdBusMaster == 0 {
		return fmt.Errorf("nvme: %s: command register %#04x: %w", c.dev.Addr(), cmd, hw.ErrNoBusMaster)
	}
	return nil
}

// explain adds the likely cause to a timeout or fatal status: bus
// mastering turned off under the driver.
func (c *Controller) explain(err error) error {
	if cerr := c.checkCommand(); cerr != nil {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return fmt.Errorf("nvme: %s: %w", c.dev.Addr(), err)
}

// waitReady polls CSTS.RDY until it is want.
func (c *Controller) waitReady(want bool) error {
	deadline := time.Now().Add(c.enableTimeout())
	for {
		csts := c.regs.Read32(regCSTS)
		if csts == 0xffffffff {
			return fmt.Errorf("nvme: %s: CSTS reads all ones: the device is gone or not decoding memory", c.dev.Addr())
		}
		if want && csts&cstsCFS != 0 {
			return c.explain(fmt.Errorf("%w while enabling", ErrFatal))
		}
		if (csts&cstsRDY != 0) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return c.explain(fmt.Errorf("%w: CSTS.RDY did not become %v in %v (CSTS %#x)", ErrTimeout, want, c.enableTimeout(), csts))
		}
		c.check()
		c.sleep(time.Millisecond)
	}
}

// disable turns the controller off (CC.EN=0) and waits for RDY=0: whatever
// firmware or a dead driver left running stops, and every queue is gone.
func (c *Controller) disable() error {
	if cc := c.regs.Read32(regCC); cc&ccEN != 0 {
		c.regs.Write32(regCC, cc&^ccEN)
	}
	return c.waitReady(false)
}

// enable disables the controller, sets up the admin queues and enables it.
func (c *Controller) enable() error {
	if err := c.disable(); err != nil {
		return err
	}
	// Only now, with the controller stopped, is memory handed out again.
	if c.admin == nil {
		q, err := c.newQueuePair(0, adminSize, false)
		if err != nil {
			return err
		}
		c.admin = q
	}
	c.gen.Add(1)
	c.admin.reset()
	c.regs.Write32(regAQA, uint32(adminSize-1)<<16|uint32(adminSize-1))
	hw.Write64(c.regs, regASQ, c.admin.sq.Phys())
	hw.Write64(c.regs, regACQ, c.admin.cq.Phys())
	c.regs.Write32(regCC, ccIOCQES|ccIOSQES|ccEN)
	return c.waitReady(true)
}

// adminCmd runs one admin command and returns dword 0 of its completion.
// A command that times out resets the controller.
func (c *Controller) adminCmd(cmd command) (uint32, error) {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	dw0, err := c.adminLocked(cmd)
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrFatal) {
		if rerr := c.resetLocked(); rerr != nil {
			err = fmt.Errorf("%w; the reset failed too: %w", err, rerr)
		}
	}
	return dw0, err
}

// adminLocked is adminCmd with adminMu held, without the reset.
func (c *Controller) adminLocked(cmd command) (uint32, error) {
	q := c.admin
	cid := q.push(&cmd)
	q.ring()
	if err := q.wait(cid, c.cfg.Timeout); err != nil {
		return 0, fmt.Errorf("nvme: admin command %#02x: %w", cmd.opcode, err)
	}
	st, dw0 := q.release(cid)
	return dw0, statusError(cmd.opcode, true, st)
}

func (c *Controller) identify() error {
	var err error
	if c.idb == nil {
		if c.idb, err = c.dma.Alloc(pageSize, pageSize); err != nil {
			return err
		}
	}
	b := c.idb
	if _, err := c.adminCmd(command{opcode: opIdentify, prp1: b.Phys(), cdw10: 1}); err != nil {
		return fmt.Errorf("nvme: identify controller: %w", err)
	}
	info := Info{
		VendorID:     b.Get16(0),
		Serial:       idString(b, 4, 20),
		Model:        idString(b, 24, 40),
		Firmware:     idString(b, 64, 8),
		Namespaces:   b.Get32(516),
		MaxQueueSize: c.cap.mqes,
	}
	if mdts := b.Get8(77); mdts != 0 {
		info.MaxTransfer = pageSize << mdts
	}
	b.Zero(0, pageSize)
	if _, err := c.adminCmd(command{opcode: opIdentify, prp1: b.Phys(), cdw10: 2}); err != nil {
		return fmt.Errorf("nvme: identify active namespaces: %w", err)
	}
	var ids []uint32
	for off := 0; off < pageSize; off += 4 {
		id := b.Get32(off)
		if id == 0 {
			break
		}
		ids = append(ids, id)
	}
	c.ns = c.ns[:0]
	for _, id := range ids {
		b.Zero(0, pageSize)
		if _, err := c.adminCmd(command{opcode: opIdentify, nsid: id, prp1: b.Phys(), cdw10: 0}); err != nil {
			return fmt.Errorf("nvme: identify namespace %d: %w", id, err)
		}
		flbas := int(b.Get8(26) & 0xf)
		lbads := b.Get8(128 + 4*flbas + 2)
		c.ns = append(c.ns, Namespace{ID: id, Blocks: b.Get64(0), BlockSize: 1 << lbads})
	}
	c.info = info
	return nil
}

func idString(b *hw.Buffer, off, n int) string {
	s := make([]byte, n)
	b.CopyOut(s, off)
	return strings.TrimRight(string(s), " \x00")
}

// setupIO asks for the configured number of queues and creates them.
func (c *Controller) setupIO() error {
	want := uint32(c.cfg.Queues - 1)
	dw0, err := c.adminCmd(command{opcode: opSetFeatures, cdw10: featNumQueues, cdw11: want<<16 | want})
	if err != nil {
		return fmt.Errorf("nvme: set number of queues to %d: %w", c.cfg.Queues, err)
	}
	granted := int(min(dw0&0xffff, dw0>>16)) + 1
	c.info.MaxQueues = granted
	n := min(c.cfg.Queues, granted)
	if c.ioq == nil {
		for i := range n {
			q, err := c.newQueuePair(uint16(i+1), c.cfg.Depth, true)
			if err != nil {
				return err
			}
			c.ioq = append(c.ioq, q)
		}
		c.free = make(chan *queuePair, n)
		for _, q := range c.ioq {
			c.free <- q
		}
	}
	for _, q := range c.ioq {
		q.reset()
		if err := c.createQueue(q); err != nil {
			return err
		}
	}
	return nil
}

// createQueue creates q's CQ then its SQ on the controller.
func (c *Controller) createQueue(q *queuePair) error {
	size := uint32(q.depth-1) << 16
	if _, err := c.adminCmd(command{opcode: opCreateCQ, prp1: q.cq.Phys(), cdw10: size | uint32(q.id), cdw11: 1}); err != nil {
		return fmt.Errorf("nvme: create I/O CQ %d of %d entries: %w", q.id, q.depth, err)
	}
	if _, err := c.adminCmd(command{opcode: opCreateSQ, prp1: q.sq.Phys(), cdw10: size | uint32(q.id), cdw11: uint32(q.id)<<16 | 1}); err != nil {
		return fmt.Errorf("nvme: create I/O SQ %d of %d entries: %w", q.id, q.depth, err)
	}
	return nil
}

// Reset resets the controller and sets up its queues again: what the
// driver does after a timeout or a fatal status. Commands outstanding fail
// with ErrReset.
func (c *Controller) Reset() error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	return c.resetLocked()
}

// resetLocked is Reset with adminMu held. The I/O queues are re-created by
// their users (see takeQueue), which find the generation changed.
func (c *Controller) resetLocked() error {
	if err := c.enable(); err != nil {
		return err
	}
	want := uint32(len(c.ioq) - 1)
	if _, err := c.adminLocked(command{opcode: opSetFeatures, cdw10: featNumQueues, cdw11: want<<16 | want}); err != nil {
		return fmt.Errorf("nvme: after a reset: %w", err)
	}
	return nil
}

// takeQueue takes an I/O queue pair; if the controller was reset since it
// was last set up, it is re-created first.
func (c *Controller) takeQueue() (*queuePair, error) {
	q := <-c.free
	if q.gen != c.gen.Load() {
		q.reset()
		if err := c.createQueue(q); err != nil {
			c.free <- q
			return nil, err
		}
	}
	return q, nil
}

func (c *Controller) putQueue(q *queuePair) { c.free <- q }

// Info is what Identify Controller reported.
func (c *Controller) Info() Info { return c.info }

// Namespaces are the active namespaces.
func (c *Controller) Namespaces() []Namespace { return append([]Namespace(nil), c.ns...) }

// Queues is the number of I/O queue pairs in use.
func (c *Controller) Queues() int { return len(c.ioq) }

// Depth is the number of entries of each I/O queue.
func (c *Controller) Depth() int { return c.cfg.Depth }

// Namespace returns namespace id.
func (c *Controller) Namespace(id uint32) (Namespace, error) {
	for _, n := range c.ns {
		if n.ID == id {
			return n, nil
		}
	}
	return Namespace{}, fmt.Errorf("nvme: %s has no active namespace %d", c.dev.Addr(), id)
}

// Close disables the controller.
func (c *Controller) Close() error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	return c.disable()
}
