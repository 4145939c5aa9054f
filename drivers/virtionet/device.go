package virtionet

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Config is what the kernel configures the driver with (granted under
// GrantConfig; the zero Config gets the defaults).
type Config struct {
	// QueueSize is the number of descriptors of each queue: a power of
	// two, clamped to the device's maximum (default 256: one page of
	// descriptors).
	QueueSize int
	// Timeout bounds the wait for the device's reset (default 1 s).
	Timeout time.Duration
	// CopyBreak is, with a packet pool, the longest frame that is copied
	// between a queue's cell and the caller's buffer rather than
	// exchanged: for a short frame the copy costs less than the exchange's
	// ownership moves (BENCHMARKS.md). 0: DefaultCopyBreak; negative:
	// exchange every frame.
	CopyBreak int
}

// DefaultCopyBreak is Config.CopyBreak's default.
const DefaultCopyBreak = 256

func (c Config) withDefaults() Config {
	if c.QueueSize <= 0 {
		c.QueueSize = 256
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.CopyBreak == 0 {
		c.CopyBreak = DefaultCopyBreak
	}
	c.CopyBreak = max(c.CopyBreak, -1)
	return c
}

// Hooks let the driver cooperate with the domain kernel: Check is called
// while waiting (Context.Check), Sleep waits (Context.Sleep). Nil hooks do
// nothing and time.Sleep.
//
// Packets is the device's pool of packet cells in DMA memory (GrantPackets),
// nil for none: with it the queues hold cells of the pool and packets move
// without a copy; Heap is the account that owns them while they are in the
// queues (the domain's, Context.Heap), required with Packets.
type Hooks struct {
	Check   func()
	Sleep   func(time.Duration)
	Packets hw.CellPool[idl.Packet]
	Heap    *rref.Account
}

// A Device is one virtio-net device brought up by the driver, with one
// receive and one transmit queue. It implements idl.Net (queue 0) without
// the domain around it.
//
// Receive and transmit each have a lock (calls on the same queue are
// serialized, the two directions run in parallel). Counters are added
// once per batch.
type Device struct {
	fn       Function
	t        *transport
	cfg      Config
	hooks    Hooks
	features uint64 // negotiated
	mac      [6]byte

	rxMu sync.Mutex
	rx   *queue

	txMu sync.Mutex
	tx   *queue

	promisc atomic.Bool

	rxPackets, rxBytes, rxErrors atomic.Uint64
	txPackets, txBytes, txErrors atomic.Uint64
}

// Open brings the device of fn up from whatever state it is in: reset,
// feature negotiation, both queues, and every receive buffer posted.
func Open(fn Function, cfg Config, hooks Hooks) (*Device, error) {
	if hooks.Check == nil {
		hooks.Check = func() {}
	}
	if hooks.Sleep == nil {
		hooks.Sleep = time.Sleep
	}
	if hooks.Packets != nil && hooks.Heap == nil {
		return nil, fmt.Errorf("%w: a packet pool without an account to own the queues' cells (set Hooks.Heap)", ErrPool)
	}
	d := &Device{fn: fn, cfg: cfg.withDefaults(), hooks: hooks}
	if err := d.checkCommand(); err != nil {
		return nil, err
	}
	t, err := findTransport(fn)
	if err != nil {
		return nil, err
	}
	d.t = t
	// Reset first: a device a dead instance left running stops using its
	// memory before this instance allocates (and so reuses) it.
	if err := d.reset(); err != nil {
		return nil, err
	}
	t.setStatus(statusAcknowledge)
	t.setStatus(statusAcknowledge | statusDriver)
	offered := t.deviceFeatures()
	if offered&featVersion1 == 0 {
		d.fail()
		return nil, fmt.Errorf("%w: %s offers features %#x, without VERSION_1", ErrNotModern, fn.Addr(), offered)
	}
	d.features = offered & wantFeatures
	t.setDriverFeatures(d.features)
	t.setStatus(statusAcknowledge | statusDriver | statusFeaturesOK)
	if t.status()&statusFeaturesOK == 0 {
		d.fail()
		return nil, fmt.Errorf("%w: %s did not accept features %#x", ErrDeviceFailed, fn.Addr(), d.features)
	}
	if n := t.windowRead(t.common, commonNumQueues, 2); n < 2 {
		d.fail()
		return nil, fmt.Errorf("%w: %s has %d queues, want a receive and a transmit queue", ErrDeviceFailed, fn.Addr(), n)
	}
	if d.rx, err = d.setupQueue(rxQueue, true); err != nil {
		d.fail()
		return nil, err
	}
	if d.tx, err = d.setupQueue(txQueue, false); err != nil {
		d.fail()
		return nil, err
	}
	d.mac = d.readMAC()
	// Receive buffers go to the device before DRIVER_OK, so that it has
	// somewhere to put the first frame.
	for {
		id, ok := d.rx.take()
		if !ok {
			break
		}
		d.rx.post(id)
	}
	d.rx.publish()
	t.setStatus(statusAcknowledge | statusDriver | statusFeaturesOK | statusDriverOK)
	if st := t.status(); st&statusNeedsReset != 0 || st&statusDriverOK == 0 {
		d.fail()
		return nil, fmt.Errorf("%w: %s: status %#x after DRIVER_OK", ErrDeviceFailed, fn.Addr(), st)
	}
	t.kick(d.rx.notifyAt, d.rx.index)
	return d, nil
}

// checkCommand reports a PCI command register that keeps the device from
// working.
func (d *Device) checkCommand() error {
	cmd, err := d.fn.Command()
	if err != nil {
		return fmt.Errorf("virtio-net: %s: reading the PCI command register: %w", d.fn.Addr(), err)
	}
	if cmd&hw.CmdMemory == 0 {
		return fmt.Errorf("virtio-net: %s: memory space is disabled in the PCI command register (%#04x)", d.fn.Addr(), cmd)
	}
	if cmd&hw.CmdBusMaster == 0 {
		return fmt.Errorf("virtio-net: %s: command register %#04x: %w", d.fn.Addr(), cmd, hw.ErrNoBusMaster)
	}
	return nil
}

// reset writes 0 to device_status and waits until it reads 0: the device
// has stopped and forgotten its queues.
func (d *Device) reset() error {
	d.t.setStatus(0)
	deadline := time.Now().Add(d.cfg.Timeout)
	for {
		st := d.t.common.read32(commonStatus)
		if st == 0xffffffff {
			return fmt.Errorf("virtio-net: %s: device status reads all ones: the device is gone or not decoding memory", d.fn.Addr())
		}
		if uint8(st) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s: device status %#x did not clear within %v of a reset", ErrTimeout, d.fn.Addr(), uint8(st), d.cfg.Timeout)
		}
		d.hooks.Check()
		d.hooks.Sleep(time.Millisecond)
	}
}

// fail tells the device the driver gave up on it.
func (d *Device) fail() { d.t.setStatus(d.t.status() | statusFailed) }

// setupQueue sets up virtqueue index: its size, its rings, enabled.
func (d *Device) setupQueue(index uint16, write bool) (*queue, error) {
	t := d.t
	t.selectQueue(index)
	max := int(t.common.read32(commonQSize) & 0xffff)
	if max == 0 {
		return nil, fmt.Errorf("%w: %s has no queue %d", ErrDeviceFailed, d.fn.Addr(), index)
	}
	size := d.cfg.QueueSize
	for size > max {
		size >>= 1
	}
	var q *queue
	var err error
	if d.hooks.Packets != nil {
		q, err = newCellQueue(d.fn.DMA(), index, size, write, d.hooks.Packets, d.hooks.Heap)
	} else {
		q, err = newQueue(d.fn.DMA(), index, size, write)
	}
	if err != nil {
		return nil, err
	}
	t.windowWrite(t.common, commonQSize, 2, uint32(size))
	for _, a := range []struct {
		off  int
		phys uint64
	}{{commonQDescLo, q.desc.Phys()}, {commonQDriverLo, q.avail.Phys()}, {commonQDeviceLo, q.used.Phys()}} {
		t.common.write32(a.off, uint32(a.phys))
		t.common.write32(a.off+4, uint32(a.phys>>32))
	}
	q.notifyAt = t.notifyAt(uint16(t.windowRead(t.common, commonQNotifyOff, 2)))
	t.windowWrite(t.common, commonQEnable, 2, 1)
	return q, nil
}

// readMAC reads the device's address, twice to the same result (the
// configuration can change under a reader; the generation counter that
// would say so is a narrow field).
func (d *Device) readMAC() [6]byte {
	var mac [6]byte
	if d.features&featMAC == 0 || d.t.device.len < netCfgMinLen {
		return mac
	}
	for range 4 {
		a, b := d.t.device.read32(netCfgMAC), d.t.device.read32(netCfgMAC+4)
		a2, b2 := d.t.device.read32(netCfgMAC), d.t.device.read32(netCfgMAC+4)
		if a == a2 && b&0xffff == b2&0xffff {
			return [6]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24), byte(b), byte(b >> 8)}
		}
	}
	return mac
}

