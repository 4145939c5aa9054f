//rl:domain

// Package blockdev is the bottom layer of the Rv6 file system: the block
// device interface the file system uses, and a RAM disk.
//
// The interface is batch-oriented because the devices behind it are: the
// IDL BlockDevice (idl.BlockDevice) that the RAM-disk and NVMe driver
// domains implement moves deques of RRef'd 4 KiB requests, each with its
// own block number. A Req is the same shape (a block number and a 4 KiB
// buffer), so an adapter from Device to idl.BlockDevice moves a batch
// request for request, splitting only at idl.BlockDeviceBatch; the file
// system hands it whole commits and whole read-aheads as single batches.
//
// Durability contract: a Write that returns nil has changed what later
// Reads return; the blocks are durable only after a later Flush returns
// nil. Each block is written atomically (all of it or none of it), but a
// batch is not: after a crash any subset of the blocks written since the
// last Flush may have reached the medium, in any order.
package blockdev

import "fmt"

// BlockSize is the size of a block in bytes, the file system's and the
// IDL's (idl.BlockSize).
const BlockSize = 4096

// A Block is the contents of one block.
type Block = [BlockSize]byte

// A Req is one request of a batch: block number LBA and its data. For a
// Read the device fills *Data; for a Write it reads *Data.
type Req struct {
	LBA  uint64
	Data *Block
}

// Device is a block device of BlockSize blocks.
//
// Implementations must be safe for concurrent use, and must not use a
// request's Data after the call returns (the caller reuses it). The file
// system never has two requests for the same block in flight at once.
type Device interface {
	// NumBlocks is the number of blocks on the device.
	NumBlocks() uint64
	// Read fills the Data of each request with block LBA.
	Read(reqs []Req) error
	// Write writes the Data of each request to block LBA.
	Write(reqs []Req) error
	// Flush returns when every Write that returned before it is durable.
	Flush() error
}

// A RangeError is returned for a request beyond the end of a device.
type RangeError struct {
	LBA       uint64
	NumBlocks uint64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("block %d is beyond the end of the device (%d blocks)", e.LBA, e.NumBlocks)
}

// CheckRange returns a *RangeError for the first request of reqs beyond n
// blocks.
func CheckRange(reqs []Req, n uint64) error {
	for _, r := range reqs {
		if r.LBA >= n {
			return &RangeError{LBA: r.LBA, NumBlocks: n}
		}
	}
	return nil
}

// ReadBlock reads one block into a new buffer.
func ReadBlock(d Device, lba uint64) (*Block, error) {
	b := new(Block)
	if err := d.Read([]Req{{LBA: lba, Data: b}}); err != nil {
		return nil, err
	}
	return b, nil
}

// WriteBlock writes one block.
func WriteBlock(d Device, lba uint64, b *Block) error {
	return d.Write([]Req{{LBA: lba, Data: b}})
}
