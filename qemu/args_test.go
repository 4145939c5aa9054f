package qemu

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/host"
)

// artifacts writes empty stand-ins for a build's files.
func artifacts(t *testing.T) (kernel, initrd, disk string) {
	t.Helper()
	dir := t.TempDir()
	kernel, initrd, disk = filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.gz"), filepath.Join(dir, "disk.img")
	for _, p := range []string{kernel, initrd, disk} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return kernel, initrd, disk
}

// hasSeq reports whether args contains seq as consecutive elements.
func hasSeq(args []string, seq ...string) bool {
	for i := 0; i+len(seq) <= len(args); i++ {
		if slices.Equal(args[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

func mustArgs(t *testing.T, c Config, workdir string) (string, []string) {
	t.Helper()
	bin, args, err := c.Args(workdir)
	if err != nil {
		t.Fatalf("Args: %v", err)
	}
	return bin, args
}

func want(t *testing.T, args []string, seqs ...[]string) {
	t.Helper()
	for _, s := range seqs {
		if !hasSeq(args, s...) {
			t.Errorf("args lack %q:\n%q", s, args)
		}
	}
}

func dontWant(t *testing.T, args []string, seqs ...[]string) {
	t.Helper()
	for _, s := range seqs {
		if hasSeq(args, s...) {
			t.Errorf("args have %q:\n%q", s, args)
		}
	}
}

// common are the arguments every scripted run has.
var common = [][]string{
	{"-accel", "tcg"}, {"-m", "1024"}, {"-smp", "1"}, {"-nodefaults"}, {"-no-reboot"},
	{"-display", "none"}, {"-serial", "stdio"}, {"-monitor", "none"},
}

func TestArgsKernelAMD64(t *testing.T) {
	k, i, _ := artifacts(t)
	bin, args := mustArgs(t, Config{Arch: "amd64", Mode: Kernel, Kernel: k, Initrd: i, Cmdline: "console=ttyS0,115200 quiet"}, t.TempDir())
	if filepath.Base(bin) != "qemu-system-x86_64" {
		t.Errorf("bin = %s", bin)
	}
	if args[0] != "-M" || args[1] != "q35" {
		t.Errorf("args start with %q, want -M q35", args[:2])
	}
	want(t, args, common...)
	want(t, args, []string{"-kernel", k}, []string{"-initrd", i}, []string{"-append", "console=ttyS0,115200 quiet"})
	dontWant(t, args, []string{"-cpu"}, []string{"-nographic"})
	for _, a := range args {
		if strings.Contains(a, "pflash") || strings.HasPrefix(a, "file=") {
			t.Errorf("kernel mode without a disk has a drive: %q", a)
		}
	}
}

func TestArgsKernelWithoutInitrdOrCmdline(t *testing.T) {
	k, _, _ := artifacts(t)
	_, args := mustArgs(t, Config{Arch: "amd64", Mode: Kernel, Kernel: k}, "")
	dontWant(t, args, []string{"-initrd"}, []string{"-append"})
}

func TestArgsUEFIAMD64(t *testing.T) {
	_, _, d := artifacts(t)
	work := t.TempDir()
	_, args := mustArgs(t, Config{Arch: "amd64", Mode: UEFI, Disk: d}, work)
	code, _ := host.Find(host.OVMFCode, "")
	tmpl, _ := host.Find(host.OVMFVars, "")
	vars := filepath.Join(work, filepath.Base(tmpl))
	want(t, args, common...)
	want(t, args, []string{"-M", "q35"},
		[]string{"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + code},
		[]string{"-drive", "if=pflash,format=raw,unit=1,file=" + vars},
		[]string{"-drive", "file=" + d + ",format=raw,if=virtio,snapshot=on"})
	dontWant(t, args, []string{"-kernel"})
	sameContent(t, vars, tmpl)
}

func sameContent(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s is not a copy of %s", a, b)
	}
}

func TestArgsBIOSAMD64(t *testing.T) {
	_, _, d := artifacts(t)
	_, args := mustArgs(t, Config{Arch: "amd64", Mode: BIOS, Disk: d}, "")
	want(t, args, common...)
	want(t, args, []string{"-M", "q35"}, []string{"-drive", "file=" + d + ",format=raw,if=virtio,snapshot=on"})
	for _, a := range args {
		if strings.Contains(a, "pflash") || a == "-kernel" || a == "-bios" {
			t.Errorf("bios mode has %q", a)
		}
	}
}

func TestArgsWritable(t *testing.T) {
	_, _, d := artifacts(t)
	_, args := mustArgs(t, Config{Arch: "amd64", Mode: BIOS, Disk: d, Writable: true}, "")
	want(t, args, []string{"-drive", "file=" + d + ",format=raw,if=virtio"})
}

func TestArgsKernelARM64(t *testing.T) {
	k, i, _ := artifacts(t)
	bin, args := mustArgs(t, Config{Arch: "arm64", Mode: Kernel, Kernel: k, Initrd: i, Cmdline: "console=ttyAMA0"}, "")
	if filepath.Base(bin) != "qemu-system-aarch64" {
		t.Errorf("bin = %s", bin)
	}
	want(t, args, common...)
	want(t, args, []string{"-M", "virt", "-cpu", "cortex-a57"}, []string{"-kernel", k}, []string{"-initrd", i}, []string{"-append", "console=ttyAMA0"})
}

func TestArgsUEFIARM64(t *testing.T) {
	_, _, d := artifacts(t)
	work := t.TempDir()
	_, args := mustArgs(t, Config{Arch: "arm64", Mode: UEFI, Disk: d}, work)
	code, _ := host.Find(host.AAVMFCode, "")
	tmpl, _ := host.Find(host.AAVMFVars, "")
	vars := filepath.Join(work, filepath.Base(tmpl))
	want(t, args, common...)
	want(t, args, []string{"-M", "virt", "-cpu", "cortex-a57"},
		[]string{"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + code},
		[]string{"-drive", "if=pflash,format=raw,unit=1,file=" + vars},
		[]string{"-drive", "file=" + d + ",format=raw,if=virtio,snapshot=on"})
	st, err := os.Stat(vars)
	if err != nil {
		t.Fatal(err)
	}
	// QEMU's virt machine takes only pflash images of exactly 64 MiB.
	if st.Size() != 64<<20 {
		t.Errorf("%s has %d bytes, want 64 MiB", vars, st.Size())
	}
}

func TestArgsInteractive(t *testing.T) {
	k, _, _ := artifacts(t)
	_, args := mustArgs(t, Config{Arch: "amd64", Mode: Kernel, Kernel: k, Interactive: true}, "")
	want(t, args, []string{"-nographic", "-serial", "mon:stdio"})
	dontWant(t, args, []string{"-monitor", "none"}, []string{"-display", "none"}, []string{"-serial", "stdio"})
}

func TestArgsResourcesAndExtras(t *testing.T) {
	k, _, d := artifacts(t)
	comma := filepath.Join(t.TempDir(), "nvme,0.img")
	if err := os.WriteFile(comma, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, args := mustArgs(t, Config{
		Arch: "amd64", Mode: Kernel, Kernel: k, Disk: d, MemoryMiB: 2048, CPUs: 2,
		ExtraDrives: []Drive{
			{File: comma, Device: "nvme,serial=rl0", Snapshot: true},
			{File: d, Format: "qcow2", Interface: "ide", ReadOnly: true},
			{File: d},
		},
		ExtraArgs: []string{"-d", "guest_errors"},
	}, "")
	escaped := strings.ReplaceAll(comma, ",", ",,")
	want(t, args, []string{"-m", "2048"}, []string{"-smp", "2"},
		// In kernel mode a disk is attached if given.
		[]string{"-drive", "file=" + d + ",format=raw,if=virtio,snapshot=on"},
		[]string{"-drive", "file=" + escaped + ",format=raw,snapshot=on,if=none,id=extra0", "-device", "nvme,serial=rl0,drive=extra0"},
		[]string{"-drive", "file=" + d + ",format=qcow2,readonly=on,if=ide"},
		[]string{"-drive", "file=" + d + ",format=raw,if=virtio"})
	if !slices.Equal(args[len(args)-2:], []string{"-d", "guest_errors"}) {
		t.Errorf("extra args are not last: %q", args)
	}
}

func TestArgsKVM(t *testing.T) {
	k, _, _ := artifacts(t)
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	if other != "" {
		_, _, err := Config{Arch: other, Mode: Kernel, Kernel: k, Accel: "kvm"}.Args("")
		if err == nil || !strings.Contains(err.Error(), "accel kvm runs only guests of the host's architecture") {
			t.Errorf("kvm for a foreign arch: %v", err)
		}
	}
	_, args, err := Config{Arch: runtime.GOARCH, Mode: Kernel, Kernel: k, Accel: "kvm"}.Args("")
	if _, serr := os.Stat("/dev/kvm"); serr != nil {
		if err == nil || !strings.Contains(err.Error(), "/dev/kvm") || !strings.Contains(err.Error(), "use tcg") {
			t.Errorf("kvm without /dev/kvm: %v", err)
		}
		return
	}
	if err != nil {
		t.Skipf("kvm not usable: %v", err)
	}
	want(t, args, []string{"-accel", "kvm"}, []string{"-cpu", "host"})
}

func TestArgsErrors(t *testing.T) {
	k, i, d := artifacts(t)
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct {
		name string
		c    Config
		work string
		want string
	}{
		{"unknown arch", Config{Arch: "riscv64", Mode: Kernel, Kernel: k}, "", `cannot boot arch "riscv64": supported are amd64, arm64`},
		{"no arch", Config{Mode: Kernel, Kernel: k}, "", `cannot boot arch ""`},
		{"floppy", Config{Arch: "amd64", Mode: "floppy", Disk: d}, "", `boot mode "floppy" is not supported yet (supported: kernel, uefi, bios, pxe)`},
		{"no mode", Config{Arch: "amd64", Kernel: k}, "", `boot mode "" is not supported yet`},
		{"no kernel", Config{Arch: "amd64", Mode: Kernel, Initrd: i}, "", "kernel mode needs a kernel image"},
		{"missing kernel", Config{Arch: "amd64", Mode: Kernel, Kernel: missing}, "", "kernel: stat " + missing + ": no such file or directory"},
		{"missing initrd", Config{Arch: "amd64", Mode: Kernel, Kernel: k, Initrd: missing}, "", "initrd: stat " + missing},
		{"uefi without disk", Config{Arch: "amd64", Mode: UEFI}, "x", "uefi mode needs a disk image"},
		{"bios without disk", Config{Arch: "amd64", Mode: BIOS}, "", "bios mode needs a disk image"},
		{"missing disk", Config{Arch: "amd64", Mode: BIOS, Disk: missing}, "", "disk image: stat " + missing},
		{"uefi with kernel", Config{Arch: "amd64", Mode: UEFI, Disk: d, Cmdline: "quiet"}, "x", "uefi mode boots the disk's boot loader"},
		{"bios on arm64", Config{Arch: "arm64", Mode: BIOS, Disk: d}, "", "bios mode needs a PC: arm64 boots in uefi or kernel mode"},
		{"uefi without workdir", Config{Arch: "amd64", Mode: UEFI, Disk: d}, "", "UEFI mode needs a work directory"},
		{"bad accel", Config{Arch: "amd64", Mode: Kernel, Kernel: k, Accel: "hvf"}, "", `unknown accelerator "hvf": use tcg (default) or kvm`},
		{"negative memory", Config{Arch: "amd64", Mode: Kernel, Kernel: k, MemoryMiB: -1}, "", "must not be negative"},
		{"drive without file", Config{Arch: "amd64", Mode: Kernel, Kernel: k, ExtraDrives: []Drive{{Device: "nvme"}}}, "", "extra drive 1 has no file"},
		{"drive iface and device", Config{Arch: "amd64", Mode: Kernel, Kernel: k, ExtraDrives: []Drive{{File: d, Device: "nvme", Interface: "ide"}}}, "", "sets both Interface and Device"},
		{"missing drive", Config{Arch: "amd64", Mode: Kernel, Kernel: k, ExtraDrives: []Drive{{File: missing}}}, "", "extra drive 1: stat " + missing},
	} {
		_, _, err := tc.c.Args(tc.work)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestArgsMissingQEMU(t *testing.T) {
	k, _, _ := artifacts(t)
	t.Setenv("PATH", t.TempDir())
	for arch, pkg := range map[string]string{"amd64": "qemu-system-x86", "arm64": "qemu-system-arm"} {
		_, _, err := Config{Arch: arch, Mode: Kernel, Kernel: k}.Args("")
		var me *host.MissingError
		if !errors.As(err, &me) {
			t.Fatalf("%s: err = %v, want a *host.MissingError", arch, err)
		}
		if !strings.Contains(err.Error(), "apt-get install "+pkg) {
			t.Errorf("%s: error %q does not name %s", arch, err, pkg)
		}
	}
}

func TestArgsMissingFirmware(t *testing.T) {
	_, _, d := artifacts(t)
	saved := machines["amd64"]
	t.Cleanup(func() { machines["amd64"] = saved })
	m := saved
	m.fwCode = host.File{What: "OVMF UEFI firmware (code)", Paths: []string{filepath.Join(t.TempDir(), "OVMF_CODE.fd")}, Package: "ovmf"}
	machines["amd64"] = m
	_, _, err := Config{Arch: "amd64", Mode: UEFI, Disk: d}.Args(t.TempDir())
	var me *host.MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "apt-get install ovmf") {
		t.Errorf("err = %v, want a *host.MissingError naming ovmf", err)
	}
}

func TestSerialConsole(t *testing.T) {
	if SerialConsole("amd64") != "ttyS0" || SerialConsole("arm64") != "ttyAMA0" || SerialConsole("mips") != "" {
		t.Error("wrong serial console names")
	}
}
