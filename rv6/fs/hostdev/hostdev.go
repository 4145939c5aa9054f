// Package hostdev is a block device backed by a file of the host: the
// device the host tools (mkfs, fsck, ls, cat of images) run the file
// system on. It uses package os, so it is host-only, not a domain.
package hostdev

import (
	"errors"
	"fmt"
	"os"

	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// Options configure a File.
type Options struct {
	ReadOnly bool
	// NoSync makes Flush a no-op (Close still syncs): for building an
	// image, where a crash means starting over anyway and an fsync per
	// commit would only cost time.
	NoSync bool
}

// A File is a block device in a host file, whose size is a whole number
// of blocks.
type File struct {
	f    *os.File
	n    uint64
	opts Options
}

// Open opens an existing image.
func Open(path string, opts Options) (*File, error) {
	flag := os.O_RDWR
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size()%blockdev.BlockSize != 0 {
		f.Close()
		return nil, fmt.Errorf("hostdev: %s: size %d is not a whole number of %d-byte blocks", path, fi.Size(), blockdev.BlockSize)
	}
	return &File{f: f, n: uint64(fi.Size()) / blockdev.BlockSize, opts: opts}, nil
}

// Create creates (or truncates) an image of size bytes, a whole number of
// blocks, as a sparse file: every block reads as zeros.
func Create(path string, size int64, opts Options) (*File, error) {
	if size <= 0 || size%blockdev.BlockSize != 0 {
		return nil, fmt.Errorf("hostdev: size %d is not a positive whole number of %d-byte blocks", size, blockdev.BlockSize)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, n: uint64(size) / blockdev.BlockSize, opts: opts}, nil
}

// NumBlocks is the size of the image in blocks.
func (d *File) NumBlocks() uint64 { return d.n }

// Read reads blocks.
func (d *File) Read(reqs []blockdev.Req) error {
	if err := blockdev.CheckRange(reqs, d.n); err != nil {
		return err
	}
	for _, r := range reqs {
		if _, err := d.f.ReadAt(r.Data[:], int64(r.LBA)*blockdev.BlockSize); err != nil {
			return fmt.Errorf("hostdev: reading block %d: %w", r.LBA, err)
		}
	}
	return nil
}

// Write writes blocks.
func (d *File) Write(reqs []blockdev.Req) error {
	if d.opts.ReadOnly {
		return errors.New("hostdev: the image is open read-only")
	}
	if err := blockdev.CheckRange(reqs, d.n); err != nil {
		return err
	}
	for _, r := range reqs {
		if _, err := d.f.WriteAt(r.Data[:], int64(r.LBA)*blockdev.BlockSize); err != nil {
			return fmt.Errorf("hostdev: writing block %d: %w", r.LBA, err)
		}
	}
	return nil
}

// Flush syncs the file (unless NoSync).
func (d *File) Flush() error {
	if d.opts.ReadOnly || d.opts.NoSync {
		return nil
	}
	return d.f.Sync()
}

// Close syncs (if writable) and closes the file.
func (d *File) Close() error {
	var err error
	if !d.opts.ReadOnly {
		err = d.f.Sync()
	}
	return errors.Join(err, d.f.Close())
}
