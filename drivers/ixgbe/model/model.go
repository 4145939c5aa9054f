// Package model is an in-memory model of the Intel 82599 10 GbE
// controller, for the ixgbe driver's tests and benchmarks: the register
// file (BAR 0) with reset, EEPROM auto-read, DMA-init and link bits,
// clear-on-read statistics and queue enable bits that read back after a
// delay, and the RX and TX descriptor rings processed as the datasheet
// describes them (advanced descriptors, head/tail ownership, DD written back
// to memory, 128-byte alignment of ring bases and lengths), with frames
// injected and captured at the "wire". Switches withhold or corrupt what the
// driver waits for, to test its error paths.
//
// A Model is an hw.PCIDevice: the driver reaches its registers through
// hw.Regs and its memory through the same kernel/dma allocator (over a
// byte slice standing in for physical memory) it uses on real hardware. The
// driver code under test is the code that runs on an 82599.
//
// # Timing
//
// Bits the driver polls settle after a number of reads, not of
// nanoseconds, so a register trace is deterministic. The rings are
// processed either synchronously, when the driver writes a tail register
// (the default: the driver and the model share one thread, which the
// benchmarks use to measure the driver's cost), or by a goroutine of the
// model (Config.Async, Start), which also delays DD write-backs
// (Switches.DelayDD) to test the driver against a device that runs beside
// it.
//
// # Memory ordering
//
// The model writes a descriptor's status word (the one holding DD) last,
// with an atomic store, after the packet data and the rest of the
// write-back; the driver reads it with hw.Buffer.Load32, an atomic load.
// The driver's descriptor writes reach the model through the mutex its
// register accesses take. So the race detector sees exactly the
// happens-before edges real hardware needs (the store order and the MMIO
// write barrier).
//
// Not modelled: interrupts, flow control, offloads (checksums, RSS, VLAN,
// RSC), multi-buffer receive, WTHRESH batching of write-backs (each DD is
// written as soon as its descriptor is done), timing of the wire.
package model

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/hw"
)

// Config shapes a Model. The zero Config gets the defaults.
type Config struct {
	DeviceID uint16  // PCI device ID (default 0x10FB, 82599 SFP / X520)
	MAC      [6]byte // the address in the EEPROM (default 00:1b:21:0a:0b:0c)
	RAM      int     // bytes of DMA memory (default 32 MiB)
	Queues   int     // queues processed (default 16, at most 64)
	Async    bool    // rings processed by the model's goroutine (Start), not on tail writes
	Seed     uint64  // of the random DD delays

	// Reads of the polled register before each bit settles (defaults:
	// reset 2, EEPROM 1, DMA init 1, link 3 register accesses, queue enable 1).
	ResetReads, EEPROMReads, DMAInitReads, LinkReads, EnableReads int

	FIFO int // frames waiting per RX queue, the packet buffer (default 4096)
}

func (c Config) withDefaults() Config {
	if c.DeviceID == 0 {
		c.DeviceID = 0x10FB
	}
	if c.MAC == [6]byte{} {
		c.MAC = [6]byte{0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c}
	}
	if c.RAM == 0 {
		c.RAM = 32 << 20
	}
	if c.Queues == 0 {
		c.Queues = 16
	}
	c.Queues = min(c.Queues, maxQueues)
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.ResetReads, 2)
	def(&c.EEPROMReads, 1)
	def(&c.DMAInitReads, 1)
	def(&c.LinkReads, 3)
	def(&c.EnableReads, 1)
	def(&c.FIFO, 4096)
	return c
}

// Switches withhold or corrupt what the driver relies on.
type Switches struct {
	HoldReset   bool // CTRL.RST never clears
	HoldEEPROM  bool // EEC.ARD never sets
	HoldDMAInit bool // RDRXCTL.DMAIDONE never sets
	HoldLink    bool // LINKS.UP never sets
	HoldEnable  bool // RXDCTL/TXDCTL.ENABLE never read back
	DelayDD     int  // each DD write-back waits 0..DelayDD steps of the model (random, in order)
	CorruptRx   bool // RX write-backs carry the RXE (MAC error) bit
	BadLength   bool // RX write-backs carry a length beyond the buffer
}

