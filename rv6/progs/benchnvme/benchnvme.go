//rl:domain

// Package benchnvme is Rv6's benchnvme: it measures the NVMe driver domain
// (4 KiB reads and, with -w, writes; sequential and random; batches of 1
// and 32) and, when the machine has a second NVMe controller left to Linux,
// Linux's own driver, and prints IOPS and latency percentiles as a table.
// The benchmark is the kernel monitor's benchnvme command (it needs the
// kernel's capability to the driver and, for Linux's side, system calls);
// this program forwards its arguments to it. benchnvme -h lists the flags.
package benchnvme

import (
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() {
	ulib.Register("benchnvme", main)
}

func main(p *ulib.Proc) int {
	st, err := p.Monitor(append([]string{"benchnvme"}, p.Args[1:]...))
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	return st
}
