//rl:domain

// Package virtionet is the virtio-net driver domain: it drives the
// virtio-net device it was granted (QEMU's virtio-net-pci, transitional
// 1af4:1000 or modern 1af4:1041) through the virtio 1.0 (modern) PCI
// transport, and serves it as an idl.Net with one queue.
//
// The transport is found through the virtio capabilities in the PCI
// configuration space and reached through memory BARs only (the legacy
// interface lives in an I/O BAR, which cannot be mapped); see transport.go
// for how narrow fields are reached with 32-bit register accesses.
// Bring-up resets the device first, so it is safe from whatever state a
// dead instance (or Linux) left it in, negotiates VERSION_1, MAC, STATUS
// and SPEED_DUPLEX (no offloads, no mergeable buffers: a frame is one
// buffer), sets up one receive and one transmit split virtqueue, and posts
// every receive buffer.
//
// Packets move in batches of RRef'd idl.Packet buffers owned by the
// caller. Granted a packet pool (GrantPackets: cells of the shared heap in
// the function's DMA memory, kernel/dma.CellPool), each packet slot of a
// queue is a chain of two descriptors, its virtio-net header and the Data
// of a cell of the pool, and frames are never copied: RX hands up the cell
// the device wrote in exchange for the caller's free one, TX puts the
// caller's cell in the queue in exchange for a sent one (see queue). A
// queue then holds half as many packets as it has descriptors. Without a
// pool each descriptor has its own 2 KiB DMA buffer, allocated at
// bring-up, and a frame is copied once between it and the caller's
// packet. Nothing is allocated per packet. The available index is written
// and the device notified (only if it asks to be) once per batch, and
// completions are found in memory (the used ring), never by reading a
// register. The driver polls: interrupts are off.
package virtionet

import (
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name the driver registers under.
const Kind = "virtio-net"

// Grant names.
const (
	GrantPCI    = "pci"        // the device, a Function (required)
	GrantConfig = "config"     // a Config (optional)
	GrantFaults = faults.Grant // a faults.Device (optional)
	// GrantPackets is the device's packet pool, an hw.CellPool[idl.Packet]
	// over the same function's DMA memory (optional: zero-copy queues).
	GrantPackets = "packets"
)

func init() {
	domain.Register(Kind, New)
}

// NIC is the domain's idl.Net: a Device, with the kernel's fault
// injection points on every call.
type NIC struct {
	ctx    *domain.Context
	dev    *Device
	faults faults.Device
}

// New is the constructor of the domain: it brings up the device it was
// granted.
func New(ctx *domain.Context) (idl.Net, error) {
	fn, err := domain.Device[Function](ctx, GrantPCI)
	if err != nil || fn == nil {
		return nil, ErrNoDevice
	}
	cfg, _ := domain.Device[Config](ctx, GrantConfig)
	hooks := Hooks{Check: ctx.Check, Sleep: ctx.Sleep}
	if pool, _ := domain.Device[hw.CellPool[idl.Packet]](ctx, GrantPackets); pool != nil {
		hooks.Packets, hooks.Heap = pool, ctx.Heap()
	}
	d, err := Open(fn, cfg, hooks)
	if err != nil {
		return nil, err
	}
	m := d.MAC()
	ctx.Logf("%s: %02x:%02x:%02x:%02x:%02x:%02x, queues of %d", fn.Addr(), m[0], m[1], m[2], m[3], m[4], m[5], d.QueueSize())
	return &NIC{ctx: ctx, dev: d, faults: faults.From(ctx)}, nil
}

func (n *NIC) point() {
	if n.faults != nil {
		n.faults.Point(n.ctx)
	}
}

// RxBatch implements idl.Net.
func (n *NIC) RxBatch(queue uint16, bufs rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	n.point()
	return n.dev.RxBatch(queue, bufs)
}

// TxBatch implements idl.Net.
func (n *NIC) TxBatch(queue uint16, pkts rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	n.point()
	return n.dev.TxBatch(queue, pkts)
}

// LinkStatus implements idl.Net.
func (n *NIC) LinkStatus() (idl.Link, error) {
	n.point()
	return n.dev.LinkStatus()
}

// Stats implements idl.Net.
func (n *NIC) Stats() (idl.NetStats, error) {
	n.point()
	return n.dev.Stats()
}

// SetPromisc implements idl.Net.
func (n *NIC) SetPromisc(on bool) error {
	n.point()
	return n.dev.SetPromisc(on)
}
