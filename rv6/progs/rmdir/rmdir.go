//rl:domain

// Package rmdir is the rmdir program: it removes each empty directory
// named.
package rmdir

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "rmdir DIR..."

func init() { ulib.Register("rmdir", main) }

func main(p *ulib.Proc) int {
	_, dirs, err := cli.Parse(p.Args, "")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(dirs) == 0 {
		return cli.Usage(p, usage)
	}
	status := ulib.StatusOK
	for _, d := range dirs {
		if err := p.Rmdir(d); err != nil {
			status = cli.Fail(p, d, err)
		}
	}
	return status
}
