// Package pxevm PXE-boots QEMU virtual machines through the netboot
// server in a private network: a network namespace with a bridge, the
// server bound to the bridge, and one tap per VM. Nothing in it touches
// the host's networks. `rlbuild boot --mode pxe` and the netboot
// end-to-end tests use it.
//
// It needs root (network namespaces and taps); TCG runs the guests.
package pxevm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/netboot/privnet"
	"github.com/rlgo/redleaf/netboot/profile"
	"github.com/rlgo/redleaf/netboot/server"
	"github.com/rlgo/redleaf/qemu"
)

// Bridge is the boot network's bridge inside the namespace.
const Bridge = "br0"

// DefaultSubnet is the boot network; the server is its first address.
var DefaultSubnet = netip.MustParsePrefix("10.77.0.0/24")

// Config describes a lab.
type Config struct {
	// File is the netboot configuration. Its server.interface is set
	// to the bridge; a missing state directory becomes a temporary one.
	File *profile.File
	// Subnet is the boot network (default DefaultSubnet).
	Subnet netip.Prefix
	// Log is the server's logger (default slog.Default()).
	Log *slog.Logger
	// NoServer creates the network without starting the server, for a
	// test that starts it itself (StartServer).
	NoServer bool
}

// Lab is a private boot network with its netboot server.
type Lab struct {
	// NS is the namespace of the bridge, the server and the VMs.
	NS *privnet.NS
	// ServerAddr is the server's address on the bridge.
	ServerAddr netip.Prefix

	cfg      Config
	stateDir string
	tmpState bool

	mu     sync.Mutex
	srv    *server.Server
	stop   context.CancelFunc
	done   chan error
	taps   int
	closed bool
}

// New creates the network and starts the server on it.
func New(cfg Config) (*Lab, error) {
	if cfg.File == nil {
		return nil, errors.New("pxevm: no netboot configuration")
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = DefaultSubnet
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ns, err := privnet.New()
	if err != nil {
		return nil, fmt.Errorf("pxevm: %w", err)
	}
	first := cfg.Subnet.Masked().Addr().Next()
	l := &Lab{NS: ns, ServerAddr: netip.PrefixFrom(first, cfg.Subnet.Bits()), cfg: cfg}
	if err := ns.AddBridge(Bridge, l.ServerAddr); err != nil {
		ns.Close()
		return nil, fmt.Errorf("pxevm: %w", err)
	}
	cfg.File.Server.Interface = Bridge
	l.stateDir = cfg.File.Server.StateDir
	if l.stateDir == "" {
		if l.stateDir, err = os.MkdirTemp("", "rlbuild-netboot-state-"); err != nil {
			ns.Close()
			return nil, err
		}
		l.tmpState = true
		cfg.File.Server.StateDir = l.stateDir
	}
	if !cfg.NoServer {
		if err := l.StartServer(); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// StartServer starts the netboot server (again, after StopServer: with
// the same state directory, so leases and boot state carry over).
func (l *Lab) StartServer() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv != nil {
		return errors.New("pxevm: the server is running")
	}
	srv, err := server.New(server.Config{File: l.cfg.File, Log: l.cfg.Log, NS: l.NS})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.srv, l.stop, l.done = srv, cancel, make(chan error, 1)
	go func() { l.done <- srv.Serve(ctx) }()
	return nil
}

// StopServer stops the netboot server; VMs keep running.
func (l *Lab) StopServer() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv == nil {
		return nil
	}
	l.stop()
	err := <-l.done
	l.srv = nil
	return err
}

// Server returns the running server (nil if stopped).
func (l *Lab) Server() *server.Server {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.srv
}

// StartVM starts a QEMU VM in PXE mode on a new tap of the bridge.
// c.Mode is set to PXE and c.PXE.Tap to the tap; the rest of c.PXE
// (MAC, firmware, ROM) is the caller's. Close the VM when done.
func (l *Lab) StartVM(ctx context.Context, c qemu.Config, opts ...qemu.StartOption) (*qemu.VM, error) {
	tap, err := l.addTap()
	if err != nil {
		return nil, err
	}
	c.Mode = qemu.PXE
	p := qemu.PXEConfig{}
	if c.PXE != nil {
		p = *c.PXE
	}
	p.Tap = tap
	c.PXE = &p
	var vm *qemu.VM
	err = l.NS.Do(func() error {
		var err error
		vm, err = qemu.Start(ctx, c, opts...)
		return err
	})
	return vm, err
}

// RunVM runs a QEMU VM in PXE mode interactively (qemu.Run) on a new
// tap of the bridge, until it exits.
func (l *Lab) RunVM(ctx context.Context, c qemu.Config) (int, error) {
	tap, err := l.addTap()
	if err != nil {
		return -1, err
	}
	c.Mode = qemu.PXE
	p := qemu.PXEConfig{}
	if c.PXE != nil {
		p = *c.PXE
	}
	p.Tap = tap
	c.PXE = &p
	var code int
	err = l.NS.Do(func() error {
		var err error
		code, err = qemu.Run(ctx, c)
		return err
	})
	return code, err
}

func (l *Lab) addTap() (string, error) {
	l.mu.Lock()
	l.taps++
	name := fmt.Sprintf("tap%d", l.taps)
	l.mu.Unlock()
	if err := l.NS.AddTap(name, Bridge); err != nil {
		return "", fmt.Errorf("pxevm: %w", err)
	}
	return name, nil
}

// Close stops the server and removes the network (and a temporary state
// directory). VMs must be closed first.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	err := l.StopServer()
	err = errors.Join(err, l.NS.Close())
	if l.tmpState {
		os.RemoveAll(l.stateDir)
	}
	return err
}

// Quick returns the configuration that boots one build for every
// machine, with full DHCP: what `rlbuild boot --mode pxe` uses.
func Quick(m *manifest.Manifest) (*profile.File, error) {
	return server.Quick(Bridge, m.Dir(), "full", "")
}

// Start is what `rlbuild boot --mode pxe` does without a terminal: a
// private network serving the build m to every machine, and a VM
// booting from it (c.PXE may choose the firmware and the MAC). The
// returned function stops the VM and removes the network.
func Start(ctx context.Context, m *manifest.Manifest, c qemu.Config, log *slog.Logger, opts ...qemu.StartOption) (*qemu.VM, func() error, error) {
	f, err := Quick(m)
	if err != nil {
		return nil, nil, err
	}
	lab, err := New(Config{File: f, Log: log})
	if err != nil {
		return nil, nil, err
	}
	vm, err := lab.StartVM(ctx, c, opts...)
	if err != nil {
		lab.Close()
		return nil, nil, err
	}
	return vm, func() error { return errors.Join(vm.Close(), lab.Close()) }, nil
}

// Run is Start with the VM's console on the terminal (qemu.Run).
func Run(ctx context.Context, m *manifest.Manifest, c qemu.Config, log *slog.Logger) (int, error) {
	f, err := Quick(m)
	if err != nil {
		return -1, err
	}
	lab, err := New(Config{File: f, Log: log})
	if err != nil {
		return -1, err
	}
	defer lab.Close()
	return lab.RunVM(ctx, c)
}
