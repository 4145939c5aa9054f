package flash

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Bus is how a disk is attached, from its device path in sysfs.
type Bus string

// The buses Host tells apart.
const (
	BusUSB    Bus = "usb"
	BusSATA   Bus = "sata" // libata: SATA and PATA
	BusNVMe   Bus = "nvme"
	BusMMC    Bus = "mmc" // SD and MMC cards in a built-in reader
	BusVirtio Bus = "virtio"
	BusSCSI   Bus = "scsi"
	BusLoop   Bus = "loop"
	BusOther  Bus = "other"
)

// Host is where disks are discovered: sysfs, the mount table and /dev.
// The zero value is the running system; tests point the fields at
// recorded trees.
type Host struct {
	// Sys is the sysfs root (default /sys).
	Sys string
	// MountInfo is the mount table in /proc/PID/mountinfo format
	// (default /proc/self/mountinfo).
	MountInfo string
	// Swaps is the list of active swap areas (default /proc/swaps).
	Swaps string
	// Dev is the directory of device nodes (default /dev).
	Dev string
}

func (h Host) sys() string       { return cmp.Or(h.Sys, "/sys") }
func (h Host) mountInfo() string { return cmp.Or(h.MountInfo, "/proc/self/mountinfo") }
func (h Host) swaps() string     { return cmp.Or(h.Swaps, "/proc/swaps") }
func (h Host) dev() string       { return cmp.Or(h.Dev, "/dev") }

// Device is a disk: a whole-disk block device.
type Device struct {
	Name   string // kernel name, e.g. "sdb"
	Path   string // device node, e.g. "/dev/sdb"
	Dev    uint64 // device number
	Vendor string
	Model  string
	Size   int64 // bytes
	Bus    Bus
	// Removable is the kernel's removable-media flag, or true for USB
	// and SD/MMC devices, which can all be unplugged (USB disks often
	// report fixed media).
	Removable bool
	ReadOnly  bool
	// LogicalBlockSize is the smallest unit the device writes.
	LogicalBlockSize int64
	// Discard and WriteZeroes say whether the device can discard blocks
	// and zero them without data transfer.
	Discard, WriteZeroes bool
	// BackingFile is the file behind a loop device.
	BackingFile string
	// DiskSeq is the kernel's disk sequence number (Linux 5.15 and later;
	// 0 where unknown): it changes whenever the media behind the device
	// node change, a loop device re-attached to another file included.
	DiskSeq uint64
	// Serial is the device's serial number or world-wide id, where sysfs
	// has one.
	Serial     string
	Partitions []Partition
	// FSType and Label describe a file system on the whole disk (no
	// partition table), e.g. a "superfloppy" USB stick.
	FSType, Label string
	// Mounts are the file systems mounted from the disk, its partitions
	// or the devices stacked on them.
	Mounts []Mount
	// Holders are devices stacked on the disk or its partitions
	// (device-mapper, md), e.g. "dm-0".
	Holders []string
	// Swaps are the active swap areas on the disk or its partitions.
	Swaps []string
	// HoldsRoot says whether the running system's / is on the disk.
	HoldsRoot bool

	sysDir string // the disk's directory in sysfs
}

// Partition is a partition of a disk.
type Partition struct {
	Name   string // e.g. "sdb1"
	Path   string // e.g. "/dev/sdb1"
	Dev    uint64
	Number int
	Start  int64 // byte offset on the disk
	Size   int64 // bytes
	// FSType ("vfat", "ext4", ...) and Label come from the file system's
	// superblock; empty when unknown.
	FSType, Label string
	// Mounts are the partition's mount points.
	Mounts []string
}

// Mount is a mounted file system.
type Mount struct {
	Source string // the mounted device, e.g. "/dev/sdb1"
	Point  string // where it is mounted
	FSType string
}

