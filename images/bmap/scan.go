package bmap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// Create maps the sparse image file at image with Scan, checksums the
// ranges and writes the map to bmapPath (atomically) in bmaptool's
// format. `rlbuild image` calls it as
//
//	bmap.Create(dir+"/disk.img", dir+"/disk.img.bmap")
func Create(image, bmapPath string) (*Map, error) {
	f, err := os.Open(image)
	if err != nil {
		return nil, fmt.Errorf("bmap: %w", err)
	}
	defer f.Close()
	m, err := Scan(f)
	if err != nil {
		return nil, err
	}
	if err := m.Checksum(f); err != nil {
		return nil, err
	}
	if err := m.WriteFile(bmapPath); err != nil {
		return nil, err
	}
	return m, nil
}

// Scan maps the data of a sparse file with SEEK_DATA and SEEK_HOLE, in
// blocks of DefaultBlockSize. The ranges have no checksums (see
// Checksum). On file systems without hole support every block is mapped,
// as it is when the operating system cannot seek to holes.
func Scan(f *os.File) (*Map, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bmap: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("bmap: %s is not a regular file", f.Name())
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%w: %s", errEmpty, f.Name())
	}
	m := &Map{ImageSize: st.Size(), BlockSize: DefaultBlockSize}
	extents, err := dataExtents(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("bmap: mapping %s: %w", f.Name(), err)
	}
	for _, e := range extents {
		m.add(e[0]/m.BlockSize, (e[1]+m.BlockSize-1)/m.BlockSize-1)
	}
	return m, nil
}

// add appends the blocks first..last, merging them into the last range
// when they overlap or touch it. Callers add in ascending order.
func (m *Map) add(first, last int64) {
	if n := len(m.Ranges); n > 0 && first <= m.Ranges[n-1].Last+1 {
		m.Ranges[n-1].Last = max(m.Ranges[n-1].Last, last)
		return
	}
	m.Ranges = append(m.Ranges, Range{First: first, Last: last})
}

// FromReader maps the blocks of a stream that are not all zeros, e.g. a
// decompressed image, with their checksums. Zero blocks count as holes,
// whether or not the file the stream came from stores them.
func FromReader(r io.Reader, blockSize int64) (*Map, error) {
	if blockSize <= 0 {
		blockSize = DefaultBlockSize
	}
	m := &Map{BlockSize: blockSize}
	buf := make([]byte, max(1<<20/blockSize, 1)*blockSize)
	var h hash.Hash
	var off int64 // bytes read so far
	flush := func() {
		if h != nil {
			m.Ranges[len(m.Ranges)-1].SHA256 = hex.EncodeToString(h.Sum(nil))
			h = nil
		}
	}
	for {
		n, err := io.ReadFull(r, buf)
		for i := 0; i < n; i += int(blockSize) {
			block := buf[i:min(i+int(blockSize), n)]
			if allZero(block) {
				flush()
			} else {
				if h == nil {
					h = sha256.New()
					m.Ranges = append(m.Ranges, Range{First: off / blockSize})
				}
				m.Ranges[len(m.Ranges)-1].Last = off / blockSize
				h.Write(block)
			}
			off += int64(len(block))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bmap: reading the image at byte %d: %w", off, err)
		}
	}
	flush()
	m.ImageSize = off
	if off == 0 {
		return nil, errEmpty
	}
	return m, nil
}

var zeros = make([]byte, 64<<10)

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
