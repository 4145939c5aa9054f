package flash

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openExclusive opens a whole-disk block device for direct I/O,
// exclusively: the kernel refuses (EBUSY) while a partition is mounted,
// a device is stacked on it or another program holds it open with
// O_EXCL, and refuses those to others while we hold it.
func openExclusive(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_EXCL|unix.O_DIRECT|unix.O_CLOEXEC, 0)
}

// openDirect opens a device for reading around the page cache.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
}

func isBusy(err error) bool { return errors.Is(err, unix.EBUSY) }

// deviceIdentity returns the device number and size of an open device.
func deviceIdentity(f *os.File) (rdev uint64, size int64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, fmt.Errorf("%s is no longer a block device", f.Name())
	}
	n, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: BLKGETSIZE64: %w", f.Name(), err)
	}
	return st.Rdev, int64(n), nil
}

// diskSeq returns the disk sequence number of an open block device
// (BLKGETDISKSEQ, Linux 5.15 and later), or 0 where the kernel has none.
func diskSeq(f *os.File) (uint64, error) {
	n, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETDISKSEQ)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: BLKGETDISKSEQ: %w", f.Name(), err)
	}
	return n, nil
}

// loopBacking returns the device and inode of the file behind an open
// loop device (LOOP_GET_STATUS64).
func loopBacking(f *os.File) (dev, ino uint64, err error) {
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		return 0, 0, fmt.Errorf("%s: LOOP_GET_STATUS64: %w", f.Name(), err)
	}
	return info.Device, info.Inode, nil
}

// alignedBuffer returns n bytes of page-aligned memory, as O_DIRECT needs,
// and the function that frees it.
func alignedBuffer(n int) ([]byte, func(), error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil, fmt.Errorf("allocating %d bytes of I/O buffers: %w", n, err)
	}
	return b, func() { unix.Munmap(b) }, nil
}

// zeroByUnmap makes a range of the device read as zeros without writing
// it (write-zeroes with unmap, e.g. a hole punched into a loop device's
// file, SCSI WRITE SAME with UNMAP, NVMe Write Zeroes with deallocate).
// It fails with ENOTSUP when the device cannot.
func zeroByUnmap(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// zeroRange makes a range of the device read as zeros, the kernel
// writing zeros when the device cannot zero it otherwise.
func zeroRange(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// discard tells the device a range is unused (TRIM, UNMAP). What it
// reads afterwards is up to the device.
func discard(f *os.File, off, n int64) error {
	r := [2]uint64{uint64(off), uint64(n)}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKDISCARD, uintptr(unsafe.Pointer(&r)))
	if errno != 0 {
		return errno
	}
	return nil
}

func isUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL)
}

// rereadPartitions asks the kernel to read the new partition table.
// Devices without partition support refuse, which is fine.
func rereadPartitions(f *os.File) error {
	return unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0)
}

// willNeed starts reading a range of a file into the page cache.
func willNeed(f *os.File, off, n int64) {
	unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED)
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