// Devices returns the disks of the host that an image could be written
// to, sorted by name: block devices with hardware behind them and loop
// devices with a backing file. RAM disks, zram, device-mapper and md
// devices, empty card readers and unbound loop devices are left out.
func (h Host) Devices() ([]*Device, error) {
	entries, err := os.ReadDir(filepath.Join(h.sys(), "block"))
	if err != nil {
		return nil, fmt.Errorf("listing block devices: %w", err)
	}
	env, err := h.environment()
	if err != nil {
		return nil, err
	}
	var devs []*Device
	for _, e := range entries {
		d, err := h.device(e.Name(), env)
		if err != nil {
			return nil, err
		}
		if d != nil {
			devs = append(devs, d)
		}
	}
	slices.SortFunc(devs, func(a, b *Device) int { return strings.Compare(a.Name, b.Name) })
	return devs, nil
}

// environment is what the checks of every device need: the mount table,
// the swap areas and the devices below /.
type environment struct {
	mounts []mountEntry
	swaps  []string // device names of swap partitions
	root   map[uint64]bool
}

func (h Host) environment() (*environment, error) {
	mounts, err := readMountInfo(h.mountInfo())
	if err != nil {
		return nil, err
	}
	env := &environment{mounts: mounts, swaps: readSwaps(h.swaps())}
	for _, m := range mounts {
		if m.point == "/" {
			env.root = h.below(m.dev, mounts)
			if dev, ok := h.sourceDev(m.source); ok {
				for d := range h.below(dev, mounts) {
					env.root[d] = true
				}
			}
		}
	}
	return env, nil
}

// device reads the disk name from sysfs, or returns nil if it is not one
// Devices lists.
func (h Host) device(name string, env *environment) (*Device, error) {
	link := filepath.Join(h.sys(), "block", name)
	target, err := os.Readlink(link)
	if err != nil {
		target = link // some sysfs trees have directories here
	}
	dir := link
	d := &Device{Name: name, Path: filepath.Join(h.dev(), name), sysDir: dir}
	if d.Dev, err = readDevNum(filepath.Join(dir, "dev")); err != nil {
		return nil, fmt.Errorf("block device %s: %w", name, err)
	}
	d.Bus = busOf(target, name)
	if d.Bus == BusLoop {
		d.BackingFile = readAttr(dir, "loop/backing_file")
		if d.BackingFile == "" {
			return nil, nil
		}
	} else if _, err := os.Stat(filepath.Join(dir, "device")); err != nil {
		return nil, nil // virtual: zram, ram, dm, md
	}
	d.Size = readInt(dir, "size") * 512
	if d.Size == 0 {
		return nil, nil
	}
	d.DiskSeq = uint64(max(readInt(dir, "diskseq"), 0))
	d.Serial = cmp.Or(readAttr(dir, "device/serial"), readAttr(dir, "wwid"), readAttr(dir, "device/wwid"))
	d.Vendor = readAttr(dir, "device/vendor")
	d.Model = cmp.Or(readAttr(dir, "device/model"), readAttr(dir, "device/name"))
	d.Removable = readAttr(dir, "removable") == "1" || d.Bus == BusUSB || d.Bus == BusMMC
	d.ReadOnly = readAttr(dir, "ro") == "1"
	d.LogicalBlockSize = cmp.Or(readInt(dir, "queue/logical_block_size"), 512)
	d.Discard = readInt(dir, "queue/discard_max_bytes") > 0
	d.WriteZeroes = readInt(dir, "queue/write_zeroes_max_bytes") > 0

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		pdir := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(pdir, "partition")); err != nil {
			continue
		}
		p := Partition{Name: e.Name(), Path: filepath.Join(h.dev(), e.Name())}
		if p.Dev, err = readDevNum(filepath.Join(pdir, "dev")); err != nil {
			return nil, fmt.Errorf("partition %s: %w", e.Name(), err)
		}
		p.Number = int(readInt(pdir, "partition"))
		p.Start = readInt(pdir, "start") * 512
		p.Size = readInt(pdir, "size") * 512
		p.FSType, p.Label = probeFile(p.Path)
		d.Partitions = append(d.Partitions, p)
	}
	slices.SortFunc(d.Partitions, func(a, b Partition) int { return a.Number - b.Number })
	if len(d.Partitions) == 0 {
		d.FSType, d.Label = probeFile(d.Path)
	}
	h.usage(d, env)
	return d, nil
}

