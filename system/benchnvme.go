package system

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/drivers/blockbench"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/linuxblk"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/system/sh"
)

// benchUsage is the benchnvme command line.
const benchUsage = "benchnvme [-t DURATION] [-n COUNT] [-batch 1,32] [-w] [-region START:BLOCKS] [-linux=false]"

// DefaultWriteRegion is the region benchnvme -w writes when -region does not
// say: the last quarter of the namespace, at most 1 GiB. Rv6's file system
// (mkfs, and the RAM-disk image written to a disk) starts at block 0 and
// is sized for its image, so the end of a disk that is at least a few
// times larger than the file system is the part nothing else uses. It is
// still the user's data if they put any there: writes need -w.
func DefaultWriteRegion(blocks uint64) blockbench.Region {
	n := min(blocks/4, (1<<30)/idl.BlockSize)
	if n == 0 {
		n = blocks
	}
	return blockbench.Region{Start: blocks - n, Blocks: n}
}

// benchOptions are benchnvme's flags.
type benchOptions struct {
	dur     time.Duration
	count   int
	batches []int
	write   bool
	region  string
	linux   bool
}

func parseBench(p *sh.Proc) (benchOptions, bool) {
	o := benchOptions{}
	fs := flag.NewFlagSet("benchnvme", flag.ContinueOnError)
	fs.SetOutput(p.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(p.Stderr, "usage: %s\n", benchUsage)
		fs.PrintDefaults()
	}
	fs.DurationVar(&o.dur, "t", 2*time.Second, "how long each test runs")
	fs.IntVar(&o.count, "n", 0, "at most this many requests per test (0: no limit)")
	batches := fs.String("batch", "1,32", "the batch sizes (Linux: queue depths), comma-separated")
	fs.BoolVar(&o.write, "w", false, "also run the write tests; they overwrite the write region")
	fs.StringVar(&o.region, "region", "", "the blocks the write tests may overwrite, START:BLOCKS (default: the last quarter of the namespace, at most 1 GiB)")
	fs.BoolVar(&o.linux, "linux", true, "also measure Linux's nvme driver on a second NVMe controller, if the machine has one")
	if err := fs.Parse(p.Args[1:]); err != nil {
		return o, false
	}
	if fs.NArg() != 0 {
		p.Errorf("unexpected argument %q", fs.Arg(0))
		fs.Usage()
		return o, false
	}
	if o.dur <= 0 && o.count <= 0 {
		p.Errorf("-t and -n are both zero: the tests would never end")
		return o, false
	}
	for f := range strings.SplitSeq(*batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 || b > idl.BlockDeviceBatch {
			p.Errorf("bad batch size %q: want 1..%d", f, idl.BlockDeviceBatch)
			return o, false
		}
		o.batches = append(o.batches, b)
	}
	return o, true
}

// parseRegion parses START:BLOCKS and checks it against a disk of blocks
// blocks.
func parseRegion(s string, blocks uint64) (blockbench.Region, error) {
	a, b, ok := strings.Cut(s, ":")
	start, err1 := strconv.ParseUint(a, 0, 64)
	n, err2 := strconv.ParseUint(b, 0, 64)
	if !ok || err1 != nil || err2 != nil || n == 0 {
		return blockbench.Region{}, fmt.Errorf("bad region %q: want START:BLOCKS, BLOCKS > 0", s)
	}
	if start >= blocks || n > blocks-start {
		return blockbench.Region{}, fmt.Errorf("region %q is beyond the disk (%d blocks)", s, blocks)
	}
	return blockbench.Region{Start: start, Blocks: n}, nil
}

// cmdBenchNVMe measures the NVMe domain through the kernel's shadow
// capability and, when the machine has a second NVMe controller that Linux
// drives, Linux's driver on it, in one table.
func (s *System) cmdBenchNVMe(ctx context.Context, p *sh.Proc) int {
	o, ok := parseBench(p)
	if !ok {
		return statusUsage
	}
	if s.nvme == nil {
		p.Errorf("%v", errNoNVMe)
		return statusError
	}
	return s.bench(ctx, p, s.nvme, o)
}