// MAC is the device's address.
func (d *Device) MAC() [6]byte { return d.mac }

// Features are the negotiated feature bits.
func (d *Device) Features() uint64 { return d.features }

// QueueSize is the number of descriptors of each queue.
func (d *Device) QueueSize() int { return int(d.rx.size) }

// RxBatch implements idl.Net: it fills the free packets of bufs, front to
// back, with the frames the device received, and gives each frame's
// buffer back to the device at once. Frames not for this device (another
// unicast address, with promiscuous mode off) are dropped on the way.
// The available index is written, and the device notified if it asks to
// be, once per batch.
func (d *Device) RxBatch(queue uint16, bufs rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	if queue != 0 {
		return bufs, 0, ErrQueue
	}
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	q := d.rx
	promisc := d.promisc.Load()
	filled, bytes, bad := 0, 0, 0
	empty := false
	for k := range bufs.Len() {
		p := bufs.At(k)    // in place: no ownership moves per packet
		exchanged := false // element k is no longer p
		for p.Len == 0 && !exchanged && !empty {
			id, n, ok := q.nextUsed()
			if !ok {
				empty = true
				break
			}
			j, ok := q.slotOf(id)
			if !ok {
				bad++ // nothing to give back: the device is confused
				continue
			}
			frame := int(n) - hdrLen
			switch {
			case frame < 14 || frame > q.room():
				bad++
			case q.cells != nil:
				c := q.cells[j].Get()
				if !promisc && !d.accept(c.Data[:6]) {
					break
				}
				c.Len = uint16(frame)
				if frame > d.cfg.CopyBreak && q.exchange(j, bufs, k, 0) {
					exchanged = true // p is in the queue now, c in bufs
				} else {
					c.Len = 0
					p.Len = uint16(copy(p.Data[:frame], c.Data[:frame]))
				}
				filled++
				bytes += frame
			default:
				b := q.bufs[j]
				if !promisc && !d.accept(b.Bytes()[hdrLen:hdrLen+6]) {
					break
				}
				b.CopyOut(p.Data[:frame], hdrLen)
				p.Len = uint16(frame)
				filled++
				bytes += frame
			}
			q.post(j)
		}
	}
	if q.publish() {
		d.t.kick(q.notifyAt, q.index)
	}
	if filled > 0 {
		d.rxPackets.Add(uint64(filled))
		d.rxBytes.Add(uint64(bytes))
	}
	if bad > 0 {
		d.rxErrors.Add(uint64(bad))
	}
	return bufs, filled, nil
}

