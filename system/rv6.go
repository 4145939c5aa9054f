package system

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/kernel/console"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/loader"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/system/monitor"
	"github.com/rlgo/redleaf/system/sh"

	_ "github.com/rlgo/redleaf/rv6/progs/all" // the programs, registered by name
	_ "github.com/rlgo/redleaf/rv6/sys"       // the Rv6 domain
)

// Rv6Kind is the Rv6 domain's kind (rv6/sys).
const rv6Kind = "rv6"

// rv6 is the running Rv6: the kernel's capability to its domain.
type rv6 struct {
	cap      idl.Rv6
	caps     string      // the capabilities Rv6 may hand out, as SpawnReq.Caps
	stopping atomic.Bool // the power is going: init ends for good
}

// startRv6 starts the Rv6 domain on the root device rl.root chooses, with
// the kernel's console and loader, the read-only views of the monitor of
// reg's commands, and the capabilities it may hand to processes
// (Rv6Grants), and mounts its file system.
func startRv6(k *boot.Kernel, sys *System, reg *sh.Registry) (*rv6, error) {
	if err := checkProgramNames(loader.Programs(), reg); err != nil {
		return nil, err
	}
	disk, dev, format, err := chooseRoot(sys, k.Config.Root)
	if err != nil {
		return nil, err
	}
	m := sys.Manager()
	opts := []domain.CreateOption{domain.Name("rv6"),
		domain.Grant("disk", disk),
		domain.Grant("loader", m.Export(loader.New(m))),
		domain.Grant("console", m.Export(console.NewTTY())),
		domain.Grant("monitor", m.Export(monitor.Views(reg)))}
	d, err := m.Create(rv6Kind, append(opts, sys.Rv6Grants(reg)...)...)
	if err != nil {
		return nil, fmt.Errorf("starting the rv6 domain: %w", err)
	}
	c, err := domain.Connect[idl.Rv6](m.Kernel(), d)
	if err != nil {
		m.Kill(d)
		return nil, fmt.Errorf("connecting to the rv6 domain: %w", err)
	}
	st, err := c.Mount(idl.Rv6Config{Format: format, Device: dev})
	if err != nil {
		m.Kill(d)
		return nil, fmt.Errorf("mounting the root file system on %s: %w", dev, err)
	}
	fmt.Fprintf(os.Stdout, "rv6: / on %s: %d of %d blocks free, %d of %d inodes free\n",
		dev, st.FreeBlocks, st.Blocks, st.FreeInodes, st.Inodes)
	return &rv6{cap: c, caps: strings.Join(sys.Rv6Caps(), "\x00") + "\x00"}, nil
}

// programsOverCommands are the programs meant to stand in for the monitor
// command of the same name: each does the command's job in Rv6, through
// the capabilities it is granted (kill asks for admin to kill a domain);
// echo is the kernel shell's builtin, Rv6's own in Rv6.
var programsOverCommands = map[string]bool{"kill": true, "lspci": true, "ifconfig": true, "echo": true}

// checkProgramNames refuses a program that would shadow a monitor command
// it is not meant to replace: Rv6's shell runs a program before the
// monitor's command of the same name, so a program named inject or restart
// would be handed the admin capability that a person typing
// `grant admin inject ...` meant for the kernel's command.
func checkProgramNames(programs []string, reg *sh.Registry) error {
	var bad []string
	for _, p := range programs {
		if _, ok := reg.Lookup(p); ok && !programsOverCommands[p] {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("program(s) %s would shadow the monitor command(s) of the same name, which hold the admin capability's power: rename them, or list them in system.programsOverCommands if they are meant to replace the command", strings.Join(bad, ", "))
	}
	return nil
}

// chooseRoot returns the block device rl.root names, its name, and whether
// Rv6 may format it when it holds no file system: the RAM disk always, the
// NVMe namespace only when rl.root=nvme asks for it by name.
func chooseRoot(sys *System, root boot.Root) (domain.Provider, string, bool, error) {
	nvme := sys.NVMeGuard()
	switch root {
	case boot.RootRAMDisk:
		return sys.Guard(), DiskName, true, nil
	case boot.RootNVMe:
		if nvme == nil {
			return nil, "", false, errors.New("rl.root=nvme, but the machine has no NVMe controller the system drives (see lspci); use rl.root=ramdisk")
		}
		return nvme, NVMeName, true, nil
	case boot.RootAuto, "":
		if nvme != nil && holdsRv6(sys) {
			return nvme, NVMeName, false, nil
		}
		return sys.Guard(), DiskName, true, nil
	default:
		return nil, "", false, fmt.Errorf("rl.root=%s: unknown root; use auto, ramdisk or nvme", root)
	}
}

// holdsRv6 reports whether the NVMe namespace has an Rv6 superblock.
func holdsRv6(sys *System) bool {
	b, err := sys.ReadNVMe(layout.SuperBlock)
	if err != nil {
		return false
	}
	_, err = layout.DecodeSuperblock((*blockdev.Block)(&b))
	return err == nil
}

// runInit runs init on the console, again each time it ends, and returns
// only when Rv6 itself fails.
func (r *rv6) runInit(k *boot.Kernel) error {
	env := []string{"PATH=/bin", "HOME=/", "TERM=linux"}
	for {
		// init gets every capability Rv6 may hand out, and passes them to
		// the console's login shell.
		ws, err := r.cap.Run(idl.SpawnReq{Prog: "init", Argv: "init\x00", Env: strings.Join(env, "\x00") + "\x00", Cwd: "/", Caps: r.caps})
		if r.stopping.Load() {
			select {} // shutdown ended init; the power goes next
		}
		if err != nil {
			return fmt.Errorf("running init: %w", err)
		}
		switch {
		case ws.Reason != "":
			k.Logf("init crashed: %s; starting it again in %v", ws.Reason, respawnDelay)
		default:
			k.Logf("init exited with status %d; starting it again in %v", ws.Status, respawnDelay)
		}
		time.Sleep(respawnDelay)
	}
}

// shutdown syncs and unmounts the file system before the power goes, within
// a bounded time.
func (r *rv6) shutdown(k *boot.Kernel) {
	r.stopping.Store(true)
	done := make(chan error, 1)
	go func() { done <- r.cap.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			k.Logf("rv6: shutting down: %v", err)
		}
	case <-time.After(5 * time.Second):
		k.Logf("rv6: shutting down took more than 5s; going on")
	}
}
