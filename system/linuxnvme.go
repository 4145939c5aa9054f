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

// linuxOptions are what linuxBench measures: each queue depth for dur or
// count reads, whichever ends first.
type linuxOptions struct {
	dur     time.Duration
	count   int
	batches []int
}

// linuxBench measures Linux's driver on a second NVMe controller, if the
// machine has one, with o's queue depths and limits over at most blocks
// blocks, saying which disk; false if a measurement failed.
func (s *System) linuxBench(p *sh.Proc, blocks uint64, o linuxOptions) ([]blockbench.Result, bool) {
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
	o := linuxOptions{}
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
