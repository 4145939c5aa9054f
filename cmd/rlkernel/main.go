// Command rlkernel is the RedLeaf-Go domain kernel: the static /init (PID
// 1) of the initramfs that Linux boots. kernel/boot sets the machine up;
// the composition root (package system) then starts the system's domains
// and Rv6 with their grants, and the console shell.
//
// Run on a host (not as PID 1) it is a dry run: nothing is mounted, and
// poweroff, reboot and halt exit the process.
package main

import (
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/system"
)

func main() {
	boot.Main(boot.Options{}, system.Boot)
}
