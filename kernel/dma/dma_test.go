package dma

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// writePagemap writes a pagemap file with entries at the page indexes of
// frames (0 means not present).
func writePagemap(t *testing.T, base uintptr, frames []uint64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pagemap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, fr := range frames {
		var e [8]byte
		if fr != 0 {
			binary.LittleEndian.PutUint64(e[:], pmPresent|fr)
		}
		if _, err := f.WriteAt(e[:], int64(uint64(base)/4096+uint64(i))*8); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestPagemapTranslate(t *testing.T) {
	const base = 0x7f00_0000
	pm := Pagemap{Path: writePagemap(t, base, []uint64{0x1234, 0, 0x55})}
	pa, err := pm.Translate(base + 0x10)
	if err != nil || pa != 0x1234*4096+0x10 {
		t.Fatalf("Translate: %#x %v", pa, err)
	}
	if _, err := pm.Translate(base + 4096); !errors.Is(err, ErrNotPresent) {
		t.Errorf("absent page: %v", err)
	}
	pages, err := pm.TranslateRange(base+2*4096, 4096)
	if err != nil || len(pages) != 1 || pages[0] != 0x55*4096 {
		t.Errorf("TranslateRange: %x %v", pages, err)
	}
	if _, err := pm.TranslateRange(base, 3*4096); !errors.Is(err, ErrNotPresent) {
		t.Errorf("range over an absent page: %v", err)
	}
	// Present with frame 0: what an unprivileged reader sees.
	p := filepath.Join(t.TempDir(), "pm0")
	var e [8]byte
	binary.LittleEndian.PutUint64(e[:], pmPresent)
	os.WriteFile(p, e[:], 0o644)
	if _, err := (Pagemap{Path: p}).Translate(0); !errors.Is(err, ErrNoFrame) {
		t.Errorf("hidden frame: %v", err)
	}
}

// fakeSource hands out Go memory with the page frames given.
type fakeSource struct {
	frames [][]uint64
	maps   int
}

func (s *fakeSource) Map(n int) (Chunk, error) {
	if s.maps >= len(s.frames) {
		return Chunk{}, errors.New("no more")
	}
	fr := s.frames[s.maps]
	s.maps++
	c := Chunk{Mem: make([]byte, len(fr)*4096), PageSize: 4096}
	for _, f := range fr {
		c.Phys = append(c.Phys, f*4096)
	}
	return c, nil
}

func TestAllocatorInvariants(t *testing.T) {
	// Pages 0-1 adjacent, 2 elsewhere, 3-5 adjacent.
	src := &fakeSource{frames: [][]uint64{{10, 11, 40, 70, 71, 72}, {100, 101, 102, 103}}}
	a := New(src, 4096)
	check := func(size, align int) uint64 {
		t.Helper()
		b, err := a.Alloc(size, align)
		if err != nil {
			t.Fatalf("Alloc(%d, %d): %v", size, align, err)
		}
		if b.Len() != size || b.Phys()%uint64(max(align, 64)) != 0 {
			t.Fatalf("Alloc(%d, %d): len %d phys %#x", size, align, b.Len(), b.Phys())
		}
		return b.Phys()
	}
	if pa := check(100, 64); pa != 10*4096 {
		t.Errorf("first: %#x", pa)
	}
	// 8 KiB page-aligned: pages 0-1 are taken in part; 1-2 are not adjacent;
	// 3-4 are.
	if pa := check(8192, 4096); pa != 70*4096 {
		t.Errorf("8 KiB: %#x, want page 70", pa)
	}
	// 12 KiB: page 5 is left in chunk 0; a fresh chunk holds it.
	if pa := check(12288, 4096); pa != 100*4096 {
		t.Errorf("12 KiB: %#x", pa)
	}
	// The allocator bumps: what it skipped stays free until Reset; the last
	// page of chunk 0 still fits 4 KiB.
	if pa := check(4096, 4096); pa != 72*4096 {
		t.Errorf("4 KiB: %#x", pa)
	}
	if _, err := a.Alloc(5*4096, 4096); !errors.Is(err, ErrExhausted) {
		t.Errorf("too big: %v", err)
	}
	if _, err := a.Alloc(4096, 3000); err == nil {
		t.Error("alignment not a power of two accepted")
	}
	a.Reset()
	if a.InUse() != 0 {
		t.Errorf("InUse after Reset: %d", a.InUse())
	}
}

func TestAllocatorZeroesAndContiguous(t *testing.T) {
	mem := make([]byte, 1<<16)
	a := NewContiguous(mem, 1<<20)
	b, _ := a.Alloc(4096, 4096)
	b.Put64(8, 0xdeadbeef)
	a.Reset()
	b2, _ := a.Alloc(4096, 4096)
	if b2.Get64(8) != 0 || b2.Phys() != 1<<20 {
		t.Errorf("after Reset: %#x at %#x", b2.Get64(8), b2.Phys())
	}
	n := 0
	for {
		if _, err := a.Alloc(100, 128); err != nil {
			break
		}
		n++
	}
	if n != (1<<16-4096)/128 {
		t.Errorf("%d allocations of 100 bytes aligned to 128", n)
	}
}

// A CellPool's cells are physically contiguous and their payloads' bus
// addresses are where the allocator put them; its memory survives Reset;
// Phys answers only the owner, within the payload.
func TestCellPool(t *testing.T) {
	type payload struct {
		Len  uint16
		Data [2048]byte
	}
	// Pages 0-1 adjacent, 2-3 adjacent elsewhere: a cell (over 2 KiB)
	// never straddles pages 1 and 2.
	src := &fakeSource{frames: [][]uint64{{10, 11, 40, 41}}}
	a := New(src, 4*4096)
	p, err := NewCellPool[payload]("test", a, 4)
	if err != nil {
		t.Fatal(err)
	}
	mgr := domain.NewManager()
	defer mgr.Close()
	heap := mgr.Kernel().Heap()
	size, off := rref.CellSize[payload](), uint64(rref.PayloadOffset[payload]())
	stride := uint64(size+63) &^ 63                                              // cells are 64-aligned
	want := []uint64{10 * 4096, 10*4096 + stride, 10*4096 + 2*stride, 40 * 4096} // the fourth would cross into page 2
	var got []uint64
	for range 4 {
		r, ok := p.Get(heap)
		if !ok {
			t.Fatal("pool empty")
		}
		pa, ok := p.Phys(r, 0)
		if !ok {
			t.Fatal("Phys refused the owner")
		}
		got = append(got, pa-off)
		if _, ok := p.Phys(r, 2050); ok {
			t.Error("Phys past the payload")
		}
		if pa2, ok := p.Phys(r, 2); !ok || pa2 != pa+2 {
			t.Errorf("Phys(r, 2) = %#x, want %#x", pa2, pa+2)
		}
		r.Get().Data[0] = 1
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("cells at %#x, want %#x", got, want)
	}
	if _, ok := p.Get(heap); ok {
		t.Error("Get from an empty pool")
	}
	if _, ok := p.Phys(rref.New(heap, payload{}), 0); ok {
		t.Error("Phys of a cell on the Go heap")
	}
	kept := a.InUse()
	b, _ := a.Alloc(64, 64)
	a.Reset()
	if a.InUse() != kept {
		t.Errorf("Reset took back the pool's memory: %d bytes in use, the pool has %d", a.InUse(), kept)
	}
	if b2, _ := a.Alloc(64, 64); b2.Phys() != b.Phys() {
		t.Errorf("after Reset the driver's memory starts at %#x, was %#x", b2.Phys(), b.Phys())
	}
}
