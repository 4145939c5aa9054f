//rl:domain

// Package sleep is the sleep program: it sleeps for the seconds given
// (fractions allowed: sleep 0.25).
package sleep

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "sleep SECONDS"

func init() { ulib.Register("sleep", main) }

func main(p *ulib.Proc) int {
	if len(p.Args) != 2 {
		return cli.Usage(p, usage)
	}
	s, err := strconv.ParseFloat(p.Args[1], 64)
	if err != nil || s < 0 || math.IsNaN(s) || s > math.MaxInt64/float64(time.Second) {
		return cli.BadUsage(p, fmt.Errorf("bad duration %q", p.Args[1]), usage)
	}
	if err := p.Sleep(time.Duration(s * float64(time.Second))); err != nil {
		return cli.Fail(p, "sleep", err)
	}
	return ulib.StatusOK
}
