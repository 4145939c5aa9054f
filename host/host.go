// Package host finds the programs and files rlbuild needs on the build host
// (boot loaders, firmware, QEMU) and, when one is missing, says which Debian
// package provides it. It is the one place that knows those paths.
package host

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// File is a file or program rlbuild needs from the host.
type File struct {
	// What the file is, for error messages ("systemd-boot EFI loader").
	What string
	// Paths are tried in order; the first that exists wins. For a
	// program, Paths holds names looked up in $PATH.
	Paths []string
	// Program marks Paths as program names to look up in $PATH.
	Program bool
	// Package is the Debian package that provides it.
	Package string
}

// MissingError reports a host file that is not installed.
type MissingError struct {
	File    File
	Purpose string
}

func (e *MissingError) Error() string {
	where := "at " + strings.Join(e.File.Paths, " or ")
	if e.File.Program {
		where = "in $PATH as " + strings.Join(e.File.Paths, " or ")
	}
	return fmt.Sprintf("%s (needed %s) not found %s: install the Debian package %s (apt-get install %s)",
		e.File.What, e.Purpose, where, e.File.Package, e.File.Package)
}

// Find returns the path of f, or a *MissingError naming the Debian package
// to install. purpose completes "needed ..." in the error, e.g. "for UEFI
// disk images".
func Find(f File, purpose string) (string, error) {
	for _, p := range f.Paths {
		if f.Program {
			if path, err := exec.LookPath(p); err == nil {
				return path, nil
			}
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", &MissingError{File: f, Purpose: purpose}
}

// Known host files. Paths are Debian's (bookworm and later).
var (
	SystemdBootX64 = File{
		What:    "systemd-boot EFI loader for x86-64",
		Paths:   []string{"/usr/lib/systemd/boot/efi/systemd-bootx64.efi"},
		Package: "systemd-boot-efi",
	}
	SystemdBootAA64 = File{
		What:    "systemd-boot EFI loader for arm64",
		Paths:   []string{"/usr/lib/systemd/boot/efi/systemd-bootaa64.efi"},
		Package: "systemd-boot-efi:arm64",
	}
	SyslinuxGPTMBR = File{
		What:    "syslinux GPT MBR boot code",
		Paths:   []string{"/usr/lib/syslinux/mbr/gptmbr.bin", "/usr/share/syslinux/gptmbr.bin"},
		Package: "syslinux-common",
	}
	Syslinux = File{
		What:    "syslinux installer",
		Paths:   []string{"syslinux"},
		Program: true,
		Package: "syslinux",
	}
	OVMFCode = File{
		What:    "OVMF UEFI firmware (code)",
		Paths:   []string{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"},
		Package: "ovmf",
	}
	OVMFVars = File{
		What:    "OVMF UEFI variable store template",
		Paths:   []string{"/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
		Package: "ovmf",
	}
	AAVMFCode = File{
		What:    "AAVMF UEFI firmware for arm64 (code)",
		Paths:   []string{"/usr/share/AAVMF/AAVMF_CODE.fd"},
		Package: "qemu-efi-aarch64",
	}
	AAVMFVars = File{
		What:    "AAVMF UEFI variable store template for arm64",
		Paths:   []string{"/usr/share/AAVMF/AAVMF_VARS.fd"},
		Package: "qemu-efi-aarch64",
	}
	QEMUx86 = File{
		What:    "QEMU for x86-64",
		Paths:   []string{"qemu-system-x86_64"},
		Program: true,
		Package: "qemu-system-x86",
	}
	QEMUArm64 = File{
		What:    "QEMU for arm64",
		Paths:   []string{"qemu-system-aarch64"},
		Program: true,
		Package: "qemu-system-arm",
	}
	FsckFAT = File{
		What:    "fsck.fat",
		Paths:   []string{"fsck.fat", "fsck.vfat"},
		Program: true,
		Package: "dosfstools",
	}
)
