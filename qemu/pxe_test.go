package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/host"
	"github.com/rlgo/redleaf/images/manifest"
)

func TestArgsPXE(t *testing.T) {
	if _, err := host.Find(ipxeROM, ""); err != nil {
		t.Skip(err)
	}
	_, _, d := artifacts(t)
	for _, tc := range []struct {
		name     string
		c        Config
		want     [][]string
		dontWant [][]string
		uefi     bool
	}{
		{
			name: "bios with iPXE ROM",
			c:    Config{Arch: "amd64", Mode: PXE, PXE: &PXEConfig{Tap: "tap0", Firmware: "bios"}},
			want: [][]string{
				{"-netdev", "tap,id=pxe0,ifname=tap0,script=no,downscript=no"},
				{"-device", "virtio-net-pci,netdev=pxe0,mac=52:54:00:12:34:56,bootindex=0"},
				{"-boot", "n"},
			},
		},
		{
			name: "uefi with iPXE ROM and a disk",
			c:    Config{Arch: "amd64", Mode: PXE, Disk: d, PXE: &PXEConfig{Tap: "t,1", MAC: "52:54:00:aa:bb:cc"}},
			want: [][]string{
				{"-netdev", "tap,id=pxe0,ifname=t,,1,script=no,downscript=no"},
				{"-device", "virtio-net-pci,netdev=pxe0,mac=52:54:00:aa:bb:cc,bootindex=0"},
				{"-drive", "file=" + d + ",format=raw,if=virtio,snapshot=on"},
			},
			uefi: true,
		},
		{
			name: "uefi native PXE",
			c:    Config{Arch: "amd64", Mode: PXE, PXE: &PXEConfig{Tap: "tap0", Firmware: "uefi", NativePXE: true, Model: "e1000"}},
			want: [][]string{{"-device", "e1000,netdev=pxe0,mac=52:54:00:12:34:56,bootindex=0,romfile="}},
			uefi: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, args := mustArgs(t, tc.c, t.TempDir())
			want(t, args, common...)
			want(t, args, tc.want...)
			dontWant(t, args, []string{"-kernel"})
			if got := strings.Contains(strings.Join(args, " "), "if=pflash"); got != tc.uefi {
				t.Errorf("UEFI firmware %v, want %v: %q", got, tc.uefi, args)
			}
		})
	}
}

func TestArgsPXEErrors(t *testing.T) {
	k, _, _ := artifacts(t)
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"no NIC", Config{Arch: "amd64", Mode: PXE}, "pxe mode needs a NIC on a tap device"},
		{"no tap", Config{Arch: "amd64", Mode: PXE, PXE: &PXEConfig{}}, "pxe mode needs a NIC on a tap device"},
		{"kernel", Config{Arch: "amd64", Mode: PXE, Kernel: k, PXE: &PXEConfig{Tap: "t"}}, "kernel, initrd and command line apply to kernel mode only"},
		{"bad MAC", Config{Arch: "amd64", Mode: PXE, PXE: &PXEConfig{Tap: "t", MAC: "52:54"}}, `"52:54" is not a MAC address`},
		{"bios on arm64", Config{Arch: "arm64", Mode: PXE, PXE: &PXEConfig{Tap: "t", Firmware: "bios"}}, "needs a PC"},
		{"native bios", Config{Arch: "amd64", Mode: PXE, PXE: &PXEConfig{Tap: "t", Firmware: "bios", NativePXE: true}}, "SeaBIOS has no network boot of its own"},
		{"firmware", Config{Arch: "amd64", Mode: PXE, PXE: &PXEConfig{Tap: "t", Firmware: "coreboot"}}, `unknown firmware "coreboot"`},
		{"uefi without workdir", Config{Arch: "amd64", Mode: PXE, PXE: &PXEConfig{Tap: "t"}}, "needs a work directory"},
	} {
		if _, _, err := tc.c.Args(""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestFromManifestPXE(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"vmlinuz", "initrd.gz"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	m := &manifest.Manifest{Name: "net", Arch: "arm64", Kernel: "vmlinuz", Initrd: "initrd.gz", Boot: []string{"kernel", "pxe"}}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	c, err := FromManifest(m, PXE)
	if err != nil || c.Mode != PXE || c.Arch != "arm64" || c.Kernel != "" || c.Disk != "" {
		t.Errorf("FromManifest(pxe) = %+v, %v", c, err)
	}
}

func TestArgsLabVM(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Config{
		Arch: "amd64", Mode: PXE, Disk: disk,
		PXE:       &PXEConfig{Tap: "tap0", Firmware: "bios", AfterDisk: true},
		QMPSocket: "/run/x,y/qmp.sock", SerialSocket: "/run/vm/serial.sock", Paused: true,
	}
	_, args, err := c.Args(t.TempDir())
	if err != nil {
		t.Skipf("host lacks QEMU pieces: %v", err)
	}
	for _, want := range [][]string{
		{"-qmp", "unix:/run/x,,y/qmp.sock,server=on,wait=off"},
		{"-chardev", "socket,id=rlserial0,path=/run/vm/serial.sock,server=on,wait=off", "-serial", "chardev:rlserial0"},
		{"-S"},
		{"-device", "virtio-net-pci,netdev=pxe0,mac=52:54:00:12:34:56,id=rlnic0,bootindex=1"},
		{"-drive", "file=" + disk + ",format=raw,if=none,id=rldisk0drv,snapshot=on", "-device", "virtio-blk-pci,drive=rldisk0drv,id=rldisk0,bootindex=0"},
	} {
		if !hasSeq(args, want...) {
			t.Errorf("args lack %q:\n%q", want, args)
		}
	}
	if hasSeq(args, "-boot", "n") || hasSeq(args, "-serial", "stdio") {
		t.Errorf("args still boot from the network first or keep the serial port on stdio:\n%q", args)
	}
	c.Interactive = true
	if _, _, err := c.Args(t.TempDir()); err == nil || !strings.Contains(err.Error(), "serial socket") {
		t.Errorf("an interactive console with a serial socket: err = %v, want one naming the serial socket", err)
	}
}
