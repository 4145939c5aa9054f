//rl:domain

// Package sync is the sync program: it commits the file system, so that
// every operation that returned before it is durable.
package sync

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "sync"

func init() { ulib.Register("sync", main) }

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 {
		return cli.Usage(p, usage)
	}
	if err := p.Sync(); err != nil {
		return cli.Fail(p, "sync", err)
	}
	return ulib.StatusOK
}