// accept reports whether a frame to dst (its first 6 bytes) is for this
// device: to its address, or broadcast or multicast.
func (d *Device) accept(dst []byte) bool {
	if dst[0]&1 != 0 {
		return true // group address: multicast or broadcast
	}
	return [6]byte(dst) == d.mac
}

// TxBatch implements idl.Net: it copies the frames of pkts, front to back,
// into free transmit buffers while there are any, marks each one sent
// (Len 0) and makes them available to the device with one write of the
// available index and at most one notification.
func (d *Device) TxBatch(queue uint16, pkts rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	if queue != 0 {
		return pkts, 0, ErrQueue
	}
	d.txMu.Lock()
	defer d.txMu.Unlock()
	q := d.tx
	d.reclaimTx()
	sent, long := 0, 0
	for k := range pkts.Len() {
		p := pkts.At(k) // in place: no ownership moves per packet
		switch {
		case p.Len == 0:
		case int(p.Len) > idl.MaxFrame:
			long++
		default:
			id, ok := q.take()
			if !ok {
				break // the ring is full: the packet keeps its frame
			}
			length := int(p.Len)
			if q.cells != nil {
				c := q.cells[id].Get()
				c.Len = 0 // sent before, or fresh: the caller's free buffer
				if length > d.cfg.CopyBreak && q.exchange(id, pkts, k, length) {
					p = c // element k now
				} else {
					copy(c.Data[:length], p.Data[:length])
				}
				q.addCell(id, length)
			} else {
				q.bufs[id].CopyIn(hdrLen, p.Data[:length])
				q.add(id, hdrLen+length)
			}
			p.Len = 0
			sent++
		}
	}
	if q.publish() {
		d.t.kick(q.notifyAt, q.index)
	}
	if long > 0 {
		d.txErrors.Add(uint64(long))
		return pkts, sent, fmt.Errorf("%w: %d frames of more than %d bytes", ErrFrameTooLong, long, idl.MaxFrame)
	}
	return pkts, sent, nil
}

