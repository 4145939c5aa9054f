package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rlgo/redleaf/bootparam"
	"github.com/rlgo/redleaf/drivers/nvme"
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/system/sh"
)

// respawnDelay is the pause before the shell or init is started again.
const respawnDelay = time.Second

// Boot is the composition root of the booted system, run by /init
// (cmd/rlkernel) once kernel/boot has set the machine up: it prints the
// banner, starts the system's services as domains, then Rv6 with its
// grants, and gives the console the kernel's own monitor shell when Rv6
// cannot run (or rl.rv6=0). It returns only on a fatal error.
func Boot(k *boot.Kernel) error {
	k.Banner(os.Stdout)
	// The services run as domains; without them the shell still runs.
	sys, err := Start(Options{Logf: k.Logf, DiskImage: boot.RAMDiskImage, NVMe: nvmeConfig(k)})
	if err != nil {
		k.Logf("starting the domains: %v", err)
	} else {
		fmt.Fprintf(os.Stdout, "domains: %s\n", sys.Summary())
	}
	if !k.DryRun() {
		// The RAM disk holds its own copy: give the initramfs's back.
		if err := os.Remove(boot.RAMDiskImage); err != nil && !errors.Is(err, os.ErrNotExist) {
			k.Logf("removing %s: %v", boot.RAMDiskImage, err)
		}
	}
	if !k.Config.Shell {
		k.Logf("rl.shell=0: no console shell")
		for {
			time.Sleep(time.Hour)
		}
	}
	var r *rv6
	reg := registry(k, sys, &r)
	if sys != nil && k.Config.Shell && rv6Wanted(k) {
		var err error
		if r, err = startRv6(k, sys, reg); err != nil {
			k.Logf("rv6: %v; the console gets the monitor shell instead", err)
		} else {
			startSuite(k, r) // a lab suite named on the command line (suite.go)
			err := r.runInit(k)
			k.Logf("rv6: %v; the console gets the monitor shell instead", err)
		}
	}
	return monitorShell(k, reg)
}

// nvmeConfig is the NVMe domain's configuration from the command line:
// rl.nvme.spin=DURATION sets how long it polls for completions before it
// sleeps between looks (nvme.Config.Spin).
func nvmeConfig(k *boot.Kernel) nvme.Config {
	var cfg nvme.Config
	if v, ok := k.Cmdline.Lookup(bootparam.NVMeSpin); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			k.Logf("%s=%s: not a positive duration such as 20us; using %v", bootparam.NVMeSpin, v, nvme.DefaultSpin)
		} else {
			cfg.Spin = d
		}
	}
	return cfg
}

// rv6Wanted is false when the command line asks for the monitor shell
// instead of Rv6 (rl.rv6=0).
func rv6Wanted(k *boot.Kernel) bool {
	on, err := k.Cmdline.Bool(bootparam.Rv6, true)
	if err != nil {
		k.Logf("%v (starting Rv6)", err)
	}
	return on
}

// monitorShell runs the kernel's own console shell, with the system's
// commands and the initramfs's programs (/bbin: only here, never from
// Rv6), respawning it when it ends.
func monitorShell(k *boot.Kernel, reg *sh.Registry) error {
	// One reader for all the shells: typed-ahead input survives a respawn.
	console := sh.NewLineReader(os.Stdin)
	for {
		h := sh.NewHost(sh.HostOptions{
			Registry: reg,
			Fallback: programs(k, console),
			Stdin:    console,
			Stdout:   os.Stdout,
			Stderr:   os.Stderr,
			Debug:    k.Config.Debug,
		})
		status, err := sh.Console(h, console, os.Stdout, os.Environ())
		if k.DryRun() {
			return nil // a shell on a host ends like any shell
		}
		switch {
		case errors.Is(err, io.EOF):
			k.Logf("shell: end of input; restarting the shell in %v", respawnDelay)
		case err != nil:
			k.Logf("shell: %v; restarting the shell in %v", err, respawnDelay)
		default:
			k.Logf("shell exited with status %d; restarting the shell in %v", status, respawnDelay)
		}
		time.Sleep(respawnDelay)
	}
}

// registry is the shell's builtins, the system's commands (if it started)
// and the power commands, which belong to the kernel.
// Before the power goes, Rv6 (once *r is set) syncs and unmounts its file
// system.
func registry(k *boot.Kernel, sys *System, rv **rv6) *sh.Registry {
	r := sh.Builtins()
	if sys != nil {
		sys.Register(r)
	}
	power := func(a boot.Action) sh.Command {
		// Powering off changes the system: admin only (Register).
		return sh.Func(func(_ context.Context, p *sh.Proc) int {
			if len(p.Args) > 1 {
				p.Errorf("usage: %s", p.Name())
				return 2
			}
			if *rv != nil {
				(*rv).shutdown(k)
			}
			if err := k.Power(a); err != nil {
				p.Errorf("%v", err)
				return 1
			}
			return 0
		})
	}
	r.Register("poweroff", "sync and power the machine off", power(boot.ActionPoweroff))
	r.Register("reboot", "sync and restart the machine", power(boot.ActionReboot))
	r.Register("halt", "sync and halt the machine (power stays on)", power(boot.ActionHalt))
	return r
}
