//rl:domain

// Package mv is the mv program: it renames SRC to DST (replacing DST), or
// moves each SRC into the directory DST.
package mv

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "mv SRC DST | mv SRC... DIR"

func init() { ulib.Register("mv", main) }

func main(p *ulib.Proc) int {
	_, args, err := cli.Parse(p.Args, "")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) < 2 {
		return cli.Usage(p, usage)
	}
	targets, err := cli.Targets(p, args)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	status := ulib.StatusOK
	for _, t := range targets {
		if _, err := p.Stat(t.Src); err != nil {
			status = cli.Fail(p, t.Src, err)
			continue
		}
		if err := p.Rename(t.Src, t.Dst); err != nil {
			status = cli.Fail(p, t.Src+" -> "+t.Dst, err)
		}
	}
	return status
}
