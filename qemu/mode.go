package qemu

import (
	"fmt"
	"strings"
)

// Mode is how QEMU boots the build. The set is open: a Mode this package
// does not know yet is an error naming the known ones.
type Mode string

// The boot modes this package supports.
const (
	// Kernel boots the kernel and initrd directly (-kernel, -initrd,
	// -append): the fastest loop, no firmware or disk image involved.
	Kernel Mode = "kernel"
	// UEFI boots the disk image with UEFI firmware (OVMF on amd64, AAVMF
	// on arm64), which runs systemd-boot from the ESP.
	UEFI Mode = "uefi"
	// BIOS boots the disk image with SeaBIOS, which runs syslinux
	// (amd64 only).
	BIOS Mode = "bios"
	// PXE boots from the network through a NIC on a tap device
	// (Config.PXE), with a netboot server on the tap's network.
	PXE Mode = "pxe"
)

// Modes lists the supported modes in the order help texts show them.
var Modes = []Mode{Kernel, UEFI, BIOS, PXE}

// ParseMode returns s as a Mode if this package supports it.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("boot mode %q is not supported yet (supported: %s)", s, modeList())
}

func modeList() string {
	s := make([]string, len(Modes))
	for i, m := range Modes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}