// reclaimTx frees the transmit descriptors the device is done with and
// counts their frames as sent. txMu is held.
func (d *Device) reclaimTx() {
	q := d.tx
	n, bytes := 0, 0
	for {
		id, _, ok := q.nextUsed()
		if !ok {
			break
		}
		j, ok := q.slotOf(id)
		if !ok {
			d.txErrors.Add(1)
			continue
		}
		bytes += q.frameLen(j)
		q.release(j)
		n++
	}
	if n > 0 {
		d.txPackets.Add(uint64(n))
		d.txBytes.Add(uint64(bytes))
	}
}

// LinkStatus implements idl.Net: the link bit of the device's
// configuration (up when the device does not report it), its speed when
// it reports one (0 when unknown, as QEMU's is by default), and its
// address. A device that needs a reset is an error.
func (d *Device) LinkStatus() (idl.Link, error) {
	if st := d.t.status(); st&(statusNeedsReset|statusFailed) != 0 {
		return idl.Link{MAC: d.mac}, fmt.Errorf("%w: %s: status %#x", ErrDeviceFailed, d.fn.Addr(), st)
	}
	l := idl.Link{Up: true, MAC: d.mac}
	if d.features&featStatus != 0 && d.t.device.len >= netCfgMinLen {
		l.Up = d.t.device.read32(netCfgMAC+4)>>16&netStatusUp != 0
	}
	if l.Up && d.features&featSpeedDuplex != 0 && d.t.device.len >= netCfgSpeed+4 {
		if s := d.t.device.read32(netCfgSpeed); s != 0xffffffff {
			l.SpeedMbps = s
		}
	}
	return l, nil
}

// Stats implements idl.Net. The device keeps no counters: these are the
// driver's. Bytes are frame bytes (a virtual wire has no CRC); transmitted
// frames count once the device is done with them; RxMissed is always 0
// (the device does not say what it dropped).
func (d *Device) Stats() (idl.NetStats, error) {
	d.txMu.Lock()
	d.reclaimTx()
	d.txMu.Unlock()
	return idl.NetStats{
		RxPackets: d.rxPackets.Load(),
		RxBytes:   d.rxBytes.Load(),
		TxPackets: d.txPackets.Load(),
		TxBytes:   d.txBytes.Load(),
		RxErrors:  d.rxErrors.Load(),
		TxErrors:  d.txErrors.Load(),
	}, nil
}

// SetPromisc implements idl.Net. Without a control queue the device
// passes every frame, so the filter is the driver's (RxBatch).
func (d *Device) SetPromisc(on bool) error {
	d.promisc.Store(on)
	return nil
}

// Close resets the device: it stops using the driver's memory.
func (d *Device) Close() error { return d.reset() }

var _ idl.Net = (*Device)(nil)
