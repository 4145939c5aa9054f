// Package disk writes bootable raw disk images: a GPT disk whose only
// partition is a FAT32 EFI System Partition holding a Linux kernel, its
// initrd and the boot loaders that start them. systemd-boot boots it on
// UEFI machines and syslinux (behind syslinux's GPT MBR) on legacy BIOS
// ones, so one image works for QEMU with OVMF or SeaBIOS and for real
// hardware written with dd.
//
// Images are byte-for-byte reproducible: GUIDs and the FAT serial come
// from Spec.Seed, every timestamp from Spec.Time.
package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/rlgo/redleaf/host"
)

// Spec describes a bootable raw disk image.
type Spec struct {
	// Arch is "amd64" (the default when empty) or "arm64". arm64 images
	// are UEFI only.
	Arch string
	// Kernel is the host path of the kernel image. For UEFI it must have
	// an EFI stub (systemd-boot starts it as an EFI program).
	Kernel string
	// Initrd is the host path of the initrd; empty means none.
	Initrd string
	// Cmdline is the kernel command line, the same for both loaders.
	Cmdline string
	// Title is the loader menu title; empty means "RedLeaf-Go".
	Title string
	// Seed is any string (the config hash). The disk GUID, the partition
	// GUID and the FAT volume id are derived from it.
	Seed string
	// ESPSize is the size in bytes of the EFI System Partition, rounded
	// up to a whole MiB. 0 means 128 MiB; less than 64 MiB is an error.
	ESPSize int64
	// Size is the total disk size in bytes, a multiple of 512. 0 means
	// the ESP plus 1 MiB in front and 1 MiB behind it (for the GPT).
	Size int64
	// UEFI installs systemd-boot as the removable-media loader
	// (EFI/BOOT/BOOTX64.EFI), set to boot the kernel at once.
	UEFI bool
	// BIOS installs syslinux: gptmbr.bin in the MBR, the legacy BIOS
	// bootable attribute on the ESP and ldlinux.sys in /syslinux on it.
	BIOS bool
	// Time is the timestamp of every file on the FAT (e.g. from
	// SOURCE_DATE_EPOCH). The zero value means the Unix epoch, which FAT
	// cannot store and which is clamped to its minimum, 1980-01-01.
	Time time.Time
}

// Info describes what Build wrote.
type Info struct {
	Size      int64  // total bytes of the image
	ESPOffset int64  // byte offset of the ESP in the image
	ESPSize   int64  // bytes of the ESP
	DiskGUID  string // GPT disk GUID, upper case
	ESPGUID   string // GPT unique partition GUID of the ESP, upper case
	// Files are the paths written on the ESP, in the order written,
	// including the ones syslinux installs itself.
	Files []string
}

const (
	mib = 1 << 20
	// sectorSize is the logical sector size of the image. 512 is what
	// both firmware kinds and syslinux's gptmbr.bin expect of a disk.
	sectorSize = 512
	// espOffset is where the ESP starts: 1 MiB, the usual alignment.
	espOffset = 1 * mib
	// gptTail is what the backup GPT needs at the end of the disk:
	// 32 sectors of partition entries and the header.
	gptTail = 33 * sectorSize

	defaultESPSize = 128 * mib
	minESPSize     = 64 * mib
	// maxESPSize keeps the FAT within what go-diskfs formats as FAT32
	// and far from sizes nobody needs for a kernel and an initrd.
	maxESPSize = 32 << 30

	// legacyBIOSBootable is GPT attribute bit 2, which syslinux's
	// gptmbr.bin looks for to pick the partition to boot.
	legacyBIOSBootable = 1 << 2

	espLabel         = "RLGO-ESP"
	espPartitionName = "EFI System Partition"
	defaultTitle     = "RedLeaf-Go"
)

// Build writes the disk image described by spec to path. It writes a
// temporary file next to path and renames it at the end, so a failed
// build never leaves a partial image under the final name.
func Build(path string, spec Spec) (*Info, error) {
	p, err := plan(spec)
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := p.write(tmp); err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	// Images are build outputs that QEMU or dd read, not secrets;
	// CreateTemp's 0600 would be a surprise.
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	ok = true
	return p.info, nil
}

// layout is a validated Spec with the host files it needs, ready to be
// written.
type layout struct {
	spec      Spec
	arch      string
	efiLoader string // host path of systemd-boot, "" without UEFI
	efiName   string // BOOTX64.EFI or BOOTAA64.EFI
	gptMBR    string // host path of gptmbr.bin, "" without BIOS
	syslinux  string // host path of the syslinux installer
	fatTime   time.Time
	volumeID  uint32
	info      *Info
}

