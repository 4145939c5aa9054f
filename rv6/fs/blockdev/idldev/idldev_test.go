package idldev_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/ramdisk"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/blockdev/idldev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// newDisk creates a ramdisk domain of n blocks and returns the kernel's
// Device over it.
func newDisk(t *testing.T, n uint64) (*domain.Manager, *domain.Domain, *idldev.Device) {
	t.Helper()
	m := domain.NewManager()
	t.Cleanup(m.Close)
	d, err := m.Create(ramdisk.Kind, domain.GrantDevice(ramdisk.GrantConfig, ramdisk.Config{Blocks: n}))
	if err != nil {
		t.Fatal(err)
	}
	bd, err := domain.Connect[idl.BlockDevice](m.Kernel(), d)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := idldev.New(bd, m.Kernel().Heap())
	if err != nil {
		t.Fatal(err)
	}
	return m, d, dev
}

func reqs(lbas []uint64, fill byte) []blockdev.Req {
	rs := make([]blockdev.Req, len(lbas))
	for i, lba := range lbas {
		b := new(blockdev.Block)
		for j := range b {
			b[j] = fill ^ byte(lba) ^ byte(j)
		}
		rs[i] = blockdev.Req{LBA: lba, Data: b}
	}
	return rs
}

func TestReadWriteBatches(t *testing.T) {
	_, _, dev := newDisk(t, 1024)
	if dev.NumBlocks() != 1024 {
		t.Fatalf("NumBlocks = %d", dev.NumBlocks())
	}
	// 300 requests: three batches of at most idl.BlockDeviceBatch.
	var lbas []uint64
	for i := range 300 {
		lbas = append(lbas, uint64(1023-3*i))
	}
	w := reqs(lbas, 0x5a)
	if err := dev.Write(w); err != nil {
		t.Fatal(err)
	}
	r := reqs(lbas, 0)
	if err := dev.Read(r); err != nil {
		t.Fatal(err)
	}
	for i := range r {
		if !bytes.Equal(r[i].Data[:], w[i].Data[:]) {
			t.Fatalf("block %d read back differently", r[i].LBA)
		}
	}
	if err := dev.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestOutOfRange(t *testing.T) {
	_, _, dev := newDisk(t, 16)
	err := dev.Read(reqs([]uint64{3, 16}, 0))
	var re *blockdev.RangeError
	if !errors.As(err, &re) || re.LBA != 16 {
		t.Fatalf("err = %v, want a RangeError for block 16", err)
	}
}

// TestSteadyState checks that I/O reuses its deque and cells: the
// adapter's heap holds the same cells after many calls, and allocates no
// cells per call.
func TestSteadyState(t *testing.T) {
	m, _, dev := newDisk(t, 256)
	rs := reqs([]uint64{1, 2, 3, 4}, 1)
	if err := dev.Write(rs); err != nil {
		t.Fatal(err)
	}
	held := m.Kernel().Heap().Held()
	live := rref.Live()
	allocs := testing.AllocsPerRun(100, func() {
		if err := dev.Read(rs); err != nil {
			t.Fatal(err)
		}
	})
	if h := m.Kernel().Heap().Held(); h != held {
		t.Errorf("the kernel holds %d cells after 100 reads, %d before", h, held)
	}
	if l := rref.Live(); l != live {
		t.Errorf("%d live cells after 100 reads, %d before", l, live)
	}
	if allocs > 0 {
		t.Errorf("%.0f allocations per read, want none from the adapter", allocs)
	}
	dev.Close()
	if h := m.Kernel().Heap().Held(); h != held-5 { // 4 cells and the deque
		t.Errorf("after Close the kernel holds %d cells, want %d", h, held-5)
	}
}

// TestDeviceDies checks that a dead driver gives EIO errors, not panics,
// and that a restarted one serves the adapter again after a new Connect.
func TestDeviceDies(t *testing.T) {
	m, d, dev := newDisk(t, 64)
	if err := dev.Write(reqs([]uint64{5}, 2)); err != nil {
		t.Fatal(err)
	}
	m.Kill(d)
	err := dev.Read(reqs([]uint64{5}, 0))
	if !errors.Is(err, errno.EIO) {
		t.Fatalf("read from a dead device: %v, want EIO", err)
	}
	if err := dev.Flush(); !errors.Is(err, errno.EIO) {
		t.Fatalf("flush of a dead device: %v, want EIO", err)
	}
}

// TestFileSystem runs the file system on a ramdisk domain.
func TestFileSystem(t *testing.T) {
	_, _, dev := newDisk(t, 4096)
	if err := fs.Format(dev, fs.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	fsys, err := fs.Mount(dev, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("rv6 on a domain "), 40000) // 640 KB: several transactions
	f, err := fsys.Create("/big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fsys.Mkdir("/d"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("/big", "/d/big"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Unmount(); err != nil {
		t.Fatal(err)
	}
	fsys, err = fs.Mount(dev, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Unmount()
	f, err = fsys.Open("/d/big", fs.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data)+1)
	n, _ := f.ReadAt(got, 0)
	if !bytes.Equal(got[:n], data) {
		t.Fatalf("read back %d bytes, want the %d written", n, len(data))
	}
	f.Close()
}
