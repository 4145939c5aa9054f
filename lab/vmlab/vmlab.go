// Package vmlab starts the QEMU machines of a lab in a box: each VM with
// a NIC on a tap of a bridge in a private network namespace (where a
// netboot server serves it), a QMP and a serial socket, optionally an
// NVMe disk, powered off until its virtual BMC (Redfish and/or IPMI, in
// the same namespace) or the qemu power backend turns it on. It is
// `rlbuild lab vm`, and the lab-in-a-box tests use it in-process.
package vmlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/rlgo/redleaf/lab/vbmc"
	"github.com/rlgo/redleaf/netboot/privnet"
	"github.com/rlgo/redleaf/qemu"
)

// Machine is one VM to start.
type Machine struct {
	Name     string
	Arch     string // amd64 (default) or arm64
	Firmware string // uefi (default) or bios
	MAC      string // the NIC's MAC (the inventory's first)
	// MemoryMiB is the VM's memory (default 512).
	MemoryMiB int
	// NVMeMiB attaches a blank NVMe disk of this size (0: none).
	NVMeMiB int
	// Redfish and IPMI are the virtual BMC's listen addresses in the
	// namespace; both empty means no BMC (power it with the qemu backend
	// on VM.QMP).
	Redfish, IPMI string
	// User and Password are the BMC's credentials.
	User, Password string
}

// Config describes the lab's VMs.
type Config struct {
	Machines []Machine
	// NS is the network namespace of the bridge, the VMs and the BMCs.
	NS *privnet.NS
	// Bridge is the boot network's bridge in NS; each VM gets a tap on it.
	Bridge string
	// Dir holds the sockets and disks (default: a temporary directory,
	// removed by Close).
	Dir string
	// Log gets the BMCs' actions (default: discard).
	Log *slog.Logger
	// BMCNet, if set, is where the BMCs listen instead of NS (e.g. the
	// host's loopback, for an agent running outside NS).
	BMCNet vbmc.Network
}

// VM is a started machine.
type VM struct {
	Machine
	QMP, Serial string
	QEMU        *qemu.VM
	BMC         *vbmc.BMC // nil without Redfish and IPMI
}

// Lab is the started VMs.
type Lab struct {
	VMs    []*VM
	dir    string
	tmpDir bool
}

// Start starts every machine; on an error it stops those it started.
func Start(ctx context.Context, cfg Config) (*Lab, error) {
	if cfg.NS == nil || cfg.Bridge == "" {
		return nil, errors.New("vmlab: a network namespace and its bridge are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	l := &Lab{dir: cfg.Dir}
	if l.dir == "" {
		d, err := os.MkdirTemp("", "rlbuild-labvm-")
		if err != nil {
			return nil, err
		}
		l.dir, l.tmpDir = d, true
	}
	seen := map[string]bool{}
	for i, m := range cfg.Machines {
		if m.Name == "" || seen[m.Name] {
			l.Close()
			return nil, fmt.Errorf("vmlab: machine %d: name %q is empty or repeated", i+1, m.Name)
		}
		seen[m.Name] = true
		vm, err := l.start(ctx, cfg, m, i)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("vmlab: machine %s: %w", m.Name, err)
		}
		l.VMs = append(l.VMs, vm)
	}
	return l, nil
}

func (l *Lab) start(ctx context.Context, cfg Config, m Machine, i int) (*VM, error) {
	dir := filepath.Join(l.dir, m.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tap := fmt.Sprintf("vmtap%d", i)
	if err := cfg.NS.AddTap(tap, cfg.Bridge); err != nil {
		return nil, err
	}
	if m.Arch == "" {
		m.Arch = "amd64"
	}
	if m.Firmware == "" {
		m.Firmware = "uefi"
	}
	if m.MemoryMiB == 0 {
		m.MemoryMiB = 512
	}
	c := qemu.Config{
		Arch: m.Arch, Mode: qemu.PXE, MemoryMiB: m.MemoryMiB,
		PXE:       &qemu.PXEConfig{Tap: tap, MAC: m.MAC, Firmware: m.Firmware},
		QMPSocket: filepath.Join(dir, "qmp.sock"), SerialSocket: filepath.Join(dir, "serial.sock"),
		Paused: true, // off until its BMC powers it on
	}
	if m.Arch == "amd64" {
		// SeaBIOS writes to the serial port only without graphics.
		c.ExtraArgs = []string{"-machine", "graphics=off"}
	}
	if m.NVMeMiB > 0 {
		img := filepath.Join(dir, "nvme.img")
		f, err := os.Create(img)
		if err != nil {
			return nil, err
		}
		err = errors.Join(f.Truncate(int64(m.NVMeMiB)<<20), f.Close())
		if err != nil {
			return nil, err
		}
		c.ExtraDrives = []qemu.Drive{{File: img, Device: "nvme,serial=" + m.Name}}
	}
	var q *qemu.VM
	err := cfg.NS.Do(func() error {
		var err error
		q, err = qemu.Start(context.WithoutCancel(ctx), c)
		return err
	})
	if err != nil {
		return nil, err
	}
	vm := &VM{Machine: m, QMP: c.QMPSocket, Serial: c.SerialSocket, QEMU: q}
	if err := waitSockets(ctx, q, c.QMPSocket, c.SerialSocket); err != nil {
		q.Close()
		return nil, err
	}
	if m.Redfish != "" || m.IPMI != "" {
		var bmcNet vbmc.Network = cfg.NS
		if cfg.BMCNet != nil {
			bmcNet = cfg.BMCNet
		}
		b, err := vbmc.Start(ctx, vbmc.Config{Name: m.Name, QMPSocket: c.QMPSocket, SerialSocket: c.SerialSocket,
			User: m.User, Password: m.Password, Redfish: m.Redfish, IPMI: m.IPMI, Net: bmcNet, Log: cfg.Log})
		if err != nil {
			q.Close()
			return nil, err
		}
		vm.BMC = b
	}
	return vm, nil
}

// waitSockets waits until QEMU has created its sockets (it does so
// before it runs anything) or exits.
func waitSockets(ctx context.Context, q *qemu.VM, paths ...string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		ready := true
		for _, p := range paths {
			// Stat, not dial: QEMU serves one client per socket.
			if fi, err := os.Stat(p); err != nil || fi.Mode()&os.ModeSocket == 0 {
				ready = false
				break
			}
		}
		if ready {
			// The file appears at bind(), a moment before QEMU listens:
			// wait until the QMP socket (the first) takes a connection
			// (QMP accepts the next client once this one is gone).
			if c, err := net.Dial("unix", paths[0]); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-q.Done():
			_, err := q.Wait()
			return fmt.Errorf("QEMU exited: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("QEMU did not create its sockets: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the BMCs and the VMs and removes a temporary directory.
func (l *Lab) Close() error {
	var err error
	for _, vm := range l.VMs {
		if vm.BMC != nil {
			err = errors.Join(err, vm.BMC.Close())
		}
		err = errors.Join(err, vm.QEMU.Close())
	}
	l.VMs = nil
	if l.tmpDir {
		err = errors.Join(err, os.RemoveAll(l.dir))
	}
	return err
}
