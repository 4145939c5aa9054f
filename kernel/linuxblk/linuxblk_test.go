package linuxblk

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tree builds a sysfs tree with one NVMe controller at 0000:00:05.0 whose
// namespace entry is entry (nvme1n1, or a multipath path nvme1c1n1), and a
// /dev with the block device as a regular file of blocks 4 KiB blocks.
func tree(t *testing.T, entry, disk string, blocks int) Sysfs {
	t.Helper()
	root, dev := t.TempDir(), t.TempDir()
	fn := filepath.Join(root, "bus/pci/devices/0000:00:05.0")
	mk := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(fn, "nvme/nvme1", entry, "dev"), "259:1\n")
	mk(filepath.Join(fn, "nvme/nvme1/ng1n1/dev"), "242:1\n") // the char device: not a block device
	mk(filepath.Join(root, "block", disk, "size"), strconv.Itoa(blocks*8)+"\n")
	mk(filepath.Join(root, "block", disk, "queue/logical_block_size"), "512\n")
	b := make([]byte, blocks*4096)
	for i := range b {
		b[i] = byte(i / 4096)
	}
	mk(filepath.Join(dev, disk), string(b))
	// A second function with no driver.
	if err := os.MkdirAll(filepath.Join(root, "bus/pci/devices/0000:00:06.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Sysfs{Root: root, Dev: dev}
}

func TestNVMe(t *testing.T) {
	for _, c := range []struct{ entry, disk string }{
		{"nvme1n1", "nvme1n1"},
		{"nvme0c1n1", "nvme0n1"}, // native multipath: the head is named after the subsystem
	} {
		s := tree(t, c.entry, c.disk, 64)
		d, err := s.NVMe("0000:00:05.0")
		if err != nil {
			t.Fatalf("%s: %v", c.entry, err)
		}
		if d.Name != c.disk || d.Controller != "nvme1" || d.Path != filepath.Join(s.Dev, c.disk) || d.Blocks() != 64 || d.LogicalBS != 512 {
			t.Errorf("%s: %+v", c.entry, d)
		}
		if _, err := s.NVMe("0000:00:06.0"); err == nil || !strings.Contains(err.Error(), "0000:00:06.0 has no Linux driver") {
			t.Errorf("no driver: %v", err)
		}
	}
}

func TestRandomRead(t *testing.T) {
	s := tree(t, "nvme1n1", "nvme1n1", 256)
	d, err := s.NVMe("0000:00:05.0")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(d.Path, unix.O_RDONLY|unix.O_DIRECT, 0)
	if errors.Is(err, unix.EINVAL) {
		t.Skipf("%s's file system has no O_DIRECT", filepath.Dir(d.Path))
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	for _, depth := range []int{1, 32} {
		r, err := RandomRead(d, Load{Depth: depth, Count: 1000, Duration: 10 * time.Second, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if r.IOs != 1000 || len(r.Lat) != 1000 || r.Elapsed <= 0 || !slices.IsSorted(r.Lat) {
			t.Errorf("depth %d: %d IOs, %d samples, %v", depth, r.IOs, len(r.Lat), r.Elapsed)
		}
	}
	if _, err := RandomRead(d, Load{Depth: 1, Count: 1, Start: 250, Blocks: 10}); err == nil {
		t.Error("a region beyond the disk was accepted")
	}
}
