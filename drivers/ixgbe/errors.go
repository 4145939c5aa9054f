package ixgbe

import "errors"

// Errors the driver reports. Device errors wrap them, with what failed.
var (
	// ErrTimeout: the device did not reach a state in time (reset,
	// EEPROM auto-read, DMA init, queue enable, link). The error names the
	// register and bit waited for.
	ErrTimeout = errors.New("ixgbe: timed out")
	// ErrNoDevice: the domain was granted no PCI device.
	ErrNoDevice = errors.New("ixgbe: no PCI device granted (grant an hw.PCIDevice under \"pci\")")
	// ErrUnsupported: the PCI function is not one of Models.
	ErrUnsupported = errors.New("ixgbe: not an 82599-family device")
	// ErrQueue: a queue number beyond the queues brought up.
	ErrQueue = errors.New("ixgbe: no such queue")
	// ErrFrameSize: a frame longer than idl.MaxFrame was not sent.
	ErrFrameSize = errors.New("ixgbe: frame longer than idl.MaxFrame not sent")
	// ErrConfig: a Config value the device cannot take.
	ErrConfig = errors.New("ixgbe: bad configuration")
	// ErrSelfTest: the self test saw traffic or counters it did not expect.
	ErrSelfTest = errors.New("ixgbe: self test failed")
	// ErrPool: the granted packet pool cannot fill the rings (too few
	// cells, or no account to own them).
	ErrPool = errors.New("ixgbe: packet pool")
)
