package virtionet

import "errors"

// Errors the driver reports; what it returns wraps them, with what failed.
var (
	// ErrNoDevice: the domain was granted no PCI function.
	ErrNoDevice = errors.New("virtio-net: no PCI function granted (grant a virtionet.Function under \"pci\")")
	// ErrNotModern: the device lacks the virtio 1.0 (modern) interface
	// the driver uses: its capabilities, or the VERSION_1 feature.
	ErrNotModern = errors.New("virtio-net: not a modern (virtio 1.0) device")
	// ErrTimeout: the device did not reach a state in time.
	ErrTimeout = errors.New("virtio-net: timed out")
	// ErrDeviceFailed: the device set DEVICE_NEEDS_RESET or refused
	// something the driver asked for.
	ErrDeviceFailed = errors.New("virtio-net: device failed")
	// ErrQueue: a queue number other than 0 (the driver runs one pair).
	ErrQueue = errors.New("virtio-net: no such queue (the driver has queue 0 only)")
	// ErrFrameTooLong: a frame longer than idl.MaxFrame was not sent.
	ErrFrameTooLong = errors.New("virtio-net: frame longer than the maximum was not sent")
	// ErrPool: the granted packet pool cannot fill the queues (too few
	// cells, or no account to own them).
	ErrPool = errors.New("virtio-net: packet pool")
)
