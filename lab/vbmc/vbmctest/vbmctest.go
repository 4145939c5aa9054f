// Package vbmctest starts the QEMU VMs that the tests of the virtual BMC,
// the power backends and the consoles drive: cheap ones, started powered
// off, that boot nothing.
package vbmctest

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/privnet"
	"github.com/rlgo/redleaf/qemu"
)

// VM is a QEMU VM for the tests: started with its CPUs stopped (off),
// a QMP and a serial socket, an empty disk (SeaBIOS finds nothing to boot
// and says so on the serial port, which is all a power or console test
// needs) and,
// with nic, a NIC on a tap in a private network namespace (root only) so
// that boot overrides have a network device to move.
type VM struct {
	QMP, Serial string
	QEMU        *qemu.VM
}

// Start starts a VM for t, stopped when t ends; it skips t in -short mode
// or without QEMU, and (nic) without root.
func Start(t testing.TB, nic bool) VM {
	t.Helper()
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	c := qemu.Config{
		Arch: "amd64", Mode: qemu.BIOS, Disk: disk, MemoryMiB: 128,
		QMPSocket: filepath.Join(dir, "qmp.sock"), SerialSocket: filepath.Join(dir, "serial.sock"), Paused: true,
		// SeaBIOS writes to the serial port only without graphics.
		ExtraArgs: []string{"-machine", "graphics=off"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var vm *qemu.VM
	var err error
	if nic {
		if err := privnet.Usable(); err != nil {
			t.Skipf("a NIC for the boot override needs a tap: %v", err)
		}
		ns, err := privnet.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		if err := ns.AddBridge("br0", netip.Prefix{}); err != nil {
			t.Fatal(err)
		}
		if err := ns.AddTap("tap0", "br0"); err != nil {
			t.Fatal(err)
		}
		c.Mode = qemu.PXE
		c.PXE = &qemu.PXEConfig{Tap: "tap0", Firmware: "bios", AfterDisk: true}
		err = ns.Do(func() error {
			var err error
			vm, err = qemu.Start(ctx, c)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	} else {
		vm, err = qemu.Start(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { vm.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err1 := os.Stat(c.QMPSocket)
		_, err2 := os.Stat(c.SerialSocket)
		if err1 == nil && err2 == nil {
			break
		}
		select {
		case <-vm.Done():
			_, err := vm.Wait()
			t.Fatalf("QEMU exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("QEMU did not create its sockets")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return VM{QMP: c.QMPSocket, Serial: c.SerialSocket, QEMU: vm}
}
