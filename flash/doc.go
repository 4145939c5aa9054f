// Package flash writes disk images to USB sticks, SD cards and disks:
// safely, fast and verified. It is `rlbuild flash`, for machines that
// cannot boot over the network.
//
// # Finding and refusing devices
//
// Host discovers disks from sysfs (model, vendor, size, bus, removable
// and read-only flags, partitions, file system labels) and the mount
// table (what is mounted, what holds /), with the roots injectable for
// tests. Host.Plan refuses, each refusal a *RefusedError with a Reason,
// before the device is ever opened for writing: a path that is not a
// whole disk, a disk holding / or any mounted file system, one with
// device-mapper, md or swap on it, the disk holding the image file
// (directly, through a loop device, or as a loop device backed by it), a
// read-only disk, one smaller than the image, and a fixed disk unless
// PlanOptions.Force names it; loop devices need no Force, for tests.
// Plan.Write then opens the disk with O_EXCL, which the kernel
// refuses while anything is mounted from it and which keeps mounts and
// other exclusive writers out until it is done.
//
// # Writing
//
// Only the blocks that hold data are written: the image's block map
// (bmaptool's format, see images/bmap), else SEEK_DATA/SEEK_HOLE on a
// sparse raw image, else the non-zero blocks of a compressed image found
// by decompressing it once. Holes of up to 1 MiB between mapped blocks are
// written as zeros within the surrounding write, which keeps the writes
// long and the metadata around small holes exact. Larger unmapped areas
// are zeroed by unmapping where the device can (loop devices, most NVMe
// and SCSI disks), else discarded where it can, else left as they were,
// as bmaptool leaves them: an image with a block map must not depend on
// its unmapped blocks. PlanOptions.ZeroUnmapped makes them read as zeros
// on every device, at the cost of writing them where nothing cheaper
// works.
//
// Writes are direct (O_DIRECT, page-aligned buffers, 4 MiB by default)
// and a reader goroutine reads and decompresses (gzip, zstd, xz) the
// image ahead of the writer, checking it against the block map's
// checksums and the manifest's digest as it goes.
//
// The first MiB (protective MBR or MBR with boot code, GPT header and
// entries) is written last, after all the rest is written, flushed and
// verified: until then the device keeps its old first MiB, so an
// interrupted or failed write never looks like a bootable image, and a
// partly written device keeps its old partition table rather than one
// that points at half-written partitions. Errors after the device was
// opened are *IncompleteErrors that say so.
//
// # Verifying
//
// After a flush everything written is read back through O_DIRECT (not
// the page cache) and its SHA-256 compared per block map range (and per
// filler between ranges) with the block map's checksum or, when the map
// has none, the image's bytes as they were read; a mismatch is a
// *VerifyError naming the range. The first MiB is read back and compared
// byte for byte after it is written.
package flash
