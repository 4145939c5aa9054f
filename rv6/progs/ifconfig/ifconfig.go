//rl:domain

// Package ifconfig is Rv6's ifconfig: the link state and counters of the
// network interfaces the kernel drives with domains, as the kernel
// monitor's ifconfig command lists them; this program forwards its
// arguments to it.
package ifconfig

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("ifconfig", main) }

func main(p *ulib.Proc) int {
	st, err := p.Monitor(append([]string{"ifconfig"}, p.Args[1:]...))
	if err != nil {
		return cli.Fail(p, "monitor", err)
	}
	return st
}
