// Package runner runs cells on real machines and on the lab in a box's
// QEMU VMs: a Segment is one lab segment's boot network (the netboot
// server, in a private network namespace when the segment's machines are
// VMs the agent starts) and the cell.Runner that drives a machine
// through it: next boot set through the netboot server's API (the image
// by its manifest, the suite and a per-boot token on the command line),
// power through lab/power, every console byte through lab/console with
// tripwires, readiness from the token-authenticated "booted" event, and
// the suite's results from the results endpoint (console markers as the
// fallback).
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/rlgo/redleaf/lab/console"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/power"
	"github.com/rlgo/redleaf/lab/vmlab"
	"github.com/rlgo/redleaf/netboot/privnet"
	"github.com/rlgo/redleaf/netboot/profile"
	"github.com/rlgo/redleaf/netboot/server"
)

// Bridge is the boot network's bridge in a segment's namespace.
const Bridge = "br0"

// SegmentConfig configures a lab segment.
type SegmentConfig struct {
	Inventory *inventory.Inventory
	Lab       string
	// StateDir keeps the netboot server's leases and boot state.
	StateDir string
	// VMDir holds the VMs' sockets and disks ("" : a temporary one).
	VMDir string
	// TokenFile is the netboot API's operator credential, if it needs one.
	TokenFile string
	Log       *slog.Logger
}

// Segment is a running lab segment.
type Segment struct {
	cfg    SegmentConfig
	NS     *privnet.NS // nil for a segment on the host's interface
	Server *server.Server
	VMs    *vmlab.Lab
	vmOf   map[string]*vmlab.VM
	client *Client
	stop   context.CancelFunc
	done   chan error

	mu       sync.Mutex
	profiles map[string]string // image digest + suite args -> profile name
}

// hostNet makes the virtual BMCs listen in the host's network, where an
// agent outside the segment's namespace reaches them.
type hostNet struct{}

func (hostNet) Listen(network, addr string) (net.Listener, error) { return net.Listen(network, addr) }
func (hostNet) ListenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	return net.ListenUDP(network, laddr)
}