// Base is the "physical" address of the model's memory.
const Base = 0x1_0000_0000

// Access is one register access, for traces.
type Access struct {
	Write bool
	Off   int
	Val   uint32
}

func (a Access) String() string {
	op := "R"
	if a.Write {
		op = "W"
	}
	return fmt.Sprintf("%s %-13s %#08x", op, Name(a.Off), a.Val)
}

// Counters are what happened at the model's "wire".
type Counters struct {
	Injected  uint64 // frames accepted by Inject (and looped back)
	Filtered  uint64 // frames the receive filters (FCTRL, RAL/RAH) refused
	Missed    uint64 // frames dropped: RX disabled or the packet buffer full (also in MPC)
	Delivered uint64 // frames written to RX descriptors
	Sent      uint64 // frames taken from TX descriptors
	Lost      uint64 // frames in the packet buffer when the device was reset
}

// A Model is one 82599.
type Model struct {
	cfg    Config
	ram    []byte
	ramBuf *hw.Buffer // ram, for the atomic status stores
	alloc  *dma.Allocator

	mu       sync.Mutex
	regs     []uint32
	sw       Switches
	left     struct{ reset, eeprom, dmaInit, link int } // reads before the bit settles; 0: settled
	linking  bool
	rxOn     [maxQueues]bool // enabled (RXDCTL.ENABLE reads back)
	txOn     [maxQueues]bool
	rxEnLeft [maxQueues]int
	txEnLeft [maxQueues]int
	rx       [maxQueues]rxQueue
	tx       [maxQueues]txQueue
	pending  []writeback // delayed DD write-backs, in order
	steps    uint64
	rng      *rand.Rand
	trace    func(Access)
	capture  bool
	errs     []string
	count    Counters
	resets   int

	stop chan struct{}
	done chan struct{}
}

type rxQueue struct {
	fifo [][]byte // frames waiting for a descriptor
	gen  []byte   // a frame delivered into every free descriptor (benchmarks)
}

type txQueue struct {
	partial  []byte   // a frame spanning descriptors, until EOP
	captured [][]byte // frames sent, if capturing
}

type writeback struct {
	off int
	val uint32
	due uint64
}

// New makes a Model, powered on: it needs a reset (CTRL.RST) like a real
// one, and then EEPROM auto-read and DMA init take their reads.
func New(cfg Config) *Model {
	cfg = cfg.withDefaults()
	m := &Model{cfg: cfg, ram: make([]byte, cfg.RAM), regs: make([]uint32, BARSize/4), capture: true}
	m.ramBuf = hw.NewBuffer(m.ram, Base)
	m.alloc = dma.NewContiguous(m.ram, Base)
	m.rng = rand.New(rand.NewPCG(cfg.Seed, 0x82599))
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
	return m
}

// hw.PCIDevice.

func (m *Model) Addr() string          { return "model:82599" }
func (m *Model) IDs() (uint16, uint16) { return 0x8086, m.cfg.DeviceID }
func (m *Model) BAR(i int) (hw.Regs, error) {
	if i != 0 {
		return nil, fmt.Errorf("model: BAR %d is not memory", i)
	}
	return m, nil
}
func (m *Model) DMA() hw.DMA { return m.alloc }
func (m *Model) Command() (uint16, error) {
	return hw.CmdMemory | hw.CmdBusMaster | hw.CmdINTxDisable, nil
}

// Reset is the kernel's reset of the function when the domain holding it
// dies (a function-level reset): the device stops and forgets its state,
// and the driver's DMA memory is taken back.
func (m *Model) Reset() {
	m.mu.Lock()
	m.resetLocked()
	m.resets++
	m.mu.Unlock()
	m.alloc.Reset()
}

