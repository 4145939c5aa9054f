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
type Net interface {
	// RxBatch fills the free buffers (Len 0) of bufs, front to back, with
	// packets received on queue, in arrival order, and returns the deque
	// (the same buffers, in the same order) and how many it filled.
	// Buffers that already hold a packet are left alone.
	RxBatch(queue uint16, bufs rref.Deque[Packet]) (rref.Deque[Packet], int, error)
	// TxBatch queues the packets of pkts (those with Len > 0), front to
	// back, while queue's ring has room, and returns the deque (the same
	// buffers, in the same order) and how many it queued. A queued
	// packet's buffer gets Len 0: it is free for reuse at once. Packets
	// still holding a frame did not fit and can be sent again; a frame
	// longer than MaxFrame is never sent and makes the call's error.
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
