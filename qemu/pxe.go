package qemu

import (
	"errors"
	"fmt"
	"net"

	"github.com/rlgo/redleaf/host"
)

// PXEConfig configures PXE mode: the guest boots from the network through a
// NIC on an existing tap device, so the netboot server must be on the
// tap's network (see package netboot/privnet for a private one).
type PXEConfig struct {
	// Tap is the tap device of the NIC. It must exist in the network
	// namespace QEMU runs in, and QEMU must be allowed to open it.
	Tap string
	// MAC is the NIC's address (default 52:54:00:12:34:56).
	MAC string
	// Firmware is "uefi" (default: OVMF, or AAVMF on arm64) or "bios"
	// (SeaBIOS, amd64 only).
	Firmware string
	// NativePXE leaves out the NIC's iPXE option ROM, so that OVMF's
	// own PXE and HTTP boot client boots (UEFI only: SeaBIOS cannot
	// boot from the network without the ROM). By default the NIC has
	// QEMU's iPXE ROM (efi-virtio.rom, pxe-virtio.rom from Debian's
	// ipxe-qemu), which boots under both firmwares.
	NativePXE bool
	// Model is the NIC's QEMU device (default virtio-net-pci).
	Model string
	// AfterDisk puts the NIC second in the boot order, after Config.Disk
	// (which then boots first), as on a lab machine that boots from its
	// disk unless its BMC is told to boot from the network once. Without
	// it the NIC boots first.
	AfterDisk bool
}

// Device ids of the boot devices (the NIC's when Config.QMPSocket is set,
// the disk's with PXEConfig.AfterDisk), so that a QMP client can change
// their boot order (qom-set /machine/peripheral/ID bootindex) for the next
// reset.
const (
	NICID  = "rlnic0"
	DiskID = "rldisk0"
)

// DefaultMAC is the NIC address when PXEConfig.MAC is empty (QEMU's default).
const DefaultMAC = "52:54:00:12:34:56"

// ipxeROM is the option ROM QEMU loads for a virtio-net NIC on x86 by
// default; QEMU fails to start without it.
var ipxeROM = host.File{
	What:    "QEMU's iPXE option ROM for virtio-net (efi-virtio.rom)",
	Paths:   []string{"/usr/share/qemu/efi-virtio.rom", "/usr/lib/ipxe/qemu/efi-virtio.rom"},
	Package: "ipxe-qemu",
}

func (c Config) checkPXE(mach machine) error {
	p := c.PXE
	if p == nil || p.Tap == "" {
		return errors.New("pxe mode needs a NIC on a tap device (Config.PXE.Tap)")
	}
	if c.Kernel != "" || c.Initrd != "" || c.Cmdline != "" {
		return errors.New("pxe mode boots what the netboot server serves: kernel, initrd and command line apply to kernel mode only")
	}
	if p.MAC != "" {
		if hw, err := net.ParseMAC(p.MAC); err != nil || len(hw) != 6 {
			return fmt.Errorf("pxe mode: %q is not a MAC address", p.MAC)
		}
	}
	switch p.Firmware {
	case "", "uefi":
	case "bios":
		if !mach.hasBIOS {
			return fmt.Errorf("pxe mode with bios firmware needs a PC: %s boots with uefi", c.Arch)
		}
		if p.NativePXE {
			return errors.New("pxe mode: SeaBIOS has no network boot of its own: use the iPXE ROM (NativePXE false) or uefi firmware")
		}
	default:
		return fmt.Errorf("pxe mode: unknown firmware %q (uefi, bios)", p.Firmware)
	}
	return nil
}

// pxeArgs returns the firmware and NIC arguments of PXE mode. The NIC
// comes first in the boot order (bootindex, which OVMF follows, and -boot
// n for SeaBIOS); a disk, if attached, comes after it.
func (c Config) pxeArgs(mach machine, workdir string) ([]string, error) {
	p := c.PXE
	var args []string
	if p.Firmware != "bios" {
		fw, err := uefiFirmware(mach, workdir, "to PXE boot with UEFI")
		if err != nil {
			return nil, err
		}
		args = append(args, fw...)
	}
	model := p.Model
	if model == "" {
		model = "virtio-net-pci"
	}
	mac := p.MAC
	if mac == "" {
		mac = DefaultMAC
	}
	dev := model + ",netdev=pxe0,mac=" + mac
	if c.QMPSocket != "" {
		dev += ",id=" + NICID
	}
	if p.AfterDisk && c.Disk != "" {
		dev += ",bootindex=1"
	} else {
		dev += ",bootindex=0"
	}
	if p.NativePXE {
		dev += ",romfile="
	} else if c.Arch == "amd64" && model == "virtio-net-pci" {
		if _, err := host.Find(ipxeROM, "for the PXE boot NIC"); err != nil {
			return nil, err
		}
	}
	args = append(args,
		"-netdev", "tap,id=pxe0,ifname="+escape(p.Tap)+",script=no,downscript=no",
		"-device", dev,
	)
	if !p.AfterDisk || c.Disk == "" {
		args = append(args, "-boot", "n")
	}
	return args, nil
}
