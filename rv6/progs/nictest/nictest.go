//rl:domain

// Package nictest is Rv6's nictest, the lab machines' check of an ixgbe
// port: its link comes up, and frames sent come back intact and in order
// with the device counters agreeing, in MAC loopback (the port's driver
// domain is restarted through its shadow in loopback and back), or with
// -pair from ixgbe0 to ixgbe1 over a cable between them. It prints the
// report and PASS or FAIL, and exits 0 only on a pass. On the 82599 model
// (QEMU) loopback runs the same code; -pair needs real, cabled ports. The
// test is the kernel monitor's nictest command (it needs the kernel's
// capabilities to the drivers); this program forwards its arguments to it.
// nictest -h lists the flags.
package nictest

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("nictest", main) }

func main(p *ulib.Proc) int {
	st, err := p.Monitor(append([]string{"nictest"}, p.Args[1:]...))
	if err != nil {
		return cli.Fail(p, "monitor", err)
	}
	return st
}
