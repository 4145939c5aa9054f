// Command rlkernel is the RedLeaf-Go domain kernel: the static /init (PID
// 1) of the initramfs that Linux boots. It sets the machine up (package
// kernel/boot), prints the banner, starts the system's services as domains
// (package kernel/system) and runs the console shell (package rv6/sh), with
// the system's commands, respawning it when it ends.
//
// Run on a host (not as PID 1) it is a dry run: nothing is mounted, and
// poweroff, reboot and halt exit the process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/kernel/system"
	"github.com/rlgo/redleaf/rv6/sh"
)

// respawnDelay is the pause before the shell is started again.
const respawnDelay = time.Second

func main() {
	boot.Main(boot.Options{}, run)
}

func run(k *boot.Kernel) error {
	k.Banner(os.Stdout)
	// The services run as domains; without them the shell still runs.
	sys, err := system.Start(system.Options{Logf: k.Logf})
	if err != nil {
		k.Logf("starting the domains: %v", err)
	} else {
		fmt.Fprintf(os.Stdout, "domains: %s\n", sys.Summary())
	}
	if !k.Config.Shell {
		k.Logf("rl.shell=0: no console shell")
		for {
			time.Sleep(time.Hour)
		}
	}
	// One reader for all the shells: typed-ahead input survives a respawn.
	console := sh.NewLineReader(os.Stdin)
	for {
		s := sh.New(sh.Options{
			Stdin:    console,
			Stdout:   os.Stdout,
			Stderr:   os.Stderr,
			Registry: registry(k, sys),
			Env:      os.Environ(),
			Debug:    k.Config.Debug,
			Fallback: programs(k, console),
		})
		status, err := s.Run(context.Background())
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
func registry(k *boot.Kernel, sys *system.System) *sh.Registry {
	r := sh.Builtins()
	if sys != nil {
		sys.Register(r)
	}
	power := func(a boot.Action) sh.Command {
		return sh.Func(func(_ context.Context, p *sh.Proc) int {
			if len(p.Args) > 1 {
				p.Errorf("usage: %s", p.Name())
				return 2
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
