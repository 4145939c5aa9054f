//go:build linux

package flash

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The tests write only to loop devices they attach themselves, over files
// in temporary directories.

// requireLoops skips a test that needs loop devices when they cannot be
// had: not root, or no /dev/loop-control.
func requireLoops(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to attach loop devices")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("loop devices are not available: %v", err)
	}
}

// Loop device flags for attachLoop.
const (
	loopReadOnly = unix.LO_FLAGS_READ_ONLY
	loopPartScan = unix.LO_FLAGS_PARTSCAN
)

// attachLoop binds a free loop device to the file at backing and returns
// its path; it is detached when the test ends.
func attachLoop(t testing.TB, backing string, flags uint32) string {
	t.Helper()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	mode := os.O_RDWR
	if flags&loopReadOnly != 0 {
		mode = os.O_RDONLY
	}
	f, err := os.OpenFile(backing, mode, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Other tests (and other packages' tests) attach loop devices at the
	// same time: a free device can be taken before we configure it.
	for attempt := 0; attempt < 50; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Fatalf("LOOP_CTL_GET_FREE: %v", err)
		}
		path := fmt.Sprintf("/dev/loop%d", n)
		lf, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Flags = flags
		copy(cfg.Info.File_name[:], backing)
		err = unix.IoctlLoopConfigure(int(lf.Fd()), &cfg)
		lf.Close()
		if errors.Is(err, unix.EBUSY) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("LOOP_CONFIGURE %s: %v", path, err)
		}
		t.Cleanup(func() { detachLoop(t, path) })
		return path
	}
	t.Fatal("no free loop device after 50 attempts")
	return ""
}

func detachLoop(t testing.TB, path string) {
	lf, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Errorf("detaching %s: %v", path, err)
		return
	}
	defer lf.Close()
	// EBUSY while a partition scan or a closing writer holds it: retry.
	for i := 0; ; i++ {
		err := unix.IoctlSetInt(int(lf.Fd()), unix.LOOP_CLR_FD, 0)
		if err == nil || errors.Is(err, unix.ENXIO) {
			return
		}
		if !errors.Is(err, unix.EBUSY) || i == 50 {
			t.Errorf("detaching %s: %v", path, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// backingFile creates a file of size bytes filled with pattern, standing
// for the old contents of a used stick.
func backingFile(t testing.TB, size int64, pattern byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(path, bytes.Repeat([]byte{pattern}, int(size)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mount mounts the block device at a temporary directory, which it
// returns, and unmounts it when the test ends.
func mount(t testing.TB, dev, fstype string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount(dev, dir, fstype, 0, ""); err != nil {
		t.Fatalf("mounting %s (%s): %v", dev, fstype, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// writeMBR writes a DOS partition table with one partition from 1 MiB to
// the end of the file.
func writeMBR(t testing.TB, path string, size int64) {
	t.Helper()
	mbr := make([]byte, 512)
	e := mbr[446:]
	e[4] = 0x0c // FAT32 LBA
	start, count := uint32(2048), uint32(size/512-2048)
	putLE32(e[8:], start)
	putLE32(e[12:], count)
	mbr[510], mbr[511] = 0x55, 0xaa
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// partitionedLoop attaches a loop device over a file of size bytes with a
// DOS partition table holding one partition from 1 MiB to the end, and
// returns the disk's and the partition's device paths. Kernels without
// DOS partition support get the partition through BLKPG.
func partitionedLoop(t testing.TB, size int64) (disk, part string) {
	t.Helper()
	backing := backingFile(t, size, 0)
	writeMBR(t, backing, size)
	disk = attachLoop(t, backing, loopPartScan)
	part = disk + "p1"
	if _, err := os.Stat(part); err == nil {
		return disk, part
	}
	f, err := os.OpenFile(disk, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := unix.BlkpgPartition{Start: 1 << 20, Length: size - 1<<20, Pno: 1}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_ADD_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	const blkpg = 0x1269 // _IO(0x12, 105)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), blkpg, uintptr(unsafe.Pointer(&arg))); errno != 0 {
		t.Fatalf("adding partition 1 to %s: %v", disk, errno)
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(part); err == nil {
			return disk, part
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", part)
	return "", ""
}