// Packets makes the NIC's packet pool: n cells of idl.Packet in the model's
// DMA memory, which it reads and writes like a driver's buffers, kept
// across Reset. Make it before a driver allocates (dma.NewCellPool). The
// pool keeps the model's memory for as long as it lives: retire it
// (CellPool.Retire) when done with the model.
func (m *Model) Packets(name string, n int) (*dma.CellPool[idl.Packet], error) {
	return dma.NewCellPool[idl.Packet](name, m.alloc, n)
}

// Resets is how many times the kernel reset the function.
func (m *Model) Resets() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resets
}

// Len implements hw.Regs.
func (m *Model) Len() int { return BARSize }

// SetSwitches replaces the switches.
func (m *Model) SetSwitches(s Switches) {
	m.mu.Lock()
	m.sw = s
	m.mu.Unlock()
}

// SetTrace calls f with every register access from now on (nil: none). f
// runs with the model locked.
func (m *Model) SetTrace(f func(Access)) {
	m.mu.Lock()
	m.trace = f
	m.mu.Unlock()
}

// Capture switches the capture of sent frames (on by default); off, they
// are only counted.
func (m *Model) Capture(on bool) {
	m.mu.Lock()
	m.capture = on
	m.mu.Unlock()
}

// Errors are the datasheet rules the driver broke, in order (empty if none).
func (m *Model) Errors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.errs...)
}

// Counters reads the wire counters.
func (m *Model) Counters() Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

// Peek reads a register without the side effects of a read (clear on
// read, settling bits) and without tracing it.
func (m *Model) Peek(off int) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.regs[off/4]
}

