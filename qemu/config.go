// Package qemu boots builds in QEMU: `rlbuild boot`, the tests and the lab
// runner's virtual machines all start QEMU through it, so the machine
// type, firmware, console wiring and disk handling are decided in one
// place. Non-interactive runs hand the serial console to package console
// for scripted matching; interactive runs give it to the terminal.
//
// The built disk image is never written to unless asked (Config.Writable):
// its digest is recorded in the build manifest and must stay valid.
package qemu

import (
	"fmt"
	"strings"

	"github.com/rlgo/redleaf/images/manifest"
)

// Config describes one QEMU run. The zero values of the optional fields
// are the defaults.
type Config struct {
	// Arch is the guest's GOARCH: amd64 or arm64.
	Arch string
	// Mode is how to boot.
	Mode Mode

	// Kernel, Initrd and Cmdline are for Kernel mode, where Kernel is
	// required. Disk modes boot what the disk's boot loader says and
	// reject them.
	Kernel, Initrd, Cmdline string
	// Disk is the raw disk image, required by the disk modes (UEFI,
	// BIOS). In Kernel mode it is attached if set.
	Disk string

	// MemoryMiB is the guest's memory (default 1024).
	MemoryMiB int
	// CPUs is the number of virtual CPUs (default 1: tests boot several
	// machines at once, and TCG gains little from more).
	CPUs int
	// Accel is the accelerator: "tcg" (default, works everywhere) or
	// "kvm" (needs /dev/kvm and a guest of the host's architecture).
	Accel string

	// ExtraDrives are attached after Disk, e.g. scratch NVMe disks.
	ExtraDrives []Drive
	// ExtraArgs are appended to the command line as is.
	ExtraArgs []string

	// PXE configures the network boot of PXE mode, which requires it.
	PXE *PXEConfig

	// Writable lets the guest write to Disk. By default the guest's
	// writes go to a throwaway overlay (-drive snapshot=on) so that the
	// built image, whose digest the manifest records, never changes; a
	// zero Config is thus the safe one.
	Writable bool

	// QMPSocket, if set, is the path of a Unix socket on which QEMU
	// serves the QEMU Machine Protocol (package qemu/qmp), for a virtual
	// BMC or the lab's qemu power backend. The socket's directory must
	// exist; QEMU creates the socket.
	QMPSocket string
	// SerialSocket, if set, puts the serial console on a Unix socket QEMU
	// listens on (one client at a time, like a serial line; output while
	// no client is connected is lost) instead of QEMU's stdio, so that a
	// console client (lab/console, a virtual BMC's SOL) can attach and
	// detach while the VM runs. Not with Interactive.
	SerialSocket string
	// Paused starts QEMU with its CPUs stopped (-S), as a machine that is
	// powered off until something (a virtual BMC) continues it over QMP.
	Paused bool

	// Interactive attaches the serial console and the QEMU monitor to
	// the terminal (-nographic -serial mon:stdio, Ctrl-A X quits, Ctrl-A C
	// switches to the monitor), as Run does. Otherwise the serial console
	// is QEMU's stdin/stdout and there is no monitor, as Start does.
	Interactive bool
}

// Drive is an extra disk.
type Drive struct {
	// File is the image file.
	File string
	// Format is its QEMU format (default "raw").
	Format string
	// Interface is the -drive if= value (default "virtio") for a drive
	// attached without a Device.
	Interface string
	// Device, if set, attaches the drive through -device with this
	// value plus ",drive=ID", e.g. "nvme,serial=rl0" for an NVMe disk.
	Device string
	// Snapshot sends the guest's writes to a throwaway overlay.
	Snapshot bool
	// ReadOnly makes the drive read-only to the guest.
	ReadOnly bool
}

// FromManifest returns the Config that boots the build m in mode. It fails
// when the build cannot boot that way: an unknown mode, a mode the manifest
// does not list, or no disk image for a disk mode.
func FromManifest(m *manifest.Manifest, mode Mode) (Config, error) {
	if _, err := ParseMode(string(mode)); err != nil {
		return Config{}, err
	}
	build := fmt.Sprintf("build %q (%s)", m.Name, m.Dir())
	if !m.Supports(string(mode)) {
		supported := strings.Join(m.Boot, ", ")
		if supported == "" {
			supported = "none"
		}
		return Config{}, fmt.Errorf("%s cannot boot in %s mode (its boot modes: %s): rebuild it with %s boot enabled or pick another mode", build, mode, supported, mode)
	}
	c := Config{Arch: m.Arch, Mode: mode}
	switch mode {
	case Kernel:
		if m.Kernel == "" {
			return Config{}, fmt.Errorf("%s has no kernel for %s mode", build, mode)
		}
		c.Kernel, c.Initrd, c.Cmdline = m.Path(m.Kernel), m.Path(m.Initrd), m.Cmdline
	case PXE:
		// The netboot server serves the build; the caller sets c.PXE.
	default:
		if m.Disk == "" {
			return Config{}, fmt.Errorf("%s has no disk image, which %s mode boots: rebuild it with a disk image", build, mode)
		}
		c.Disk = m.Path(m.Disk)
	}
	return c, nil
}
