package dma

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// Pagemap translates virtual addresses of this process to physical ones
// through /proc/self/pagemap: 8 bytes per page at index va/pagesize, bits
// 0-54 the page frame number, bit 63 present. Without CAP_SYS_ADMIN the
// kernel reports frame 0 for every page.
type Pagemap struct {
	Path     string // default /proc/self/pagemap
	PageSize int    // the base page size of the pagemap's index (default 4096)
}

// Pagemap entry bits.
const (
	pmPresent   = 1 << 63
	pmFrameMask = 1<<55 - 1
)

// ErrNotPresent is wrapped by Translate's error for a page that is not in
// memory (never touched, or swapped out).
var ErrNotPresent = errors.New("page not present")

// ErrNoFrame is wrapped by Translate's error when the kernel hides frame
// numbers (the process lacks CAP_SYS_ADMIN).
var ErrNoFrame = errors.New("page frame number hidden (needs CAP_SYS_ADMIN)")

func (p Pagemap) path() string {
	if p.Path == "" {
		return "/proc/self/pagemap"
	}
	return p.Path
}

func (p Pagemap) pageSize() int {
	if p.PageSize == 0 {
		return 4096
	}
	return p.PageSize
}

// Translate returns the physical address of virtual address va.
func (p Pagemap) Translate(va uintptr) (uint64, error) {
	f, err := os.Open(p.path())
	if err != nil {
		return 0, fmt.Errorf("dma: pagemap: %w", err)
	}
	defer f.Close()
	return p.translate(f, va)
}

func (p Pagemap) translate(f *os.File, va uintptr) (uint64, error) {
	ps := uint64(p.pageSize())
	var e [8]byte
	if _, err := f.ReadAt(e[:], int64(uint64(va)/ps*8)); err != nil {
		return 0, fmt.Errorf("dma: pagemap %s: entry of %#x: %w", p.path(), va, err)
	}
	v := binary.LittleEndian.Uint64(e[:])
	if v&pmPresent == 0 {
		return 0, fmt.Errorf("dma: %#x: %w", va, ErrNotPresent)
	}
	frame := v & pmFrameMask
	if frame == 0 {
		return 0, fmt.Errorf("dma: %#x: %w", va, ErrNoFrame)
	}
	return frame*ps + uint64(va)%ps, nil
}

// TranslateRange returns the physical address of each page of the n bytes
// at va (page-aligned), in order.
func (p Pagemap) TranslateRange(va uintptr, n int) ([]uint64, error) {
	f, err := os.Open(p.path())
	if err != nil {
		return nil, fmt.Errorf("dma: pagemap: %w", err)
	}
	defer f.Close()
	ps := p.pageSize()
	out := make([]uint64, 0, (n+ps-1)/ps)
	for off := 0; off < n; off += ps {
		pa, err := p.translate(f, va+uintptr(off))
		if err != nil {
			return nil, err
		}
		out = append(out, pa)
	}
	return out, nil
}
