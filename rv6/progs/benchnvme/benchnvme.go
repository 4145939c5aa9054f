//rl:domain

// Package benchnvme is Rv6's benchnvme: it measures a block driver domain
// (the NVMe domain by default: 4 KiB reads and, with -w, writes;
// sequential and random; batches of 1 and 32) and prints IOPS and latency
// percentiles as a table (drivers/blockbench). It drives the device itself,
// through the capability its spawner passed it (`grant blk:nvme benchnvme`
// at the console's login shell; holding it is what allows -w to write).
// With the admin capability too, the kernel then measures Linux's own
// driver on a second NVMe controller left to Linux, for comparison (the
// monitor's linuxnvme: it needs system calls a domain does not have).
// benchnvme -h lists the flags.
package benchnvme

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/drivers/blockbench"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "benchnvme [-t DURATION] [-n COUNT] [-batch 1,32] [-w] [-region START:BLOCKS] [-dev nvme] [-linux=false]"

func init() { ulib.Register("benchnvme", main) }

// options are benchnvme's flags.
type options struct {
	dur     time.Duration
	count   int
	batches []int
	write   bool
	region  string
	dev     string
	linux   bool
}

func parse(p *ulib.Proc) (options, bool) {
	f := cli.NewFlags()
	dur := f.Duration("t", 2*time.Second, "how long each test runs")
	count := f.Int("n", 0, "at most this many requests per test (0: no limit)")
	batches := f.String("batch", "1,32", "the batch sizes (Linux: queue depths), comma-separated")
	write := f.Bool("w", false, "also run the write tests; they overwrite the write region")
	region := f.String("region", "", "the blocks the write tests may overwrite, START:BLOCKS (default: the last quarter of the device, at most 1 GiB)")
	dev := f.String("dev", "nvme", "the block device: the capability blk:DEV")
	linux := f.Bool("linux", true, "also have the kernel measure Linux's nvme driver on a second NVMe controller (needs the admin capability)")
	rest, ok := cli.ParseFlags(p, p.Stderr, f, p.Args[1:], usage)
	if !ok {
		return options{}, false
	}
	o := options{dur: *dur, count: *count, write: *write, region: *region, dev: *dev, linux: *linux}
	if len(rest) != 0 {
		p.Errorf("unexpected argument %q", rest[0])
		return o, false
	}
	if o.dur <= 0 && o.count <= 0 {
		p.Errorf("-t and -n are both zero: the tests would never end")
		return o, false
	}
	for s := range strings.SplitSeq(*batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || b < 1 || b > idl.BlockDeviceBatch {
			p.Errorf("bad batch size %q: want 1..%d", s, idl.BlockDeviceBatch)
			return o, false
		}
		o.batches = append(o.batches, b)
	}
	return o, true
}

// DefaultWriteRegion is the region -w writes when -region does not say:
// the last quarter of the device, at most 1 GiB (Rv6's file system starts
// at block 0 and is sized for its image). It is still the user's data if
// they put any there: writes need -w.
func DefaultWriteRegion(blocks uint64) blockbench.Region {
	n := min(blocks/4, (1<<30)/idl.BlockSize)
	if n == 0 {
		n = blocks
	}
	return blockbench.Region{Start: blocks - n, Blocks: n}
}

// parseRegion parses START:BLOCKS and checks it against a device of
// blocks blocks.
func parseRegion(s string, blocks uint64) (blockbench.Region, error) {
	a, b, ok := strings.Cut(s, ":")
	start, err1 := strconv.ParseUint(a, 0, 64)
	n, err2 := strconv.ParseUint(b, 0, 64)
	if !ok || err1 != nil || err2 != nil || n == 0 {
		return blockbench.Region{}, fmt.Errorf("bad region %q: want START:BLOCKS, BLOCKS > 0", s)
	}
	if start >= blocks || n > blocks-start {
		return blockbench.Region{}, fmt.Errorf("region %q is beyond the device (%d blocks)", s, blocks)
	}
	return blockbench.Region{Start: start, Blocks: n}, nil
}

