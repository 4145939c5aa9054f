package qemu

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/host"
)

// machine is what differs between the guest architectures.
type machine struct {
	qemu    host.File
	machine string // -M for TCG
	kvmMach string // -M for KVM
	tcgCPU  string // -cpu for TCG; "" for QEMU's default
	fwCode  host.File
	fwVars  host.File
	hasBIOS bool
	console string // the guest's name for the serial port QEMU wires up
}

var machines = map[string]machine{
	// q35 rather than pc: it is the machine OVMF is developed and tested
	// on, it has PCIe for NVMe extra drives and an AHCI controller
	// built in, and SeaBIOS boots it as well as pc. Both firmwares boot
	// virtio-blk disks, so the disk is virtio on both.
	"amd64": {
		qemu:    host.QEMUx86,
		machine: "q35",
		kvmMach: "q35",
		fwCode:  host.OVMFCode,
		fwVars:  host.OVMFVars,
		hasBIOS: true,
		console: "ttyS0",
	},
	// cortex-a57 rather than max: max turns on pointer authentication
	// and other features that TCG emulates slowly, and the kernel needs
	// none of them. Under KVM the GIC must match the host's.
	"arm64": {
		qemu:    host.QEMUArm64,
		machine: "virt",
		kvmMach: "virt,gic-version=host",
		tcgCPU:  "cortex-a57",
		fwCode:  host.AAVMFCode,
		fwVars:  host.AAVMFVars,
		console: "ttyAMA0",
	},
}

// Arches lists the supported guest architectures.
func Arches() []string { return []string{"amd64", "arm64"} }

// SerialConsole returns the Linux name of the serial port that QEMU
// connects to the console for arch ("ttyS0", "ttyAMA0"), for console= on
// the kernel command line; "" for an unknown arch.
func SerialConsole(arch string) string { return machines[arch].console }

// Args returns the QEMU program and arguments that run c. For UEFI mode it
// copies the firmware's variable store template into workdir, because the
// firmware writes to it and the template is shared. Missing programs and
// firmware are reported with the Debian package to install.
func (c Config) Args(workdir string) (bin string, args []string, err error) {
	mach, ok := machines[c.Arch]
	if !ok {
		return "", nil, fmt.Errorf("cannot boot arch %q: supported are %s", c.Arch, strings.Join(Arches(), ", "))
	}
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return "", nil, err
	}
	if err := c.check(mach); err != nil {
		return "", nil, err
	}
	bin, err = host.Find(mach.qemu, "to boot "+c.Arch+" images")
	if err != nil {
		return "", nil, err
	}

	accel := c.Accel
	if accel == "" {
		accel = "tcg"
	}
	machineType, cpu := mach.machine, mach.tcgCPU
	if accel == "kvm" {
		machineType, cpu = mach.kvmMach, "host"
	}
	args = []string{"-M", machineType}
	if cpu != "" {
		args = append(args, "-cpu", cpu)
	}
	args = append(args,
		"-accel", accel,
		"-m", strconv.Itoa(cmp.Or(c.MemoryMiB, 1024)),
		"-smp", strconv.Itoa(cmp.Or(c.CPUs, 1)),
		// No default devices: no VGA (so the serial port is the only
		// console and firmware menus show up on it), no NIC (so firmware
		// does not try network boot first and the guest is offline unless
		// asked), no floppy or CD-ROM.
		"-nodefaults",
		// A reboot in the guest ends QEMU, so a test or script sees it
		// instead of booting again.
		"-no-reboot",
	)
	if c.SerialSocket != "" {
		if c.Interactive {
			return "", nil, errors.New("a serial socket and an interactive console exclude each other: the serial port is either on the terminal or on the socket")
		}
		args = append(args, "-display", "none",
			"-chardev", "socket,id=rlserial0,path="+escape(c.SerialSocket)+",server=on,wait=off",
			"-serial", "chardev:rlserial0", "-monitor", "none")
	} else if c.Interactive {
		// mon: multiplexes the monitor onto the terminal: Ctrl-A X
		// quits, Ctrl-A C switches to the monitor.
		args = append(args, "-nographic", "-serial", "mon:stdio")
	} else {
		args = append(args, "-display", "none", "-serial", "stdio", "-monitor", "none")
	}

	if c.QMPSocket != "" {
		args = append(args, "-qmp", "unix:"+escape(c.QMPSocket)+",server=on,wait=off")
	}
	if c.Paused {
		args = append(args, "-S")
	}

	switch c.Mode {
	case UEFI:
		fw, err := uefiFirmware(mach, workdir, "to boot UEFI disk images")
		if err != nil {
			return "", nil, err
		}
		args = append(args, fw...)
	case BIOS:
		// QEMU's default firmware on x86 is SeaBIOS.
	case PXE:
		net, err := c.pxeArgs(mach, workdir)
		if err != nil {
			return "", nil, err
		}
		args = append(args, net...)
	case Kernel:
		args = append(args, "-kernel", c.Kernel)
		if c.Initrd != "" {
			args = append(args, "-initrd", c.Initrd)
		}
		if c.Cmdline != "" {
			args = append(args, "-append", c.Cmdline)
		}
	}
	if c.Disk != "" {
		if c.Mode == PXE && c.PXE.AfterDisk {
			// A -drive if=virtio has no boot index: the disk goes first
			// through its own device.
			opts := "file=" + escape(c.Disk) + ",format=raw,if=none,id=" + DiskID + "drv"
			if !c.Writable {
				opts += ",snapshot=on"
			}
			dev := "virtio-blk-pci,drive=" + DiskID + "drv,id=" + DiskID + ",bootindex=0"
			args = append(args, "-drive", opts, "-device", dev)
		} else {
			opts := "file=" + escape(c.Disk) + ",format=raw,if=virtio"
			if !c.Writable {
				opts += ",snapshot=on"
			}
			args = append(args, "-drive", opts)
		}
	}
	for i, d := range c.ExtraDrives {
		args = append(args, d.args(i)...)
	}
	args = append(args, c.ExtraArgs...)
	return bin, args, nil
}