// plan checks spec and finds everything on the host before the image
// file is created, so that bad input fails fast and cleanly.
func plan(spec Spec) (*layout, error) {
	p := &layout{spec: spec, arch: spec.Arch}
	var err error
	if p.arch == "" {
		p.arch = "amd64"
	}
	if !spec.UEFI && !spec.BIOS {
		return nil, errors.New("disk image: neither UEFI nor BIOS boot requested, the image would not boot")
	}
	switch p.arch {
	case "amd64":
		p.efiName = "BOOTX64.EFI"
		if spec.UEFI {
			path, err := host.Find(host.SystemdBootX64, "for UEFI disk images")
			if err != nil {
				return nil, err
			}
			p.efiLoader = path
		}
	case "arm64":
		if spec.BIOS {
			return nil, errors.New("disk image: BIOS boot (syslinux) exists only for amd64, not arm64")
		}
		p.efiName = "BOOTAA64.EFI"
		path, err := host.Find(host.SystemdBootAA64, "for arm64 UEFI disk images")
		if err != nil {
			return nil, err
		}
		p.efiLoader = path
	default:
		return nil, fmt.Errorf("disk image: architecture %q not supported (amd64 or arm64)", spec.Arch)
	}
	if spec.BIOS {
		if p.gptMBR, err = host.Find(host.SyslinuxGPTMBR, "for BIOS disk images"); err != nil {
			return nil, err
		}
		if p.syslinux, err = host.Find(host.Syslinux, "for BIOS disk images"); err != nil {
			return nil, err
		}
	}

	kernelSize, err := checkInput("kernel", spec.Kernel)
	if err != nil {
		return nil, err
	}
	var initrdSize int64
	if spec.Initrd != "" {
		if initrdSize, err = checkInput("initrd", spec.Initrd); err != nil {
			return nil, err
		}
	}
	// Both loader configurations are line based: a newline would end the
	// option early and turn the rest into configuration.
	if strings.ContainsAny(spec.Cmdline, "\r\n") {
		return nil, fmt.Errorf("disk image: kernel command line %q contains a line break", spec.Cmdline)
	}
	if strings.ContainsAny(spec.Title, "\r\n") {
		return nil, fmt.Errorf("disk image: title %q contains a line break", spec.Title)
	}

	espSize := spec.ESPSize
	switch {
	case espSize == 0:
		espSize = defaultESPSize
	case espSize < minESPSize:
		return nil, fmt.Errorf("disk image: ESP size %d bytes is too small, the minimum is %d (64 MiB)", espSize, minESPSize)
	case espSize > maxESPSize:
		return nil, fmt.Errorf("disk image: ESP size %d bytes is too large, the maximum is %d (32 GiB)", espSize, int64(maxESPSize))
	}
	espSize = (espSize + mib - 1) / mib * mib
	// Say which input does not fit rather than let go-diskfs run out of
	// clusters half way. Room: the ESP less its two FATs (4 bytes per
	// 512-byte cluster each) and 1 MiB for directories and the loaders.
	if room := espSize - espSize/64 - mib; kernelSize+initrdSize > room {
		return nil, fmt.Errorf("disk image: kernel file %s (%d bytes) and initrd file %s (%d bytes) do not fit in an ESP of %d bytes; raise the ESP size",
			spec.Kernel, kernelSize, spec.Initrd, initrdSize, espSize)
	}

	need := int64(espOffset) + espSize + gptTail
	size := spec.Size
	switch {
	case size == 0:
		size = (need + mib - 1) / mib * mib
	case size < need:
		return nil, fmt.Errorf("disk image: disk size %d bytes is too small: the ESP of %d bytes at offset %d and the backup GPT need %d", size, espSize, int64(espOffset), need)
	case size%sectorSize != 0:
		return nil, fmt.Errorf("disk image: disk size %d bytes is not a multiple of the %d-byte sector", size, sectorSize)
	}

	p.fatTime = fatTime(spec.Time)
	p.volumeID = seedVolumeID(spec.Seed)
	p.info = &Info{
		Size:      size,
		ESPOffset: espOffset,
		ESPSize:   espSize,
		DiskGUID:  seedGUID(spec.Seed, "gpt disk"),
		ESPGUID:   seedGUID(spec.Seed, "gpt esp partition"),
	}
	return p, nil
}

// checkInput returns the size of an input file, or an error naming it
// when it is missing or unusable.
func checkInput(what, path string) (int64, error) {
	if path == "" {
		return 0, fmt.Errorf("disk image: no %s file given", what)
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, inputError(what, path, err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s file %s: not a regular file", what, path)
	}
	if st.Size() == 0 {
		return 0, fmt.Errorf("%s file %s: empty", what, path)
	}
	return st.Size(), nil
}

// inputError names the input and keeps the cause ("no such file or
// directory") without repeating the path as *fs.PathError would.
func inputError(what, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s file %s: %w", what, path, err)
}

// write writes the whole image into f, which is empty.
func (p *layout) write(f *os.File) error {
	if err := f.Truncate(p.info.Size); err != nil {
		return err
	}
	// file.New wraps our *os.File; go-diskfs never closes it (we do).
	d, err := diskfs.OpenBackend(file.New(f, false), diskfs.WithSectorSize(sectorSize))
	if err != nil {
		return fmt.Errorf("opening image with go-diskfs: %w", err)
	}
	var attrs uint64
	if p.spec.BIOS {
		attrs |= legacyBIOSBootable
	}
	first := uint64(p.info.ESPOffset / sectorSize)
	table := &gpt.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		ProtectiveMBR:      true,
		GUID:               p.info.DiskGUID,
		Partitions: []*gpt.Partition{{
			Index:      1,
			Start:      first,
			End:        first + uint64(p.info.ESPSize/sectorSize) - 1,
			Type:       gpt.EFISystemPartition,
			Name:       espPartitionName,
			GUID:       p.info.ESPGUID,
			Attributes: attrs,
		}},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("writing GPT: %w", err)
	}
	if err := p.writeESP(d); err != nil {
		return err
	}
	if err := p.fixFAT(f); err != nil {
		return err
	}
	if p.spec.BIOS {
		if err := p.installSyslinux(f); err != nil {
			return err
		}
		// Again, as syslinux's mtools writes entries and FSInfo of its own.
		if err := p.fixFAT(f); err != nil {
			return err
		}
	}
	return nil
}

func (p *layout) fixFAT(f *os.File) error {
	esp := region{f: f, off: p.info.ESPOffset}
	if err := fixFAT(esp, p.fatTime, p.volumeID, uint32(p.info.ESPOffset/sectorSize)); err != nil {
		return fmt.Errorf("fixing up the ESP's FAT: %w", err)
	}
	return nil
}