func main(p *ulib.Proc) int {
	o, ok := parse(p)
	if !ok {
		return ulib.StatusUsage
	}
	name := idl.CapBlockPrefix + o.dev
	dev, err := ulib.Cap[idl.BlockDevice](p, name)
	if err != nil {
		p.Errorf("%s: this process was not given the device: run it as `grant %s benchnvme ...` from the console's login shell", o.dev, name)
		return ulib.StatusError
	}
	blocks, err := dev.NumBlocks()
	if err != nil {
		p.Errorf("%s: %v", o.dev, err)
		return ulib.StatusError
	}
	wr := DefaultWriteRegion(blocks)
	if o.region != "" {
		if wr, err = parseRegion(o.region, blocks); err != nil {
			p.Errorf("%v", err)
			return ulib.StatusUsage
		}
	}
	all := blockbench.Region{Start: 0, Blocks: blocks}
	limit := fmt.Sprintf("%v per test", o.dur)
	if o.count > 0 {
		limit = fmt.Sprintf("at most %v or %d requests per test", o.dur, o.count)
		if o.dur <= 0 {
			limit = fmt.Sprintf("%d requests per test", o.count)
		}
	}
	p.Printf("benchnvme: %s, %d blocks of %d bytes; %s; reads over all of it\n", o.dev, blocks, idl.BlockSize, limit)
	if o.write {
		p.Printf("writes overwrite %s\n", wr)
	} else {
		p.Printf("no write tests: -w runs them, overwriting %s (-region START:BLOCKS to choose)\n", wr)
	}
	ops := []blockbench.Op{blockbench.Read}
	if o.write {
		ops = append(ops, blockbench.Write)
	}
	var results []blockbench.Result
	status := ulib.StatusOK
run:
	for _, op := range ops {
		for _, pat := range []blockbench.Pattern{blockbench.Sequential, blockbench.Random} {
			for _, b := range o.batches {
				r := all
				if op == blockbench.Write {
					r = wr
				}
				res, err := blockbench.Run(dev, p.Heap(), o.dev, blockbench.Spec{Op: op, Pattern: pat, Batch: b, Region: r,
					Duration: o.dur, Count: o.count, Seed: uint64(b)})
				if err != nil {
					p.Errorf("%v", err)
					status = ulib.StatusError
					break run
				}
				results = append(results, res)
			}
		}
	}
	if status == ulib.StatusOK && o.write {
		if err := dev.Flush(); err != nil {
			p.Errorf("%s: flush after the write tests: %v", o.dev, err)
			status = ulib.StatusError
		}
	}
	if err := blockbench.WriteTable(p.Stdout, results); err != nil {
		return ulib.StatusError
	}
	if o.linux && status == ulib.StatusOK {
		status = linux(p, o, blocks, results)
	}
	return status
}

// linux has the kernel measure Linux's driver and compare, through the
// admin capability (or says why not).
func linux(p *ulib.Proc, o options, blocks uint64, ours []blockbench.Result) int {
	admin, err := ulib.Cap[idl.Monitor](p, ulib.CapAdmin)
	if err != nil {
		p.Printf("no Linux comparison: the kernel measures Linux's driver for a process holding the admin capability (grant admin,%s%s benchnvme)\n", idl.CapBlockPrefix, o.dev)
		return ulib.StatusOK
	}
	var mine, bs []string
	for _, r := range ours {
		if r.Spec.Op == blockbench.Read && r.Spec.Pattern == blockbench.Random {
			mine = append(mine, fmt.Sprintf("%s:%d=%.0f", o.dev, r.Spec.Batch, r.IOPS()))
		}
	}
	for _, b := range o.batches {
		bs = append(bs, strconv.Itoa(b))
	}
	st, err := p.Admin(admin, []string{"linuxnvme", "-t", o.dur.String(), "-n", strconv.Itoa(o.count),
		"-batch", strings.Join(bs, ","), "-blocks", strconv.FormatUint(blocks, 10), "-ours", strings.Join(mine, ",")})
	if err != nil {
		p.Errorf("linuxnvme: %v", err)
		return ulib.StatusError
	}
	return st
}