// StartSegment starts a segment: for VMs (machines with a vm: entry) a
// private namespace with a bridge, the VMs and their virtual BMCs; then
// the netboot server on the boot network.
func StartSegment(ctx context.Context, cfg SegmentConfig) (*Segment, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	inv := cfg.Inventory
	machines := inv.InLab(cfg.Lab)
	if len(machines) == 0 {
		return nil, fmt.Errorf("runner: the inventory has no machine in lab %q", cfg.Lab)
	}
	s := &Segment{cfg: cfg, vmOf: map[string]*vmlab.VM{}, profiles: map[string]string{}}
	lab := inv.Labs[cfg.Lab]
	if lab == nil {
		lab = &inventory.Lab{}
	}
	var vms []vmlab.Machine
	for _, m := range machines {
		if m.VM == nil {
			continue
		}
		vm := vmlab.Machine{Name: m.Name, Arch: m.Arch, Firmware: m.Firmware, MAC: m.MACs[0], MemoryMiB: m.VM.MemoryMiB,
			NVMeMiB: m.VM.NVMeMiB, Redfish: m.VM.Redfish, IPMI: m.VM.IPMI, User: m.Power.User}
		if vm.Redfish != "" || vm.IPMI != "" {
			pw, err := vmPassword(m)
			if err != nil {
				return nil, err
			}
			vm.Password = pw
		}
		vms = append(vms, vm)
	}
	iface := lab.Interface
	var addr netip.Addr
	if len(vms) > 0 {
		if len(vms) != len(machines) {
			return nil, fmt.Errorf("runner: lab %s mixes VMs the agent starts with other machines: give the VMs a lab of their own", cfg.Lab)
		}
		prefix := netip.MustParsePrefix("10.77.0.1/24")
		if lab.Address != "" {
			p, err := netip.ParsePrefix(lab.Address)
			if err != nil {
				return nil, fmt.Errorf("%s: labs.%s.address: %q is not ADDRESS/BITS: %v", inv.Path, cfg.Lab, lab.Address, err)
			}
			prefix = p
		}
		ns, err := privnet.New()
		if err != nil {
			return nil, fmt.Errorf("runner: the lab in a box needs a network namespace: %w", err)
		}
		s.NS = ns
		if err := ns.AddBridge(Bridge, prefix); err != nil {
			s.Close()
			return nil, err
		}
		iface, addr = Bridge, prefix.Addr()
		s.VMs, err = vmlab.Start(ctx, vmlab.Config{Machines: vms, NS: ns, Bridge: Bridge, Dir: cfg.VMDir, Log: cfg.Log, BMCNet: hostNet{}})
		if err != nil {
			s.Close()
			return nil, err
		}
		for _, vm := range s.VMs.VMs {
			s.vmOf[vm.Name] = vm
		}
	} else if lab.Address != "" {
		if p, err := netip.ParsePrefix(lab.Address); err == nil {
			addr = p.Addr()
		}
	}
	if iface == "" {
		s.Close()
		return nil, fmt.Errorf("%s: labs.%s.interface: missing: name the boot network's interface of lab %s", inv.Path, cfg.Lab, cfg.Lab)
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		stateDir = filepath.Join(os.TempDir(), "rlbuild-lab-netboot-"+cfg.Lab)
	}
	f := &profile.File{
		Server:   profile.Server{Interface: iface, Address: addr, HTTPPort: lab.HTTPPort, TFTP: true, StateDir: stateDir},
		DHCP:     profile.DHCP{Mode: "full"},
		Default:  profile.Local, // a machine boots what a cell sets, else its disk
		Profiles: map[string]*profile.Profile{},
		Machines: map[string]*profile.Machine{},
	}
	scfg := server.Config{File: f, Log: cfg.Log, ReloadInterval: -1}
	if s.NS != nil {
		scfg.NS = s.NS
	}
	srv, err := server.New(scfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		s.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.Server, s.stop, s.done = srv, cancel, make(chan error, 1)
	go func() { s.done <- srv.Serve(sctx) }()
	s.client = &Client{BaseURL: srv.BaseURL(), TokenFile: cfg.TokenFile}
	if s.NS != nil {
		s.client.Dial = s.NS.Dial
	}
	return s, nil
}

// vmPassword is a VM's BMC password: the power entry's; for a VM the
// agent starts, a random one (set in the entry's environment variable)
// when the variable is not set.
func vmPassword(m *inventory.Machine) (string, error) {
	pw, err := m.Power.Password()
	if err == nil {
		return pw, nil
	}
	if m.Power.PasswordEnv == "" || os.Getenv(m.Power.PasswordEnv) != "" {
		return "", fmt.Errorf("machine %s: %w", m.Name, err)
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw = hex.EncodeToString(b)
	os.Setenv(m.Power.PasswordEnv, pw)
	return pw, nil
}

// Close stops the server, the VMs and the namespace.
func (s *Segment) Close() error {
	var err error
	if s.stop != nil {
		s.stop()
		err = errors.Join(err, <-s.done)
	}
	if s.VMs != nil {
		err = errors.Join(err, s.VMs.Close())
	}
	if s.NS != nil {
		err = errors.Join(err, s.NS.Close())
	}
	return err
}

// PowerSpec is a machine's power entry, pointed at its VM's QMP socket
// for a VM the segment started.
func (s *Segment) PowerSpec(m *inventory.Machine) power.Spec {
	p := m.Power
	if vm := s.vmOf[m.Name]; vm != nil && p.Type == "qemu" {
		p.Address = vm.QMP
	}
	return p
}

// ConsoleSpec is a machine's console entry, its VM's serial socket for
// a VM the segment started.
func (s *Segment) ConsoleSpec(m *inventory.Machine) console.Spec {
	c := m.Console
	if vm := s.vmOf[m.Name]; vm != nil && c.Type == "qemu" {
		c.Address = vm.Serial
	}
	return c
}

// addProfile returns the netboot profile that boots artifacts (pinned
// by digest) with args added to the command line, adding it once.
func (s *Segment) addProfile(artifacts, digest, args string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := digest + "|" + args
	if name, ok := s.profiles[key]; ok {
		return name, nil
	}
	man, got, err := loadPinned(artifacts)
	if err != nil {
		return "", err
	}
	if got != digest {
		return "", fmt.Errorf("%s is %s now, not %s as the run pinned: the build changed since (rebuild it, or start a new run)", artifacts, got, digest)
	}
	name := fmt.Sprintf("cell%d", len(s.profiles)+1)
	store := s.Server.Profiles()
	cur := store.File()
	nf := *cur
	nf.Profiles = map[string]*profile.Profile{}
	for k, v := range cur.Profiles {
		nf.Profiles[k] = v
	}
	nf.Profiles[name] = &profile.Profile{Name: name, Artifacts: man.Dir(), Manifest: man, Cmdline: args, IPXE: "snponly"}
	store.Replace(&nf)
	s.profiles[key] = name
	return name, nil
}