// uefiFirmware returns the -drive arguments of the UEFI firmware,
// copying the variable store template into workdir.
func uefiFirmware(mach machine, workdir, purpose string) ([]string, error) {
	code, err := host.Find(mach.fwCode, purpose)
	if err != nil {
		return nil, err
	}
	tmpl, err := host.Find(mach.fwVars, purpose)
	if err != nil {
		return nil, err
	}
	if workdir == "" {
		return nil, errors.New("UEFI mode needs a work directory for the firmware's variable store")
	}
	vars := filepath.Join(workdir, filepath.Base(tmpl))
	if err := copyFile(vars, tmpl); err != nil {
		return nil, fmt.Errorf("copying the UEFI variable store: %w", err)
	}
	return []string{
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + escape(code),
		"-drive", "if=pflash,format=raw,unit=1,file=" + escape(vars),
	}, nil
}

// check validates c before anything is looked up on the host, so that
// mistakes in the Config are reported as such.
func (c Config) check(mach machine) error {
	switch c.Mode {
	case Kernel:
		if c.Kernel == "" {
			return errors.New("kernel mode needs a kernel image")
		}
	case UEFI, BIOS:
		if c.Disk == "" {
			return fmt.Errorf("%s mode needs a disk image", c.Mode)
		}
		if c.Kernel != "" || c.Initrd != "" || c.Cmdline != "" {
			return fmt.Errorf("%s mode boots the disk's boot loader, which has its own kernel and command line: kernel, initrd and command line apply to kernel mode only", c.Mode)
		}
		if c.Mode == BIOS && !mach.hasBIOS {
			return fmt.Errorf("bios mode needs a PC: %s boots in uefi or kernel mode", c.Arch)
		}
	case PXE:
		if err := c.checkPXE(mach); err != nil {
			return err
		}
	}
	for _, f := range []struct{ what, path string }{
		{"kernel", c.Kernel}, {"initrd", c.Initrd}, {"disk image", c.Disk},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.what, err)
		}
	}
	if c.MemoryMiB < 0 || c.CPUs < 0 {
		return fmt.Errorf("memory (%d MiB) and CPUs (%d) must not be negative", c.MemoryMiB, c.CPUs)
	}
	switch c.Accel {
	case "", "tcg":
	case "kvm":
		if err := kvmUsable(c.Arch); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown accelerator %q: use tcg (default) or kvm", c.Accel)
	}
	for i, d := range c.ExtraDrives {
		if d.File == "" {
			return fmt.Errorf("extra drive %d has no file", i+1)
		}
		if d.Device != "" && d.Interface != "" {
			return fmt.Errorf("extra drive %d (%s) sets both Interface and Device: a drive attached as a device has if=none", i+1, d.File)
		}
		if _, err := os.Stat(d.File); err != nil {
			return fmt.Errorf("extra drive %d: %w", i+1, err)
		}
	}
	return nil
}

func kvmUsable(arch string) error {
	if arch != runtime.GOARCH {
		return fmt.Errorf("accel kvm runs only guests of the host's architecture (%s), not %s: use tcg", runtime.GOARCH, arch)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("accel kvm: %w (is KVM enabled and are you in the kvm group?): use tcg", err)
	}
	return f.Close()
}

func (d Drive) args(i int) []string {
	format := d.Format
	if format == "" {
		format = "raw"
	}
	opts := "file=" + escape(d.File) + ",format=" + format
	if d.Snapshot {
		opts += ",snapshot=on"
	}
	if d.ReadOnly {
		opts += ",readonly=on"
	}
	if d.Device != "" {
		id := fmt.Sprintf("extra%d", i)
		return []string{"-drive", opts + ",if=none,id=" + id, "-device", d.Device + ",drive=" + id}
	}
	iface := d.Interface
	if iface == "" {
		iface = "virtio"
	}
	return []string{"-drive", opts + ",if=" + iface}
}

// escape quotes a value inside a QEMU option list, where a comma
// separates options and ",," stands for a comma.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
