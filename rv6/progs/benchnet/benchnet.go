//rl:domain

// Package benchnet is Rv6's benchnet: the packet rate of an ixgbe port
// (the 82599 model when the machine has none) forwarding from its RX queue
// to its TX queue, at batch sizes 1, 32 and 256, in Mpps and ns per
// packet. It drives the port's driver domain itself, through the
// capability its spawner passed it (`grant nic benchnet` at the console's
// login shell): calls through the shadow, on this program's thread, as an
// application's would. benchnet -h lists the flags.
package benchnet

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe/bench"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/nic"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "benchnet [-t DURATION] [-n COUNT] [-size BYTES] [-batch 1,32,256] [-port ixgbe0]"

func init() { ulib.Register("benchnet", main) }

func main(p *ulib.Proc) int {
	f := nic.NewFlags(usage, time.Second)
	batches := f.String("batch", "1,32,256", "the batch sizes, comma-separated")
	portName := f.String("port", "ixgbe0", "the port")
	if !f.Parse(p) {
		return ulib.StatusUsage
	}
	bs, err := parseBatches(*batches)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusUsage
	}
	port, err := nic.Open(p, *portName)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	heap := p.Heap()
	if err := port.Quiesce(heap); err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	in := port.Info()
	limit := f.Limit() + " per batch size"
	if *f.Count > 0 && *f.Dur < nic.Forever {
		limit = "at most " + limit
	}
	p.Printf("benchnet: %s, %s: RX queue 0 -> TX queue 0, %s; %s\n", port.Name, in.Where, port.Source(*f.Size), limit)
	if in.Model {
		p.Printf("the model runs on the caller's thread: its cost is in the figures\n")
	}
	port.Generate(*f.Size)
	rs, err := bench.Forward(heap, port.Net, bench.Options{Batches: bs, Duration: *f.Dur, Packets: *f.Count})
	if qerr := port.Quiesce(heap); err == nil {
		err = qerr
	}
	p.Printf("through its shadow (calls on this program's thread):\n")
	bench.WriteTable(p.Stdout, rs)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	return ulib.StatusOK
}

// parseBatches parses a comma-separated list of batch sizes.
func parseBatches(s string) ([]int, error) {
	var bs []int
	for f := range strings.SplitSeq(s, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 || b > idl.NetBatch {
			return nil, fmt.Errorf("bad batch size %q: want 1..%d", f, idl.NetBatch)
		}
		bs = append(bs, b)
	}
	return bs, nil
}
