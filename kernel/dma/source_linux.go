package dma

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// HugePageSize is the size of the huge pages Pages asks for.
const HugePageSize = 2 << 20

// Pages is the Source of the target: anonymous memory, mlock'd, faulted in,
// translated through the pagemap. With Huge it maps 2 MiB huge pages
// (MAP_HUGETLB, from hugetlbfs's pool), each physically contiguous; without,
// 4 KiB pages, of which only those the pagemap shows adjacent are
// contiguous.
type Pages struct {
	Huge    bool
	Pagemap Pagemap

	// Injectable for tests; nil means the system call.
	Mmap  func(n int, flags int) ([]byte, error)
	Mlock func(b []byte) error
}

// Map implements Source.
func (p *Pages) Map(n int) (Chunk, error) {
	ps := 4096
	flags := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_POPULATE
	if p.Huge {
		ps = HugePageSize
		flags |= unix.MAP_HUGETLB
	}
	n = (n + ps - 1) &^ (ps - 1)
	mmap, mlock := p.Mmap, p.Mlock
	if mmap == nil {
		mmap = func(n, flags int) ([]byte, error) {
			return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, flags)
		}
	}
	if mlock == nil {
		mlock = unix.Mlock
	}
	mem, err := mmap(n, flags)
	if err != nil {
		return Chunk{}, fmt.Errorf("dma: mmap of %d bytes (huge %v): %w", n, p.Huge, err)
	}
	if err := mlock(mem); err != nil {
		return Chunk{}, fmt.Errorf("dma: mlock of %d bytes: %w", n, err)
	}
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 0 // fault it in (MAP_POPULATE should have)
	}
	pm := p.Pagemap
	pages, err := pm.TranslateRange(uintptr(unsafe.Pointer(&mem[0])), len(mem))
	if err != nil {
		return Chunk{}, err
	}
	if ps != pm.pageSize() {
		// The pagemap indexes base pages; keep the first of each huge page.
		step := ps / pm.pageSize()
		hp := make([]uint64, 0, len(pages)/step)
		for i := 0; i < len(pages); i += step {
			hp = append(hp, pages[i])
		}
		pages = hp
	}
	return Chunk{Mem: mem, PageSize: ps, Phys: pages}, nil
}

// DisableCompaction writes 0 to vm.compact_unevictable_allowed, so that the
// kernel does not migrate mlock'd pages (mlock alone does not stop
// compaction). A kernel without the knob (no CONFIG_COMPACTION) needs none.
func DisableCompaction() error {
	err := os.WriteFile("/proc/sys/vm/compact_unevictable_allowed", []byte("0\n"), 0)
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// HugePagesAvailable reports whether the kernel has free 2 MiB huge pages
// (reserving nr if there are none and it lets us).
func HugePagesAvailable(nr int) bool {
	const f = "/proc/sys/vm/nr_hugepages"
	if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB"); err != nil {
		return false
	}
	b, _ := os.ReadFile("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
	if len(b) > 0 && b[0] != '0' {
		return true
	}
	if os.WriteFile(f, fmt.Appendf(nil, "%d\n", nr), 0) != nil {
		return false
	}
	b, _ = os.ReadFile("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
	return len(b) > 0 && b[0] != '0'
}

// NewSystem returns the allocator of the target: huge pages when
// available, 4 KiB pages otherwise, with compaction disabled.
func NewSystem() (*Allocator, error) {
	if err := DisableCompaction(); err != nil {
		return nil, fmt.Errorf("dma: disabling compaction: %w", err)
	}
	if HugePagesAvailable(16) {
		return New(&Pages{Huge: true}, HugePageSize), nil
	}
	return New(&Pages{}, 1<<20), nil
}
