// Package bmap reads and writes block maps in bmaptool's XML format
// (format version 2.0, SHA-256 checksums). A block map lists the blocks
// of a sparse disk image that hold data, with a checksum per range of
// blocks: a flasher writes only those blocks and checks them, and the
// rest of the image, holes that read as zeros, is never copied.
//
// `rlbuild image` writes disk.img.bmap next to disk.img with Create;
// `rlbuild flash` reads it with Load, and bmaptool (Debian bmap-tools)
// accepts it too: `bmaptool copy --bmap disk.img.bmap disk.img /dev/sdX`.
// Maps of images without a bmap file come from Scan (SEEK_DATA/SEEK_HOLE
// on a sparse file) or FromReader (zero blocks of a stream).
package bmap

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Version is the bmap format version this package writes: bmaptool's
// current one. Parse reads versions 1.4 and 2.x.
const Version = "2.0"

// DefaultBlockSize is the block size of the maps this package makes: the
// block size of the common Linux file systems, so that a hole in the
// image file is a whole number of blocks.
const DefaultBlockSize = 4096

// ChecksumSHA256 is the checksum type of the maps this package writes and
// the only one Parse accepts.
const ChecksumSHA256 = "sha256"

// Map is the block map of an image: which blocks hold data.
//
// Invariants (checked by Parse and Validate): BlockSize > 0; the ranges
// are sorted, do not overlap and lie within the image's blocks.
type Map struct {
	// ImageSize is the size of the image in bytes. The last block may be
	// partial.
	ImageSize int64
	// BlockSize is the size of a block in bytes.
	BlockSize int64
	// Ranges are the mapped blocks, in ascending order.
	Ranges []Range
}

// Range is a run of mapped blocks.
type Range struct {
	// First and Last are block numbers, inclusive.
	First, Last int64
	// SHA256 is the hex SHA-256 of the range's bytes (of the image's
	// bytes only, when the range ends in the image's partial last block),
	// or "" when the map has no checksum for it.
	SHA256 string
}

// Blocks returns the number of blocks of the range.
func (r Range) Blocks() int64 { return r.Last - r.First + 1 }

// BlocksCount returns the number of blocks of the image, the last one
// possibly partial.
func (m *Map) BlocksCount() int64 {
	if m.BlockSize <= 0 {
		return 0
	}
	return (m.ImageSize + m.BlockSize - 1) / m.BlockSize
}

// MappedBlocks returns the number of mapped blocks.
func (m *Map) MappedBlocks() int64 {
	var n int64
	for _, r := range m.Ranges {
		n += r.Blocks()
	}
	return n
}

// MappedBytes returns the number of image bytes in mapped blocks.
func (m *Map) MappedBytes() int64 {
	var n int64
	for _, r := range m.Ranges {
		off, end := m.Span(r)
		n += end - off
	}
	return n
}

// Span returns the byte offsets [off, end) of r in the image; end is
// clipped to the image size.
func (m *Map) Span(r Range) (off, end int64) {
	off = r.First * m.BlockSize
	end = min((r.Last+1)*m.BlockSize, m.ImageSize)
	return off, end
}

// Describe names a range for messages: its blocks and bytes.
func (m *Map) Describe(r Range) string {
	off, end := m.Span(r)
	blocks := fmt.Sprintf("block %d", r.First)
	if r.Last != r.First {
		blocks = fmt.Sprintf("blocks %d-%d", r.First, r.Last)
	}
	return fmt.Sprintf("%s (bytes %d-%d)", blocks, off, end-1)
}

// HasChecksums reports whether every range has a checksum.
func (m *Map) HasChecksums() bool {
	for _, r := range m.Ranges {
		if r.SHA256 == "" {
			return false
		}
	}
	return true
}

// Validate checks the map's invariants.
func (m *Map) Validate() error {
	if m.BlockSize <= 0 {
		return fmt.Errorf("bmap: block size %d is not positive", m.BlockSize)
	}
	if m.ImageSize < 0 {
		return fmt.Errorf("bmap: image size %d is negative", m.ImageSize)
	}
	blocks := m.BlocksCount()
	next := int64(0) // first block the next range may start at
	for i, r := range m.Ranges {
		switch {
		case r.First > r.Last:
			return fmt.Errorf("bmap: range %d-%d ends before it starts", r.First, r.Last)
		case r.First < next:
			return fmt.Errorf("bmap: range %d-%d overlaps or precedes range %d", r.First, r.Last, i)
		case r.Last >= blocks:
			return fmt.Errorf("bmap: range %d-%d lies beyond the image's %d blocks", r.First, r.Last, blocks)
		}
		if r.SHA256 != "" {
			if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != sha256.Size {
				return fmt.Errorf("bmap: range %d-%d: checksum %q is not a hex SHA-256", r.First, r.Last, r.SHA256)
			}
		}
		next = r.Last + 1
	}
	return nil
}

// Checksum sets the SHA-256 of every range from the image's bytes.
func (m *Map) Checksum(image io.ReaderAt) error {
	buf := make([]byte, 1<<20)
	for i := range m.Ranges {
		r := &m.Ranges[i]
		off, end := m.Span(*r)
		h := sha256.New()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(image, off, end-off), buf); err != nil {
			return fmt.Errorf("bmap: reading %s: %w", m.Describe(*r), err)
		}
		r.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	return nil
}

// Verify checks the image's bytes in every range that has a checksum and
// returns a *MismatchError naming the first range that differs.
func (m *Map) Verify(image io.ReaderAt) error {
	buf := make([]byte, 1<<20)
	for _, r := range m.Ranges {
		if r.SHA256 == "" {
			continue
		}
		off, end := m.Span(r)
		h := sha256.New()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(image, off, end-off), buf); err != nil {
			return fmt.Errorf("bmap: reading %s: %w", m.Describe(r), err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != r.SHA256 {
			return &MismatchError{Range: r, Where: m.Describe(r), Got: got}
		}
	}
	return nil
}

// MismatchError is a range whose bytes do not have the map's checksum.
type MismatchError struct {
	Range Range
	Where string // Describe(Range)
	Got   string // hex SHA-256 of the bytes found
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("bmap: %s has SHA-256 %s, the block map says %s", e.Where, e.Got, e.Range.SHA256)
}

// errEmpty is returned for images of size 0, which bmaptool refuses too.
var errEmpty = errors.New("bmap: the image is empty")