// usage fills in what uses the disk: mounts, holders, swap, /.
func (h Host) usage(d *Device, env *environment) {
	// up is the disk, its partitions and everything stacked on them.
	up := map[string]uint64{d.Name: d.Dev}
	for _, p := range d.Partitions {
		up[p.Name] = p.Dev
	}
	dirs := []string{filepath.Join(d.sysDir, "holders")}
	for _, p := range d.Partitions {
		dirs = append(dirs, filepath.Join(d.sysDir, p.Name, "holders"))
	}
	for len(dirs) > 0 {
		entries, _ := os.ReadDir(dirs[0])
		dirs = dirs[1:]
		for _, e := range entries {
			holder := e.Name()
			if _, seen := up[holder]; seen {
				continue
			}
			dev, _ := readDevNum(filepath.Join(h.sys(), "block", holder, "dev"))
			up[holder] = dev
			d.Holders = append(d.Holders, holder)
			dirs = append(dirs, filepath.Join(h.sys(), "block", holder, "holders"))
		}
	}
	devs := map[uint64]bool{}
	for _, dev := range up {
		if dev != 0 {
			devs[dev] = true
		}
	}
	for _, m := range env.mounts {
		_, byName := up[strings.TrimPrefix(m.source, "/dev/")]
		if devs[m.dev] || (strings.HasPrefix(m.source, "/dev/") && byName) {
			d.Mounts = append(d.Mounts, Mount{Source: m.source, Point: m.point, FSType: m.fstype})
		}
		for i := range d.Partitions {
			if pt := &d.Partitions[i]; m.dev == pt.Dev || m.source == "/dev/"+pt.Name {
				pt.Mounts = append(pt.Mounts, m.point)
			}
		}
	}
	for _, s := range env.swaps {
		if _, ok := up[s]; ok {
			d.Swaps = append(d.Swaps, filepath.Join(h.dev(), s))
		}
	}
	if env.root[d.Dev] {
		d.HoldsRoot = true
	}
	for _, p := range d.Partitions {
		if env.root[p.Dev] {
			d.HoldsRoot = true
		}
	}
}

// Lookup returns the disk at path, e.g. "/dev/sdb", a link to it such as
// "/dev/disk/by-id/usb-...", or a bare name such as "sdb". A path that
// is not a whole disk Devices lists (a file, a partition, a
// device-mapper device) is a *RefusedError with reason NotWholeDisk.
func (h Host) Lookup(path string) (*Device, error) {
	if !strings.ContainsRune(path, '/') {
		path = filepath.Join(h.dev(), path)
	}
	refuse := func(format string, args ...any) error {
		return refused(path, NotWholeDisk, format, args...)
	}
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, refuse("no such device")
	}
	if err != nil {
		return nil, refuse("%v", err)
	}
	rdev, kind, err := statDevice(real)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if kind != "block device" {
		return nil, refuse("it is a %s, not a block device", kind)
	}
	sysDir := filepath.Join(h.sys(), "dev", "block", fmt.Sprintf("%d:%d", major(rdev), minor(rdev)))
	target, err := filepath.EvalSymlinks(sysDir)
	if err != nil {
		return nil, refuse("block device %d:%d is not in sysfs: %v", major(rdev), minor(rdev), err)
	}
	name := filepath.Base(target)
	if _, err := os.Stat(filepath.Join(target, "partition")); err == nil {
		disk := filepath.Base(filepath.Dir(target))
		return nil, refuse("it is partition %s of %s: name the whole disk, %s",
			readAttr(target, "partition"), filepath.Join(h.dev(), disk), filepath.Join(h.dev(), disk))
	}
	env, err := h.environment()
	if err != nil {
		return nil, err
	}
	d, err := h.device(name, env)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, refuse("%s is not a disk (device-mapper, md, zram and RAM disks and unbound loop devices are never written)", name)
	}
	d.Path = real
	return d, nil
}

