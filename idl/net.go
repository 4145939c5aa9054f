package idl

import "github.com/rlgo/redleaf/kernel/rref"

// PacketSize is the capacity of a packet buffer: one 2 KiB receive buffer
// of a NIC.
const PacketSize = 2048

// MaxFrame is the longest frame a Net sends, in bytes: an Ethernet header
// and a 1500-byte payload (the NIC appends the CRC).
const MaxFrame = 1514

// A Packet is one packet buffer on the shared heap: a frame of Len bytes
// (without its CRC) at the start of Data. Len 0 marks a free buffer.
type Packet struct {
	Len  uint16
	Data [PacketSize]byte
}

// NetBatch is the largest batch a Net must accept in one call.
const NetBatch = 256

// Link is the state of a NIC's link.
type Link struct {
	Up        bool
	SpeedMbps uint32  // 10000, 1000, 100; 0 when down
	MAC       [6]byte // the NIC's own address
}

// NetStats are a NIC's counters since it was brought up.
type NetStats struct {
	RxPackets uint64 // good packets received (device)
	RxBytes   uint64 // their octets, CRC included (device)
	TxPackets uint64 // good packets sent (device)
	TxBytes   uint64 // their octets, CRC included (device)
	RxMissed  uint64 // dropped by the device: no free descriptor or buffer space
	RxErrors  uint64 // CRC and length errors (device), bad descriptors (driver)
	TxErrors  uint64 // packets the driver refused (too long)
}

// Net is a network interface: a NIC driver domain (ixgbe, virtio-net) or
// anything standing in for one. Packets move in batches, in deques of
// Packet buffers that the caller owns: a call moves the deque in and back,
// one compare-and-swap for the whole batch, and no packet is copied between
// domains. Queues are numbered from 0; each is served by one caller at a
// time (the driver serializes calls on the same queue).
//
// A driver with a packet pool in DMA memory (kernel/dma.CellPool) does not
// copy frames at all: it exchanges buffers. A buffer it filled or sent may
// come back as a different cell in the same place of the deque; the
// caller's own cell went into the NIC's ring, and any handle or pointer
// the caller kept to it is no longer the caller's to use.
type Net interface {
	// RxBatch fills the free buffers (Len 0) of bufs, front to back, with
	// packets received on queue, in arrival order, and returns the deque
	// (as many buffers, in the same order; a filled one may be another
	// cell, exchanged for the free one) and how many it filled. Buffers
	// that already hold a packet are left alone.
	RxBatch(queue uint16, bufs rref.Deque[Packet]) (rref.Deque[Packet], int, error)
	// TxBatch queues the packets of pkts (those with Len > 0), front to
	// back, while queue's ring has room, and returns the deque (as many
	// buffers, in the same order) and how many it queued. A queued
	// packet's buffer gets Len 0, or is exchanged for a free one: either
	// way it is free for reuse at once. Packets still holding a frame did
	// not fit and can be sent again; a frame longer than MaxFrame is never
	// sent and makes the call's error.
	TxBatch(queue uint16, pkts rref.Deque[Packet]) (rref.Deque[Packet], int, error)
	// LinkStatus reads the link state.
	LinkStatus() (Link, error)
	// Stats reads the counters.
	Stats() (NetStats, error)
	// SetPromisc switches promiscuous mode (every unicast and multicast
	// frame accepted) on or off.
	//
	//idl:init
	SetPromisc(on bool) error
}

// Port is the kernel's control of one NIC port (a driver domain behind a
// shadow, on a real NIC or on a model of one): what only the kernel can do
// to the port and its wire. The kernel exports one per port, beside the
// port's Net, for the programs that measure and test it.
type Port interface {
	// Info describes the port.
	Info() (PortInfo, error)
	// Generate makes the port's model deliver frames of size bytes into
	// every free RX descriptor from now on (size 0: stop). It fails on a
	// real NIC, whose traffic is the wire's.
	Generate(size int32) error
	// Loopback restarts the port's driver through its shadow in MAC
	// loopback (on) or back in normal operation; the new instance gets its
	// configuration replayed. It returns the port as it is afterwards.
	Loopback(on bool) (PortInfo, error)
}

// PortInfo describes a NIC port.
type PortInfo struct {
	Name  string // the port's domain: ixgbe0
	Where string // "82599 model (8086:10fb)", "0000:03:00.0 (8086:10fb, ...)"
	Model bool   // a model of the device, whose wire the kernel sees
	// Instance is the driver's current domain; Restarts counts its
	// shadow's restarts; LastRestart says how the last one went ("config
	// replayed", or why it failed; "" before any).
	Instance    uint32
	Restarts    int32
	LastRestart string
	// Delivered and Sent count the frames the model put into the RX ring
	// and took off the TX ring, ever (0 on a real NIC).
	Delivered uint64
	Sent      uint64
}