func (m *Model) fail(format string, args ...any) {
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

// resetLocked puts the registers in their power-on state: zero except
// the ones below, the MAC from the EEPROM, the rings stopped, the packet
// buffer emptied.
func (m *Model) resetLocked() {
	clear(m.regs)
	m.regs[EEC/4] = eecPresent
	m.regs[RXPBSIZE(0)/4] = 512 << 10
	m.regs[TXPBSIZE(0)/4] = 160 << 10
	for q := range maxQueues {
		m.regs[SRRCTL(q)/4] = 4<<8 | 2 // header 256 B, packet 2 KiB
		m.regs[DCARX(q)/4] = 1 << 12
		m.rxOn[q], m.txOn[q] = false, false
		m.rxEnLeft[q], m.txEnLeft[q] = 0, 0
		m.count.Lost += uint64(len(m.rx[q].fifo))
		m.rx[q].fifo = m.rx[q].fifo[:0]
		m.tx[q].partial = m.tx[q].partial[:0]
	}
	mac := m.cfg.MAC
	m.regs[RAL0/4] = binary.LittleEndian.Uint32(mac[:4])
	m.regs[RAH0/4] = uint32(mac[4]) | uint32(mac[5])<<8 | 1<<31 // AV
	m.left.reset = 0
	m.left.eeprom = m.cfg.EEPROMReads
	m.left.dmaInit = m.cfg.DMAInitReads
	m.left.link, m.linking = 0, false
	m.pending = m.pending[:0]
}

// Read32 implements hw.Regs.
func (m *Model) Read32(off int) uint32 {
	m.check(off)
	m.mu.Lock()
	v := m.read(off)
	if m.trace != nil {
		m.trace(Access{Off: off, Val: v})
	}
	m.mu.Unlock()
	return v
}

// Write32 implements hw.Regs.
func (m *Model) Write32(off int, v uint32) {
	m.check(off)
	m.mu.Lock()
	if m.trace != nil {
		m.trace(Access{Write: true, Off: off, Val: v})
	}
	m.write(off, v)
	m.mu.Unlock()
}

func (m *Model) check(off int) {
	if off < 0 || off+4 > BARSize || off&3 != 0 {
		panic(fmt.Sprintf("model: register access at %#x outside BAR 0 or misaligned", off))
	}
}

// settle counts one read of a bit that is settling, and reports whether it
// settled with it.
func settle(left *int, hold bool) bool {
	if *left <= 0 || hold {
		return false
	}
	*left--
	return *left == 0
}

// linkTick counts one register access towards the link coming up after
// autonegotiation was restarted (the link does not wait for LINKS to be
// read, but its timing is counted in accesses, to stay deterministic).
func (m *Model) linkTick() {
	if m.linking && settle(&m.left.link, m.sw.HoldLink) {
		m.linking = false
		m.regs[LINKS/4] = linksUp | linksSpeed10G
	}
}

func (m *Model) read(off int) uint32 {
	m.linkTick()
	r := &m.regs[off/4]
	switch {
	case off == CTRL:
		if settle(&m.left.reset, m.sw.HoldReset) {
			*r &^= ctrlReset | ctrlLinkReset
		}
	case off == EEC:
		if m.left.reset == 0 && settle(&m.left.eeprom, m.sw.HoldEEPROM) {
			*r |= eecARD
		}
	case off == RDRXCTL:
		if m.left.reset == 0 && settle(&m.left.dmaInit, m.sw.HoldDMAInit) {
			*r |= rdrxctlDMAIDone
		}
	case off == GPRC || off == GPTC || off == GORCL || off == GORCH || off == GOTCL || off == GOTCH ||
		off == CRCERRS || off == RLEC || off >= MPC(0) && off < MPC(8):
		v := *r
		*r = 0
		return v
	case off >= RXDCTL(0) && off < RXDCTL(maxQueues) && (off-RXDCTL(0))%0x40 == 0:
		q := (off - RXDCTL(0)) / 0x40
		if settle(&m.rxEnLeft[q], m.sw.HoldEnable) {
			m.rxOn[q] = true
			*r |= qctlEnable
		}
	case off >= QPRC(0) && off < QPRC(maxQueues) && (off-QPRC(0))%0x40 == 0:
		v := *r
		*r = 0
		return v
	case off >= TXDCTL(0) && off < TXDCTL(maxQueues) && (off-TXDCTL(0))%0x40 == 0:
		q := (off - TXDCTL(0)) / 0x40
		if settle(&m.txEnLeft[q], m.sw.HoldEnable) {
			m.txOn[q] = true
			*r |= qctlEnable
		}
	case off == EIMC:
		return 0 // write-only
	}
	return *r
}

func (m *Model) write(off int, v uint32) {
	m.linkTick()
	r := &m.regs[off/4]
	switch {
	case off == CTRL:
		if v&(ctrlReset|ctrlLinkReset) != 0 {
			m.resetLocked()
			m.left.reset = m.cfg.ResetReads
		}
		m.regs[CTRL/4] = v
	case off == EIMC:
		m.regs[EIMS/4] &^= v
	case off == EIMS:
		*r |= v
	case off == EEC:
		*r = *r&(eecPresent|eecARD) | v&^(eecPresent|eecARD)
	case off == RDRXCTL:
		*r = *r&rdrxctlDMAIDone | v&^rdrxctlDMAIDone
	case off == LINKS || off == GPRC || off == GPTC || off == GORCL || off == GORCH || off == GOTCL || off == GOTCH ||
		off == CRCERRS || off == RLEC || off >= MPC(0) && off < MPC(8):
		// read-only
	case off == AUTOC:
		*r = v &^ autocANRestart
		if v&(autocANRestart|autocFLU) != 0 {
			m.regs[LINKS/4] = 0
			m.linking, m.left.link = true, m.cfg.LinkReads
		}
	case off >= 0x01000 && off < 0x01000+0x40*maxQueues:
		m.writeRxQueue((off-0x01000)/0x40, (off-0x01000)%0x40, r, v)
	case off >= 0x06000 && off < 0x06000+0x40*maxQueues:
		m.writeTxQueue((off-0x06000)/0x40, (off-0x06000)%0x40, r, v)
	default:
		*r = v
	}
}

// ringBase is what a write of v to a ring's base register (RDBAL, TDBAL)
// stores: the datasheet ignores bits 6:0, and a driver that sets them is
// wrong.
func (m *Model) ringBase(reg string, q int, v uint32) uint32 {
	if v&0x7f != 0 {
		m.fail("%s(%d) = %#x: the ring base must be 128-byte aligned (bits 6:0 are ignored)", reg, q, v)
	}
	return v &^ 0x7f
}

// ringLen is what a write of v to a ring's length register (RDLEN,
// TDLEN) stores, as ringBase.
func (m *Model) ringLen(reg string, q int, v uint32) uint32 {
	if v&0x7f != 0 {
		m.fail("%s(%d) = %#x: the ring length must be a multiple of 128 bytes (bits 6:0 are ignored)", reg, q, v)
	}
	return v & 0xfff80
}

func (m *Model) writeRxQueue(q, reg int, r *uint32, v uint32) {
	switch reg {
	case 0x00: // RDBAL
		*r = m.ringBase("RDBAL", q, v)
	case 0x08: // RDLEN
		*r = m.ringLen("RDLEN", q, v)
	case 0x28: // RXDCTL
		if v&qctlEnable == 0 {
			m.rxOn[q], m.rxEnLeft[q] = false, 0
			*r = v
			return
		}
		*r = v &^ qctlEnable
		if m.rxOn[q] {
			*r |= qctlEnable
			return
		}
		if n, ok := m.ringOK("RX", q, RDBAL(q), RDLEN(q)); ok && n > 0 {
			m.rxEnLeft[q] = m.cfg.EnableReads
		}
	case 0x18: // RDT
		*r = v
		if n := int(m.regs[RDLEN(q)/4]) / descSize; int(v) >= n {
			m.fail("RDT(%d) = %d: beyond the ring of %d descriptors", q, v, n)
			m.rxOn[q] = false
			return
		}
		if !m.cfg.Async {
			m.deliver(q)
			m.flush()
		}
	case 0x30: // QPRC: read-only
	default:
		*r = v
	}
}

func (m *Model) writeTxQueue(q, reg int, r *uint32, v uint32) {
	switch reg {
	case 0x00: // TDBAL
		*r = m.ringBase("TDBAL", q, v)
	case 0x08: // TDLEN
		*r = m.ringLen("TDLEN", q, v)
	case 0x28: // TXDCTL
		if v&qctlEnable == 0 {
			m.txOn[q], m.txEnLeft[q] = false, 0
			*r = v
			return
		}
		*r = v &^ qctlEnable
		if m.txOn[q] {
			*r |= qctlEnable
			return
		}
		if m.regs[DMATXCTL/4]&dmatxctlTE == 0 {
			m.fail("TXDCTL(%d).ENABLE set before DMATXCTL.TE (datasheet 4.6.8): the queue stays disabled", q)
			return
		}
		if n, ok := m.ringOK("TX", q, TDBAL(q), TDLEN(q)); ok && n > 0 {
			m.txEnLeft[q] = m.cfg.EnableReads
		}
	case 0x18: // TDT
		*r = v
		if n := int(m.regs[TDLEN(q)/4]) / descSize; int(v) >= n {
			m.fail("TDT(%d) = %d: beyond the ring of %d descriptors", q, v, n)
			m.txOn[q] = false
			return
		}
		if !m.cfg.Async {
			m.send(q)
			m.flush()
		}
	default:
		*r = v
	}
}

// ringOK checks a ring about to be enabled and returns its descriptor count.
func (m *Model) ringOK(what string, q, bal, ln int) (int, bool) {
	base := uint64(m.regs[bal/4]) | uint64(m.regs[bal/4+1])<<32
	size := int(m.regs[ln/4])
	if size == 0 {
		m.fail("%s queue %d enabled with a ring length of 0: the queue stays disabled", what, q)
		return 0, false
	}
	if !m.inRAM(base, size) {
		m.fail("%s queue %d: ring [%#x, +%d) is outside DMA memory: the queue stays disabled", what, q, base, size)
		return 0, false
	}
	return size / descSize, true
}

func (m *Model) inRAM(addr uint64, n int) bool {
	return addr >= Base && addr-Base+uint64(n) <= uint64(len(m.ram))
}

func (m *Model) mem(addr uint64) int { return int(addr - Base) }

// store32 writes a status word the driver polls: atomically (see the
// package doc, Memory ordering). ram is a []byte; the word is 4-byte
// aligned (descriptors are 16-byte aligned in 128-byte aligned rings).
func (m *Model) store32(off int, v uint32) {
	m.ramBuf.Store32(off, v)
}

// writeBack writes a DD status word now, or later if DD is delayed.
func (m *Model) writeBack(off int, v uint32) {
	if m.sw.DelayDD <= 0 && len(m.pending) == 0 {
		m.store32(off, v)
		return
	}
	due := m.steps + uint64(m.rng.IntN(max(m.sw.DelayDD, 0)+1))
	if k := len(m.pending); k > 0 && m.pending[k-1].due > due {
		due = m.pending[k-1].due // write-backs stay in order
	}
	m.pending = append(m.pending, writeback{off, v, due})
}

// flush writes the delayed write-backs that are due.
func (m *Model) flush() {
	k := 0
	for k < len(m.pending) && m.pending[k].due <= m.steps {
		m.store32(m.pending[k].off, m.pending[k].val)
		k++
	}
	if k > 0 {
		n := copy(m.pending, m.pending[k:])
		m.pending = m.pending[:n]
	}
}

func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// rxReady reports whether queue q receives: RXCTRL.RXEN, the queue
// enabled, and the link up (or MAC loopback).
func (m *Model) rxReady(q int) bool {
	return m.rxOn[q] && m.regs[RXCTRL/4]&rxctrlRXEN != 0 &&
		(m.regs[LINKS/4]&linksUp != 0 || m.regs[HLREG0/4]&hlreg0LPBK != 0)
}

// deliver writes waiting frames (or generated ones) into the free
// descriptors of RX queue q: [RDH, RDT).
func (m *Model) deliver(q int) {
	if !m.rxReady(q) {
		return
	}
	rq := &m.rx[q]
	n := int(m.regs[RDLEN(q)/4]) / descSize
	base := uint64(m.regs[RDBAL(q)/4]) | uint64(m.regs[RDBAH(q)/4])<<32
	head, tail := int(m.regs[RDH(q)/4]), int(m.regs[RDT(q)/4])
	bsize := int(m.regs[SRRCTL(q)/4]&srrctlBSizeMask) << 10
	if bsize == 0 {
		bsize = 2048
	}
	if desc := m.regs[SRRCTL(q)/4] & srrctlDescMask; desc != srrctlAdvOneBuf {
		m.fail("RX queue %d: SRRCTL.DESCTYPE %#x, the model knows advanced one-buffer (%#x) only", q, desc, srrctlAdvOneBuf)
		m.rxOn[q] = false
		return
	}
	taken := 0
ring:
	for head != tail {
		var frame []byte
		switch {
		case taken < len(rq.fifo):
			frame = rq.fifo[taken]
			taken++
		case rq.gen != nil:
			frame = rq.gen
		default:
			break ring // nothing to receive
		}
		d := m.mem(base) + head*descSize
		addr := le64(m.ram, d)
		if len(frame) > bsize {
			m.regs[RLEC/4]++ // multi-buffer frames are not modelled: count and drop
			continue
		}
		if !m.inRAM(addr, len(frame)) {
			m.fail("RX queue %d descriptor %d: buffer address %#x is outside DMA memory: the queue stops", q, head, addr)
			m.rxOn[q] = false
			break
		}
		copy(m.ram[m.mem(addr):], frame)
		length := len(frame)
		if m.sw.BadLength {
			length = bsize + 64
		}
		binary.LittleEndian.PutUint64(m.ram[d:], 0) // packet type, RSS hash
		binary.LittleEndian.PutUint32(m.ram[d+12:], uint32(length))
		st := uint32(rxStatDD | rxStatEOP)
		if m.sw.CorruptRx {
			st |= rxErrRXE
		}
		m.writeBack(d+8, st)
		m.regs[GPRC/4]++
		m.regs[QPRC(q)/4]++
		m.addOctets(GORCL, uint64(length+4))
		m.count.Delivered++
		if head++; head == n {
			head = 0
		}
	}
	if taken > 0 {
		k := copy(rq.fifo, rq.fifo[taken:])
		clear(rq.fifo[k:])
		rq.fifo = rq.fifo[:k]
	}
	m.regs[RDH(q)/4] = uint32(head)
}

// addOctets adds to a 36-bit octet counter (low register lo, high lo+4).
func (m *Model) addOctets(lo int, n uint64) {
	v := uint64(m.regs[lo/4]) | uint64(m.regs[lo/4+1])<<32 + n
	m.regs[lo/4], m.regs[lo/4+1] = uint32(v), uint32(v>>32)&0xf
}

// send takes the frames of TX queue q's descriptors [TDH, TDT) and writes
// DD back for those with RS.
func (m *Model) send(q int) {
	if !m.txOn[q] || m.regs[DMATXCTL/4]&dmatxctlTE == 0 {
		return
	}
	tq := &m.tx[q]
	n := int(m.regs[TDLEN(q)/4]) / descSize
	base := uint64(m.regs[TDBAL(q)/4]) | uint64(m.regs[TDBAH(q)/4])<<32
	head, tail := int(m.regs[TDH(q)/4]), int(m.regs[TDT(q)/4])
	for head != tail {
		d := m.mem(base) + head*descSize
		addr, ctl, ol := le64(m.ram, d), le32(m.ram, d+8), le32(m.ram, d+12)
		length := int(ctl & 0xffff)
		if ctl&txDTypMask != txDTypData || ctl&txCmdDEXT == 0 {
			m.fail("TX queue %d descriptor %d: cmd_type_len %#08x is not an advanced data descriptor (DTYP 3, DEXT): the queue stops", q, head, ctl)
			m.txOn[q] = false
			break
		}
		if length == 0 || !m.inRAM(addr, length) {
			m.fail("TX queue %d descriptor %d: buffer [%#x, +%d) is empty or outside DMA memory: the queue stops", q, head, addr, length)
			m.txOn[q] = false
			break
		}
		tq.partial = append(tq.partial, m.ram[m.mem(addr):m.mem(addr)+length]...)
		if ctl&txCmdEOP != 0 {
			m.frame(q, tq, int(ol>>txPaylenSh), ctl)
		}
		if ctl&txCmdRS != 0 {
			binary.LittleEndian.PutUint32(m.ram[d+8:], 0)
			m.writeBack(d+12, txStatDD)
		}
		if head++; head == n {
			head = 0
		}
	}
	m.regs[TDH(q)/4] = uint32(head)
}

// frame handles a complete frame taken from TX queue q.
func (m *Model) frame(q int, tq *txQueue, paylen int, ctl uint32) {
	f := tq.partial
	tq.partial = tq.partial[:0]
	if paylen != len(f) {
		m.fail("TX queue %d: PAYLEN %d, but the frame's descriptors hold %d bytes", q, paylen, len(f))
	}
	if ctl&txCmdIFCS == 0 {
		m.fail("TX queue %d: frame without IFCS: it would go out without a CRC", q)
	}
	if len(f) > 1514 {
		m.fail("TX queue %d: frame of %d bytes exceeds 1514 (no jumbo frames enabled)", q, len(f))
	}
	m.regs[GPTC/4]++
	m.addOctets(GOTCL, uint64(max(len(f), 60)+4))
	m.count.Sent++
	switch {
	case m.regs[HLREG0/4]&hlreg0LPBK != 0:
		if m.arrive(q, f) && !m.cfg.Async {
			m.deliver(q)
		}
	case m.capture:
		tq.captured = append(tq.captured, append([]byte(nil), f...))
	}
}

// Inject puts a frame on the wire towards RX queue q. It reports whether
// the NIC took it: the receive filters (broadcast with FCTRL.BAM,
// multicast with FCTRL.MPE, unicast to the MAC or with FCTRL.UPE) and
// room in the packet buffer (else it is missed, counted in MPC).
func (m *Model) Inject(q int, frame []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := m.arrive(q, frame)
	if ok && !m.cfg.Async {
		m.deliver(q)
		m.flush()
	}
	return ok
}

func (m *Model) arrive(q int, frame []byte) bool {
	if !m.accept(frame) {
		m.count.Filtered++
		return false
	}
	rq := &m.rx[q]
	if !m.rxReady(q) || len(rq.fifo) >= m.cfg.FIFO {
		m.regs[MPC(0)/4]++
		m.count.Missed++
		return false
	}
	rq.fifo = append(rq.fifo, append([]byte(nil), frame...))
	m.count.Injected++
	return true
}

func (m *Model) accept(f []byte) bool {
	if len(f) < 14 {
		return false
	}
	fctrl := m.regs[FCTRL/4]
	switch {
	case [6]byte(f[:6]) == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
		return fctrl&fctrlBAM != 0 || fctrl&fctrlMPE != 0
	case f[0]&1 != 0:
		return fctrl&fctrlMPE != 0
	default:
		lo, hi := m.regs[RAL0/4], m.regs[RAH0/4]
		own := hi&(1<<31) != 0 && le32(f, 0) == lo && uint32(f[4])|uint32(f[5])<<8 == hi&0xffff
		return own || fctrl&fctrlUPE != 0
	}
}

// Generate makes RX queue q receive frame into every free descriptor, as
// fast as the driver gives them back (nil stops): an endless source for
// benchmarks. Generated frames bypass the filters and the packet buffer.
func (m *Model) Generate(q int, frame []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if frame == nil {
		m.rx[q].gen = nil
		return
	}
	m.rx[q].gen = append([]byte(nil), frame...)
	if !m.cfg.Async {
		m.deliver(q)
		m.flush()
	}
}

// Captured returns and forgets the frames sent on TX queue q.
func (m *Model) Captured(q int) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.tx[q].captured
	m.tx[q].captured = nil
	return f
}

