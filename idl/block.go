package idl

import "github.com/rlgo/redleaf/kernel/rref"

// BlockSize is the size of a block, in bytes.
const BlockSize = 4096

// A Block is the payload of one block.
type Block [BlockSize]byte

// A BlockReq is one request of a batch: which block, its data, and how it
// went.
type BlockReq struct {
	LBA    uint64      // block number
	Status BlockStatus // set by the device
	Data   Block
}

// BlockStatus is the outcome of one BlockReq.
type BlockStatus uint32

const (
	BlockOK         BlockStatus = iota // done
	BlockOutOfRange                    // LBA beyond the device
	BlockIOError                       // the device failed the request
)

// BlockDeviceBatch is the largest batch a BlockDevice must accept.
const BlockDeviceBatch = 128

// BlockDevice is a block device: a driver domain (NVMe, ramdisk) or
// anything standing in for one. Requests move in batches: the caller moves a
// deque of requests in, the device processes each one, setting its Status,
// and moves the deque back. The data never is copied between domains.
type BlockDevice interface {
	// BlockSize is the device's block size in bytes (BlockSize).
	BlockSize() (uint32, error)
	// NumBlocks is the number of blocks on the device.
	NumBlocks() (uint64, error)
	// Read fills each request's Data with block LBA.
	Read(batch rref.Deque[BlockReq]) (rref.Deque[BlockReq], error)
	// Write writes each request's Data to block LBA.
	Write(batch rref.Deque[BlockReq]) (rref.Deque[BlockReq], error)
	// Flush returns when every completed write is durable.
	Flush() error
}