// bench runs the tests of o on d and prints the table.
func (s *System) bench(ctx context.Context, p *sh.Proc, d *blockDev, o benchOptions) int {
	blocks, err := d.dev.NumBlocks()
	if err != nil {
		p.Errorf("%s: %v", d.name, err)
		return statusError
	}
	wr := DefaultWriteRegion(blocks)
	if o.region != "" {
		if wr, err = parseRegion(o.region, blocks); err != nil {
			p.Errorf("%v", err)
			return statusUsage
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
	where := ""
	if d.where != "" {
		where = " " + d.where
	}
	p.Printf("benchnvme: %s%s, %d blocks of %d bytes; %s; reads over all of it\n", d.name, where, blocks, idl.BlockSize, limit)
	if o.write {
		p.Printf("writes overwrite %s\n", wr)
	} else {
		p.Printf("no write tests: -w runs them, overwriting %s (-region START:BLOCKS to choose)\n", wr)
	}

	var specs []blockbench.Spec
	ops := []blockbench.Op{blockbench.Read}
	if o.write {
		ops = append(ops, blockbench.Write)
	}
	for _, op := range ops {
		for _, pat := range []blockbench.Pattern{blockbench.Sequential, blockbench.Random} {
			for _, b := range o.batches {
				r := all
				if op == blockbench.Write {
					r = wr
				}
				specs = append(specs, blockbench.Spec{Op: op, Pattern: pat, Batch: b, Region: r,
					Duration: o.dur, Count: o.count, Seed: uint64(b)})
			}
		}
	}
	heap := s.m.Kernel().Heap()
	var results []blockbench.Result
	status := statusOK
	for _, sp := range specs {
		if ctx.Err() != nil {
			p.Errorf("interrupted")
			status = statusError
			break
		}
		r, err := blockbench.Run(d.dev, heap, d.name, sp)
		if err != nil {
			p.Errorf("%v", err)
			status = statusError
			break
		}
		results = append(results, r)
	}
	if status == statusOK && o.write && d.flush {
		if err := d.dev.Flush(); err != nil {
			p.Errorf("%s: flush after the write tests: %v", d.name, err)
			status = statusError
		}
	}

	var linux []blockbench.Result
	if o.linux && status == statusOK && ctx.Err() == nil {
		var ok bool
		if linux, ok = s.linuxBench(p, blocks, o); !ok {
			status = statusError
		}
	}
	if err := blockbench.WriteTable(p.Stdout, append(results, linux...)); err != nil {
		return statusError
	}
	writeRatios(p.Stdout, d.name, results, linux)
	return status
}

// linuxBench measures Linux's driver on a second NVMe controller, if the
// machine has one, with o's batches and limits over at most blocks blocks,
// saying which disk; false if a measurement failed.
func (s *System) linuxBench(p *sh.Proc, blocks uint64, o benchOptions) ([]blockbench.Result, bool) {
	disk, why := s.linuxNVMe()
	if why != "" {
		p.Printf("no Linux comparison: %s\n", why)
		return nil, true
	}
	p.Printf("Linux's driver: %s (%s on %s), O_DIRECT pread, one thread per outstanding read\n", disk.Path, disk.Controller, disk.PCI)
	region := blockbench.Region{Start: 0, Blocks: min(blocks, disk.Blocks())}
	var linux []blockbench.Result
	for _, b := range o.batches {
		spec := blockbench.Spec{Op: blockbench.Read, Pattern: blockbench.Random, Batch: b, Region: region, Duration: o.dur, Count: o.count, Seed: uint64(b)}
		m, err := linuxblk.RandomRead(disk, linuxblk.Load{Depth: b, Start: region.Start, Blocks: region.Blocks, Duration: o.dur, Count: o.count, Seed: uint64(b)})
		if err != nil {
			p.Errorf("%v", err)
			return linux, false
		}
		linux = append(linux, blockbench.Result{Spec: spec, Device: "linux " + disk.Name, PerRequest: true, IOs: m.IOs, Elapsed: m.Elapsed, Lat: m.Lat})
	}
	return linux, true
}

// linuxUsage is the linuxnvme command line.
const linuxUsage = "linuxnvme [-t DURATION] [-n COUNT] [-batch 1,32] -blocks N [-ours NAME:BATCH=IOPS,...]"

// cmdLinuxNVMe is the Linux half of Rv6's benchnvme program, which
// measures the NVMe domain itself and asks for this through the admin
// capability: Linux's driver on a second controller, over the first N
// blocks, and the ratio of the program's random-read IOPS (-ours) to
// Linux's.
func (s *System) cmdLinuxNVMe(_ context.Context, p *sh.Proc) int {
	o := benchOptions{}
	fs := flag.NewFlagSet("linuxnvme", flag.ContinueOnError)
	fs.SetOutput(p.Stderr)
	fs.DurationVar(&o.dur, "t", 2*time.Second, "how long each test runs")
	fs.IntVar(&o.count, "n", 0, "at most this many requests per test (0: no limit)")
	batches := fs.String("batch", "1,32", "the queue depths, comma-separated")
	blocks := fs.Uint64("blocks", 0, "read the first BLOCKS blocks")
	ours := fs.String("ours", "", "the random-read IOPS to compare, NAME:BATCH=IOPS,...")
	if err := fs.Parse(p.Args[1:]); err != nil {
		return statusUsage
	}
	if fs.NArg() != 0 || *blocks == 0 || o.dur <= 0 && o.count <= 0 {
		return usage(p, linuxUsage)
	}
	for f := range strings.SplitSeq(*batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 || b > idl.BlockDeviceBatch {
			p.Errorf("bad batch size %q: want 1..%d", f, idl.BlockDeviceBatch)
			return statusUsage
		}
		o.batches = append(o.batches, b)
	}
	var mine []blockbench.Result
	name := ""
	for f := range strings.SplitSeq(*ours, ",") {
		if f == "" {
			continue
		}
		dev, rest, ok1 := strings.Cut(f, ":")
		bs, iops, ok2 := strings.Cut(rest, "=")
		b, err1 := strconv.Atoi(bs)
		v, err2 := strconv.ParseFloat(iops, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || v < 0 {
			p.Errorf("bad -ours entry %q: want NAME:BATCH=IOPS", f)
			return statusUsage
		}
		name = dev
		// One second's worth of requests at that rate: IOPS() gives v back.
		mine = append(mine, blockbench.Result{Spec: blockbench.Spec{Op: blockbench.Read, Pattern: blockbench.Random, Batch: b},
			IOs: int(v), Elapsed: time.Second})
	}
	linux, ok := s.linuxBench(p, *blocks, o)
	if len(linux) > 0 {
		if err := blockbench.WriteTable(p.Stdout, linux); err != nil {
			return statusError
		}
		writeRatios(p.Stdout, name, mine, linux)
	}
	if !ok {
		return statusError
	}
	return statusOK
}

// writeRatios prints our random-read IOPS over Linux's, per batch size
// (queue depth for Linux).
func writeRatios(w io.Writer, name string, ours, linux []blockbench.Result) {
	var parts []string
	for _, l := range linux {
		for _, r := range ours {
			if r.Spec.Op == blockbench.Read && r.Spec.Pattern == blockbench.Random && r.Spec.Batch == l.Spec.Batch && l.IOPS() > 0 {
				parts = append(parts, fmt.Sprintf("batch %d: %.2f", r.Spec.Batch, r.IOPS()/l.IOPS()))
			}
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "rand-read IOPS, %s / %s: %s\n", name, linux[0].Device, strings.Join(parts, ", "))
	}
}

// linuxNVMe finds an NVMe controller that Linux's nvme driver still has
// (the system takes only the first) and its block device, or says why
// there is none.
func (s *System) linuxNVMe() (linuxblk.Disk, string) {
	bus := s.bus
	if bus == nil {
		bus = &pci.Bus{}
	}
	devs, err := bus.Scan()
	if err != nil {
		return linuxblk.Disk{}, err.Error()
	}
	sysfs := linuxblk.Sysfs{}
	if r := bus.Root; r != "" && strings.HasSuffix(r, "/bus/pci/devices") {
		sysfs.Root = strings.TrimSuffix(r, "/bus/pci/devices")
	}
	var whys []string
	for _, d := range devs {
		if d.Class != ClassNVMe || s.PCIOwner(d.Addr) != "" {
			continue
		}
		if d.Driver != "nvme" {
			whys = append(whys, fmt.Sprintf("%s has %s", d.Addr, linuxDriver(d)))
			continue
		}
		disk, err := sysfs.NVMe(d.Addr)
		if err != nil {
			whys = append(whys, err.Error())
			continue
		}
		return disk, ""
	}
	if len(whys) == 0 {
		return linuxblk.Disk{}, "no second NVMe controller (boot with --nvme twice)"
	}
	return linuxblk.Disk{}, strings.Join(whys, "; ")
}