// Step processes every queue once and writes back the DDs that are due:
// what the model's goroutine does in a loop. In synchronous mode it only
// advances delayed write-backs.
func (m *Model) Step() {
	m.mu.Lock()
	m.step()
	m.mu.Unlock()
}

func (m *Model) step() {
	m.steps++
	if m.cfg.Async {
		for q := range m.cfg.Queues {
			m.deliver(q)
			m.send(q)
		}
	}
	m.flush()
}

// Start runs the model's goroutine (for Config.Async): it steps the model
// until Stop. With a gate, each step holds it: a test that also holds it
// around the driver's calls keeps the model's write-backs between them
// (see the ixgbe tests: hw.Buffer.Load32 does a plain read for its bounds
// check, which the race detector reports against the model's atomic store
// of the same word).
func (m *Model) Start(gate sync.Locker) {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		for i := 0; ; i++ {
			select {
			case <-m.stop:
				return
			default:
			}
			if gate != nil {
				gate.Lock()
			}
			m.Step()
			if gate != nil {
				gate.Unlock()
			}
			if i%64 == 63 {
				time.Sleep(10 * time.Microsecond) // leave the CPU to the driver now and then
			} else {
				runtime.Gosched()
			}
		}
	}()
}

// Stop ends the goroutine Start started.
func (m *Model) Stop() {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
}
