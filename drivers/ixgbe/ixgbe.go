//rl:domain

// Package ixgbe is the driver domain of the Intel 82599 10 GbE controller
// (and the X520/X540 adapters that share its registers; see Models): it
// brings up the NIC it was granted (an hw.PCIDevice, under GrantPCI) and
// serves it as an idl.Net.
//
// Bring-up follows the datasheet (4.6.3) in ixy's order: interrupts masked,
// global reset, EEPROM auto-read and DMA init awaited, link mode set and
// autonegotiation restarted, the clear-on-read statistics read once, then
// receive (packet buffer, CRC strip, broadcast, advanced one-buffer
// descriptors with drop enable, the rings) and transmit (CRC and padding,
// packet buffer, arbiter, the rings), each queue enabled and its enable bit
// awaited. Every wait is bounded (Config.Timeout) and its failure names the
// register and bit: nothing hangs.
//
// The fast path moves packets in batches and reads no register: a
// descriptor is done when its DD bit is set in memory, and the tail
// register is written once per batch. Nothing is allocated per packet.
// Granted a packet pool (GrantPackets: cells of the shared heap in the
// NIC's DMA memory, kernel/dma.CellPool), each descriptor holds a cell of
// it and packets are never copied: RX hands the cell the NIC wrote to the
// caller in exchange for the caller's free one, TX puts the caller's cell
// in the ring in exchange for a sent one (see ring). Without a pool each
// descriptor has its own DMA buffer and a packet is copied once, between
// that buffer and the caller's RRef'd idl.Packet; never between domains.
//
// Behind a shadow (kernel/shadow), a dead instance is replaced by one that
// resets the NIC and replays SetPromisc; packets in the rings of the dead
// instance are lost, and the device's counters start again.
package ixgbe

import (
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name the driver registers under.
const Kind = "ixgbe"

// Grant names.
const (
	GrantPCI    = "pci"        // the NIC, an hw.PCIDevice (required)
	GrantConfig = "config"     // a Config (optional)
	GrantFaults = faults.Grant // a faults.Device (optional)
	GrantMode   = "mode"       // a *Mode (optional): MAC loopback if set when the instance starts
	// GrantPackets is the NIC's packet pool, an hw.CellPool[idl.Packet]
	// over the same device's DMA memory (optional: zero-copy rings).
	GrantPackets = "packets"
)

func init() {
	domain.Register(Kind, New)
}

// NIC implements idl.Net over a Device.
type NIC struct {
	ctx    *domain.Context
	d      *Device
	faults faults.Device
}

// New is the constructor of the domain: it brings up the NIC it was
// granted.
func New(ctx *domain.Context) (idl.Net, error) {
	dev, err := domain.Device[hw.PCIDevice](ctx, GrantPCI)
	if err != nil || dev == nil {
		return nil, ErrNoDevice
	}
	cfg, _ := domain.Device[Config](ctx, GrantConfig)
	if mode, _ := domain.Device[*Mode](ctx, GrantMode); mode != nil && mode.Loopback() {
		cfg.Loopback = true
	}
	hooks := Hooks{Check: ctx.Check, Sleep: ctx.Sleep}
	if pool, _ := domain.Device[hw.CellPool[idl.Packet]](ctx, GrantPackets); pool != nil {
		hooks.Packets, hooks.Heap = pool, ctx.Heap()
	}
	d, err := Open(dev, cfg, hooks)
	if err != nil {
		return nil, err
	}
	return NewNIC(ctx, d), nil
}

// NewNIC serves d as an idl.Net; ctx may be nil (no fault points).
func NewNIC(ctx *domain.Context, d *Device) *NIC {
	n := &NIC{ctx: ctx, d: d}
	if ctx != nil {
		n.faults = faults.From(ctx)
	}
	return n
}

func (n *NIC) point() {
	if n.faults != nil {
		n.faults.Point(n.ctx)
	}
}

// Device is the NIC's device.
func (n *NIC) Device() *Device { return n.d }

// RxBatch implements idl.Net.
func (n *NIC) RxBatch(queue uint16, bufs rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	n.point()
	k, err := n.d.Receive(int(queue), bufs)
	return bufs, k, err
}

// TxBatch implements idl.Net.
func (n *NIC) TxBatch(queue uint16, pkts rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	n.point()
	k, err := n.d.Send(int(queue), pkts)
	return pkts, k, err
}

// LinkStatus implements idl.Net.
func (n *NIC) LinkStatus() (idl.Link, error) {
	n.point()
	return n.d.Link(), nil
}

// Stats implements idl.Net.
func (n *NIC) Stats() (idl.NetStats, error) {
	n.point()
	return n.d.Stats(), nil
}

// SetPromisc implements idl.Net.
func (n *NIC) SetPromisc(on bool) error {
	n.point()
	n.d.SetPromisc(on)
	return nil
}

var _ idl.Net = (*NIC)(nil)