// sourceDev returns the device number of a mount source that is a block
// device node, e.g. "/dev/sda2" for btrfs, whose st_dev is anonymous.
func (h Host) sourceDev(source string) (uint64, bool) {
	if !strings.HasPrefix(source, "/") {
		return 0, false
	}
	if rest, ok := strings.CutPrefix(source, "/dev/"); ok {
		source = filepath.Join(h.dev(), rest) // a recorded tree's own /dev
	}
	rdev, kind, err := statDevice(source)
	if err != nil || kind != "block device" {
		return 0, false
	}
	return rdev, true
}

// below returns the block devices that hold the data of device dev: dev,
// the devices it is built from (dm and md slaves) and, for loop devices,
// the devices below their backing files, recursively. A device number
// that is not a block device (tmpfs, btrfs subvolumes) is resolved
// through the mount table's source device.
func (h Host) below(dev uint64, mounts []mountEntry) map[uint64]bool {
	out := map[uint64]bool{}
	var walk func(dev uint64, depth int)
	walk = func(dev uint64, depth int) {
		if out[dev] || depth > 16 {
			return
		}
		out[dev] = true
		dir := filepath.Join(h.sys(), "dev", "block", fmt.Sprintf("%d:%d", major(dev), minor(dev)))
		if _, err := os.Stat(dir); err != nil {
			for _, m := range mounts {
				if m.dev == dev {
					if src, ok := h.sourceDev(m.source); ok {
						walk(src, depth+1)
					}
				}
			}
			return
		}
		slaves, _ := os.ReadDir(filepath.Join(dir, "slaves"))
		for _, s := range slaves {
			if sd, err := readDevNum(filepath.Join(h.sys(), "class", "block", s.Name(), "dev")); err == nil {
				walk(sd, depth+1)
			}
		}
		if backing := readAttr(dir, "loop/backing_file"); backing != "" {
			if fdev, _, err := fileDevice(backing); err == nil {
				walk(fdev, depth+1)
			}
		}
	}
	walk(dev, 0)
	return out
}

// busOf tells the bus from the device's path in sysfs, e.g.
// "../devices/pci0000:00/0000:00:14.0/usb2/2-1/.../block/sdb".
func busOf(devpath, name string) Bus {
	switch {
	case strings.HasPrefix(name, "loop") || strings.Contains(devpath, "/virtual/block/loop"):
		return BusLoop
	case strings.Contains(devpath, "/usb"):
		return BusUSB
	case strings.Contains(devpath, "/nvme/"):
		return BusNVMe
	case strings.Contains(devpath, "/mmc_host/"):
		return BusMMC
	case strings.Contains(devpath, "/virtio"):
		return BusVirtio
	case strings.Contains(devpath, "/ata"):
		return BusSATA
	case strings.Contains(devpath, "/target"):
		return BusSCSI
	}
	return BusOther
}

// readAttr returns a sysfs attribute with blanks trimmed, or "".
func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readInt(dir, name string) int64 {
	n, _ := strconv.ParseInt(readAttr(dir, name), 10, 64)
	return n
}

// readDevNum reads a "major:minor" file.
func readDevNum(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseDevNum(strings.TrimSpace(string(b)))
}

func parseDevNum(s string) (uint64, error) {
	a, b, ok := strings.Cut(s, ":")
	maj, err1 := strconv.ParseUint(a, 10, 32)
	min, err2 := strconv.ParseUint(b, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad device number %q", s)
	}
	return mkdev(uint32(maj), uint32(min)), nil
}

// Linux's encoding of device numbers, as in glibc's makedev.
func mkdev(maj, min uint32) uint64 {
	return uint64(maj&0xfff)<<8 | uint64(maj&^0xfff)<<32 | uint64(min&0xff) | uint64(min&^0xff)<<12
}
func major(dev uint64) uint32 { return uint32((dev>>8)&0xfff | (dev>>32)&^0xfff) }
func minor(dev uint64) uint32 { return uint32(dev&0xff | (dev>>12)&^0xff) }
