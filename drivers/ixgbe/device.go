package ixgbe

import (
	"fmt"
	"sync"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Config is what the kernel configures a NIC with (granted to the domain
// under GrantConfig; the zero Config gets the defaults).
type Config struct {
	Queues      int           // RX/TX queue pairs (default 1, at most MaxQueues)
	RingSize    int           // descriptors per ring (default 512; a multiple of 8 from 8 to 4096)
	Timeout     time.Duration // of each wait of the bring-up: reset, EEPROM, DMA init, queue enable (default 1 s)
	LinkTimeout time.Duration // how long Open waits for the link; 0: not at all (LinkStatus tells)
	Promisc     bool          // start in promiscuous mode
	Loopback    bool          // MAC loopback: what is sent is received (self test)
	// CopyBreak is, with a packet pool, the longest frame that is copied
	// between a ring's cell and the caller's buffer rather than exchanged:
	// for a short frame the copy costs less than the exchange's ownership
	// moves (BENCHMARKS.md). 0: DefaultCopyBreak; negative: exchange every
	// frame.
	CopyBreak int
}

// DefaultCopyBreak is Config.CopyBreak's default, the header size below
// which Linux's ixgbe driver copies too.
const DefaultCopyBreak = 256

// Limits of Config.
const (
	MaxQueues   = 16
	MinRingSize = 8 // RDLEN and TDLEN must be multiples of 128 bytes: 8 descriptors
	MaxRingSize = 4096
	bufSize     = idl.PacketSize // one receive buffer per descriptor (SRRCTL.BSIZEPACKET 2 KiB)
)

func (c Config) withDefaults() (Config, error) {
	if c.Queues == 0 {
		c.Queues = 1
	}
	if c.RingSize == 0 {
		c.RingSize = 512
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.CopyBreak == 0 {
		c.CopyBreak = DefaultCopyBreak
	}
	if c.Queues < 1 || c.Queues > MaxQueues {
		return c, fmt.Errorf("%w: %d queues; the driver serves 1 to %d", ErrConfig, c.Queues, MaxQueues)
	}
	if c.RingSize < MinRingSize || c.RingSize > MaxRingSize || c.RingSize%8 != 0 {
		return c, fmt.Errorf("%w: ring size %d; it must be a multiple of 8 from %d to %d (RDLEN/TDLEN are multiples of 128 bytes)",
			ErrConfig, c.RingSize, MinRingSize, MaxRingSize)
	}
	return c, nil
}

// Hooks let the driver cooperate with the domain kernel: Check is called
// while polling (Context.Check: a dead domain's thread unwinds there) and
// Sleep waits (Context.Sleep). Nil hooks do nothing and time.Sleep.
//
// Packets is the NIC's pool of packet cells in DMA memory (GrantPackets),
// nil for none: with it the rings hold cells of the pool and packets move
// without a copy; Heap is the account that owns them while they are in the
// rings (the domain's, Context.Heap), required with Packets.
type Hooks struct {
	Check   func()
	Sleep   func(time.Duration)
	Packets hw.CellPool[idl.Packet]
	Heap    *rref.Account
}

// A Device is one 82599 brought up by the driver.
type Device struct {
	dev   hw.PCIDevice
	regs  hw.Regs
	dma   hw.DMA
	cfg   Config
	hooks Hooks
	model Model
	mac   [6]byte

	rx []*rxQueue
	tx []*txQueue

	mu      sync.Mutex   // the registers outside the fast path, stats, promisc
	stats   idl.NetStats // accumulated clear-on-read counters; guarded by mu
	promisc bool         // guarded by mu
}

// pollInterval is how long the bring-up sleeps between two reads of a
// register it waits on.
const pollInterval = 20 * time.Microsecond

// resetDelay is the wait after a reset completes (datasheet 4.6.3.2: at
// least 1 ms before accessing registers that depend on it; ixy waits 10 ms).
const resetDelay = 10 * time.Millisecond

// Open brings up the NIC of dev from whatever state it is in (a dead
// instance of this driver, firmware) and starts its queues.
func Open(dev hw.PCIDevice, cfg Config, hooks Hooks) (*Device, error) {
	if hooks.Check == nil {
		hooks.Check = func() {}
	}
	if hooks.Sleep == nil {
		hooks.Sleep = time.Sleep
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if hooks.Packets != nil && hooks.Heap == nil {
		return nil, fmt.Errorf("%w: a packet pool without an account to own the rings' cells (set Hooks.Heap)", ErrPool)
	}
	vendor, device := dev.IDs()
	m, ok := Lookup(vendor, device)
	if !ok {
		return nil, fmt.Errorf("%w: %s is %04x:%04x", ErrUnsupported, dev.Addr(), vendor, device)
	}
	d := &Device{dev: dev, dma: dev.DMA(), cfg: cfg, hooks: hooks, model: m}
	if err := d.checkCommand(); err != nil {
		return nil, err
	}
	regs, err := dev.BAR(0)
	if err != nil {
		return nil, fmt.Errorf("ixgbe: %s: %w", dev.Addr(), err)
	}
	if regs.Len() < regEEC+4 {
		return nil, fmt.Errorf("ixgbe: %s: BAR 0 is %d bytes, too small for an 82599 (128 KiB)", dev.Addr(), regs.Len())
	}
	d.regs = regs
	if err := d.bringUp(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Device) checkCommand() error {
	cmd, err := d.dev.Command()
	if err != nil {
		return fmt.Errorf("ixgbe: %s: reading the PCI command register: %w", d.dev.Addr(), err)
	}
	if cmd&hw.CmdMemory == 0 {
		return fmt.Errorf("ixgbe: %s: memory space is disabled in the PCI command register (%#04x)", d.dev.Addr(), cmd)
	}
	if cmd&hw.CmdBusMaster == 0 {
		return fmt.Errorf("ixgbe: %s: %w", d.dev.Addr(), hw.ErrNoBusMaster)
	}
	return nil
}

// bringUp is the initialization sequence of datasheet 4.6.3, in ixy's order.
func (d *Device) bringUp() error {
	r := d.regs
	r.Write32(regEIMC, 0x7fffffff) // mask every interrupt: the driver polls
	r.Write32(regCTRL, ctrlResetMask)
	if err := d.waitClear(regCTRL, ctrlResetMask, "CTRL.RST (global reset)"); err != nil {
		return err
	}
	d.hooks.Sleep(resetDelay)
	r.Write32(regEIMC, 0x7fffffff) // the reset unmasked them again
	if err := d.waitSet(regEEC, eecARD, "EEC.ARD (EEPROM auto-read done)"); err != nil {
		return err
	}
	if err := d.waitSet(regRDRXCTL, rdrxctlDMAIDone, "RDRXCTL.DMAIDONE (DMA initialization done)"); err != nil {
		return err
	}
	lo, hi := r.Read32(regRAL0), r.Read32(regRAH0)
	d.mac = [6]byte{byte(lo), byte(lo >> 8), byte(lo >> 16), byte(lo >> 24), byte(hi), byte(hi >> 8)}
	d.setupLink()
	d.readStats() // clear-on-read: start from zero
	d.stats = idl.NetStats{}
	if err := d.initRx(); err != nil {
		return err
	}
	if err := d.initTx(); err != nil {
		return err
	}
	for _, q := range d.rx {
		if err := d.startRx(q); err != nil {
			return err
		}
	}
	for _, q := range d.tx {
		if err := d.startTx(q); err != nil {
			return err
		}
	}
	d.setPromisc(d.cfg.Promisc)
	if d.cfg.LinkTimeout > 0 {
		return d.WaitLink(d.cfg.LinkTimeout)
	}
	return nil
}

// setupLink selects the link mode and restarts autonegotiation (10 Gb/s
// serial, as on the X520), or forces the link up in MAC loopback.
func (d *Device) setupLink() {
	r := d.regs
	if d.cfg.Loopback {
		r.Write32(regAUTOC, r.Read32(regAUTOC)&^autocLMSMask|autocLMS10GNoAN|autocFLU)
		r.Write32(regHLREG0, r.Read32(regHLREG0)|hlreg0LPBK)
		return
	}
	r.Write32(regAUTOC, r.Read32(regAUTOC)&^autocLMSMask|autocLMS10GSerial)
	r.Write32(regAUTOC, r.Read32(regAUTOC)&^autocPMAPMDMask|autocPMAPMDXAUI)
	r.Write32(regAUTOC, r.Read32(regAUTOC)|autocANRestart)
}

// initRx configures receive (datasheet 4.6.7): one 128 KiB packet buffer,
// CRC stripped, broadcasts accepted, advanced one-buffer descriptors that
// drop when the ring is full, and the rings.
func (d *Device) initRx() error {
	r := d.regs
	r.Write32(regRXCTRL, r.Read32(regRXCTRL)&^rxctrlRXEN)
	r.Write32(regRXPBSIZE(0), rxpbSize128K)
	for i := 1; i < 8; i++ {
		r.Write32(regRXPBSIZE(i), 0)
	}
	r.Write32(regHLREG0, r.Read32(regHLREG0)|hlreg0RXCRCSTRP)
	r.Write32(regRDRXCTL, r.Read32(regRDRXCTL)&^rdrxctlRSCFrstSize|rdrxctlCRCStrip)
	r.Write32(regFCTRL, r.Read32(regFCTRL)|fctrlBAM)
	for i := range d.cfg.Queues {
		q, err := newRxQueue(d, i)
		if err != nil {
			return err
		}
		d.rx = append(d.rx, q)
		v := r.Read32(regSRRCTL(i)) &^ (srrctlDescTypeMask | srrctlBSizePktMask)
		r.Write32(regSRRCTL(i), v|srrctlDescAdvOneBuf|srrctlDropEn|bufSize>>10)
		hw.Write64(r, regRDBAL(i), q.desc.Phys())
		r.Write32(regRDLEN(i), uint32(q.n*descSize))
		r.Write32(regRDH(i), 0)
		r.Write32(regRDT(i), 0)
	}
	r.Write32(regCTRLEXT, r.Read32(regCTRLEXT)|ctrlExtNSDis)
	for i := range d.cfg.Queues {
		r.Write32(regDCARXCTRL(i), r.Read32(regDCARXCTRL(i))&^dcaRxCtrlReserved12)
	}
	r.Write32(regRXCTRL, r.Read32(regRXCTRL)|rxctrlRXEN)
	return nil
}

// initTx configures transmit (datasheet 4.6.8): CRC and padding by the
// MAC, one 40 KiB packet buffer, the arbiter off while the rings are set up.
func (d *Device) initTx() error {
	r := d.regs
	r.Write32(regHLREG0, r.Read32(regHLREG0)|hlreg0TXCRCEN|hlreg0TXPADEN)
	r.Write32(regRTTDCS, r.Read32(regRTTDCS)|rttdcsARBDIS)
	r.Write32(regTXPBSIZE(0), txpbSize40K)
	for i := 1; i < 8; i++ {
		r.Write32(regTXPBSIZE(i), 0)
	}
	r.Write32(regDTXMXSZRQ, 0xffff)
	r.Write32(regRTTDCS, r.Read32(regRTTDCS)&^rttdcsARBDIS)
	for i := range d.cfg.Queues {
		q, err := newTxQueue(d, i)
		if err != nil {
			return err
		}
		d.tx = append(d.tx, q)
		hw.Write64(r, regTDBAL(i), q.desc.Phys())
		r.Write32(regTDLEN(i), uint32(q.n*descSize))
		r.Write32(regTXDCTL(i), r.Read32(regTXDCTL(i))&^txdctlThreshMask|txdctlThresholds)
	}
	r.Write32(regDMATXCTL, r.Read32(regDMATXCTL)|dmatxctlTE)
	return nil
}

// startRx enables an RX queue, waits until the enable bit reads back, and
// gives the device every descriptor but one (RDT = n-1: the ring is never
// full, so head == tail always means empty).
func (d *Device) startRx(q *rxQueue) error {
	r := d.regs
	r.Write32(regRXDCTL(q.id), r.Read32(regRXDCTL(q.id))|qctlEnable)
	if err := d.waitSet(regRXDCTL(q.id), qctlEnable, fmt.Sprintf("RXDCTL(%d).ENABLE", q.id)); err != nil {
		return err
	}
	r.Write32(regRDH(q.id), 0)
	r.Write32(regRDT(q.id), uint32(q.n-1))
	return nil
}

// startTx enables a TX queue and waits until the enable bit reads back.
func (d *Device) startTx(q *txQueue) error {
	r := d.regs
	r.Write32(regTDH(q.id), 0)
	r.Write32(regTDT(q.id), 0)
	r.Write32(regTXDCTL(q.id), r.Read32(regTXDCTL(q.id))|qctlEnable)
	return d.waitSet(regTXDCTL(q.id), qctlEnable, fmt.Sprintf("TXDCTL(%d).ENABLE", q.id))
}

// waitSet polls reg until every bit of mask is set, for at most
// Config.Timeout.
func (d *Device) waitSet(reg int, mask uint32, what string) error {
	return d.wait(reg, mask, mask, what+" to be set", d.cfg.Timeout)
}

// waitClear polls reg until every bit of mask is clear.
func (d *Device) waitClear(reg int, mask uint32, what string) error {
	return d.wait(reg, mask, 0, what+" to clear", d.cfg.Timeout)
}

func (d *Device) wait(reg int, mask, want uint32, what string, timeout time.Duration) error {
	start := time.Now()
	for {
		v := d.regs.Read32(reg)
		if v&mask == want {
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("%w: %s: waited %v for %s (register %#05x reads %#08x)", ErrTimeout, d.dev.Addr(), timeout, what, reg, v)
		}
		d.hooks.Check()
		d.hooks.Sleep(pollInterval)
	}
}

// WaitLink waits up to timeout for the link to come up.
func (d *Device) WaitLink(timeout time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.wait(regLINKS, linksUp, linksUp, "LINKS.UP (link up)", timeout)
}

// Link reads the link state (LINKS).
func (d *Device) Link() idl.Link {
	d.mu.Lock()
	v := d.regs.Read32(regLINKS)
	d.mu.Unlock()
	l := idl.Link{MAC: d.mac}
	if v&linksUp == 0 {
		return l
	}
	l.Up = true
	switch v & linksSpeedMask {
	case linksSpeed10G:
		l.SpeedMbps = 10000
	case linksSpeed1G:
		l.SpeedMbps = 1000
	case linksSpeed100M:
		l.SpeedMbps = 100
	}
	return l
}

// MAC is the NIC's address (receive address 0, loaded from the EEPROM).
func (d *Device) MAC() [6]byte { return d.mac }

// Model is what Lookup named the device.
func (d *Device) Model() Model { return d.model }

// Queues is the number of RX/TX queue pairs.
func (d *Device) Queues() int { return len(d.rx) }

// readStats adds the clear-on-read counters to d.stats. The caller holds mu
// (or is the bring-up).
func (d *Device) readStats() {
	r := d.regs
	s := &d.stats
	s.RxPackets += uint64(r.Read32(regGPRC))
	s.TxPackets += uint64(r.Read32(regGPTC))
	s.RxBytes += uint64(r.Read32(regGORCL))
	s.RxBytes += uint64(r.Read32(regGORCH)&0xf) << 32
	s.TxBytes += uint64(r.Read32(regGOTCL))
	s.TxBytes += uint64(r.Read32(regGOTCH)&0xf) << 32
	for i := range 8 {
		s.RxMissed += uint64(r.Read32(regMPC(i)))
	}
	s.RxErrors += uint64(r.Read32(regCRCERRS)) + uint64(r.Read32(regRLEC))
}

// Stats reads the device's counters, adds them to what earlier reads
// accumulated, and adds the driver's own.
func (d *Device) Stats() idl.NetStats {
	d.mu.Lock()
	d.readStats()
	s := d.stats
	d.mu.Unlock()
	for _, q := range d.rx {
		q.mu.Lock()
		s.RxErrors += q.errors
		q.mu.Unlock()
	}
	for _, q := range d.tx {
		q.mu.Lock()
		s.TxErrors += q.errors
		q.mu.Unlock()
	}
	return s
}

// SetPromisc switches unicast and multicast promiscuous mode (FCTRL.UPE,
// FCTRL.MPE).
func (d *Device) SetPromisc(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setPromisc(on)
}

func (d *Device) setPromisc(on bool) {
	v := d.regs.Read32(regFCTRL)
	if on {
		v |= fctrlUPE | fctrlMPE
	} else {
		v &^= fctrlUPE | fctrlMPE
	}
	d.regs.Write32(regFCTRL, v)
	d.promisc = on
}

// Promisc reports whether promiscuous mode is on.
func (d *Device) Promisc() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.promisc
}
