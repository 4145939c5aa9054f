//rl:domain

// Package benchfs is the benchfs program: it measures the file system's
// throughput through Rv6's syscalls, as RedLeaf's benchfs does: sequential
// and random reads and writes at block sizes of 4 KiB, 64 KiB and 1 MiB on
// one file, printed as a table (op, block size, MB/s, ops/s, log commits),
// followed by the log's commits per second and the buffer cache's size.
//
//	benchfs [-size N] [-bs LIST] [-file PATH] [-fault DOMAIN:KIND [-every D]]
//
// -size is the file's size (default 32M; suffixes K, M, G), -bs the block
// sizes (default 4K,64K,1M), -file the file (default /benchfs.tmp, removed
// afterwards).
//
// -fault measures recovery under load, as RedLeaf's benchmark of a driver
// fault every second does: the workload runs twice, first without faults,
// then while a thread of the program arms fault KIND (panic, nilptr, ...)
// in domain DOMAIN (nvme, ramdisk) at its start and every D (default 1s)
// after that, through the kernel's monitor (inject DOMAIN KIND), which
// needs the admin capability (`grant admin benchfs ... -fault ...`); the
// table gives both throughputs and their ratio, and how many faults were
// armed. A run in which no fault could be armed fails.
//
// The workload (Run) is also what the package's benchmarks run on the host,
// through the file-system packages directly and on the host's tmpfs, for
// the ratios in BENCHMARKS.md.
package benchfs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "benchfs [-size N] [-bs 4K,64K,1M] [-file PATH] [-fault DOMAIN:KIND [-every 1s]]"

func init() { ulib.Register("benchfs", main) }

func main(p *ulib.Proc) int {
	cfg := Config{Name: "/benchfs.tmp", Size: 32 << 20, BlockSizes: DefaultBlockSizes(), Seed: 1}
	var fault []string // inject's arguments: DOMAIN KIND
	every := time.Second
	args := p.Args[1:]
	for len(args) > 0 {
		flag, val := args[0], ""
		if len(args) < 2 || !strings.HasPrefix(flag, "-") {
			return cli.Usage(p, usage)
		}
		val, args = args[1], args[2:]
		switch strings.TrimPrefix(strings.TrimPrefix(flag, "-"), "-") { // -size and --size alike
		case "size":
			n, err := ParseSize(val)
			if err != nil || n <= 0 {
				return cli.BadUsage(p, fmt.Errorf("bad size %q", val), usage)
			}
			cfg.Size = n
		case "bs":
			cfg.BlockSizes = nil
			for _, s := range strings.Split(val, ",") {
				n, err := ParseSize(s)
				if err != nil || n <= 0 || n > 64<<20 {
					return cli.BadUsage(p, fmt.Errorf("bad block size %q", s), usage)
				}
				cfg.BlockSizes = append(cfg.BlockSizes, int(n))
			}
		case "file":
			cfg.Name = val
		case "fault":
			dom, kind, ok := strings.Cut(val, ":")
			if !ok || dom == "" || kind == "" {
				return cli.BadUsage(p, fmt.Errorf("bad fault %q: want DOMAIN:KIND, e.g. nvme:panic", val), usage)
			}
			fault = []string{dom, kind}
		case "every":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return cli.BadUsage(p, fmt.Errorf("bad interval %q: want a duration such as 1s", val), usage)
			}
			every = d
		default:
			return cli.BadUsage(p, fmt.Errorf("unknown flag %s", flag), usage)
		}
	}
	t := procTarget{p}
	st0, err := p.Statfs()
	if err != nil {
		return cli.Fail(p, "statfs", err)
	}
	p.Printf("benchfs: %s, file %s of %s, device %s\n", time.Now().UTC().Format(time.DateOnly), cfg.Name, cli.Size(uint64(cfg.Size)), st0.Device)
	if fault != nil {
		// Arming faults changes a domain of the system: the admin
		// capability's business, asked for before any work.
		admin, err := ulib.Cap[idl.Monitor](p, ulib.CapAdmin)
		if err != nil {
			p.Errorf("-fault arms faults in a domain, which needs the admin capability: run it as `grant admin benchfs ...` from the console's login shell")
			return ulib.StatusError
		}
		return underFaults(p, t, cfg, admin, fault, every)
	}
	start := time.Now()
	results, err := Run(t, cfg)
	elapsed := time.Since(start)
	if perr := Print(p.Stdout, results, true); perr != nil {
		return cli.WriteFailed(p, perr)
	}
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	st1, err := p.Statfs()
	if err != nil {
		return cli.Fail(p, "statfs", err)
	}
	commits := st1.Commits - st0.Commits
	p.Printf("log commits: %d in %.2f s (%.0f/s)\n", commits, elapsed.Seconds(), float64(commits)/elapsed.Seconds())
	p.Printf("buffer cache: %d blocks (%s)\n", st1.CacheBlocks, cli.Size(st1.CacheBlocks*uint64(st1.BlockSize)))
	return ulib.StatusOK
}

// ParseSize parses a byte count with an optional binary suffix: 4096, 4K,
// 32M, 1G.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %s too large", s)
	}
	return n * mult, nil
}

// procTarget runs the workload through the process's syscalls.
type procTarget struct{ p *ulib.Proc }

func (t procTarget) Create(name string) (File, error) {
	return t.p.Open(name, idl.ORdWr|idl.OCreate|idl.OTrunc)
}

func (t procTarget) Open(name string) (File, error) { return t.p.Open(name, idl.ORdWr) }

func (t procTarget) Remove(name string) error { return t.p.Unlink(name) }

func (t procTarget) Stats() (uint64, uint64, bool) {
	st, err := t.p.Statfs()
	if err != nil {
		return 0, 0, false
	}
	return st.Commits, st.CacheBlocks, true
}

// underFaults runs the workload without faults, then with fault armed in
// its domain every interval, and prints both throughputs and their ratio.
func underFaults(p *ulib.Proc, t Target, cfg Config, admin idl.Monitor, fault []string, every time.Duration) int {
	base, err := Run(t, cfg)
	if err != nil {
		p.Errorf("without faults: %v", err)
		return ulib.StatusError
	}
	// The injector: its own Proc (a thread of its own); the monitor's
	// output is dropped, the first refusal kept for the report.
	q := p.Fork()
	stop, done := make(chan struct{}), make(chan int)
	var refusal string // written by the injector before done
	q.Go("benchfs-faults", func() {
		// The first fault at once (a short workload still meets one),
		// then one every interval.
		n := 0
		for {
			res, err := admin.Run(ulib.JoinNul(append([]string{"inject"}, fault...)))
			switch {
			case err == nil && res.Status == 0:
				n++
			case refusal == "" && err != nil:
				refusal = err.Error()
			case refusal == "":
				refusal = strings.TrimSpace(string(res.Out[:min(max(int(res.N), 0), len(res.Out))]))
			}
			select {
			case <-stop:
				done <- n
				return
			case <-time.After(every):
			}
		}
	})
	faulted, err := Run(t, cfg)
	close(stop)
	armed := <-done
	if err != nil {
		p.Errorf("with a %s fault in %s every %v: %v", fault[1], fault[0], every, err)
		return ulib.StatusError
	}
	p.Printf("%-10s %6s %12s %12s %7s\n", "OP", "BS", "MB/s", "MB/s-FAULTS", "RATIO")
	for i, r := range base {
		f := faulted[i]
		p.Printf("%-10s %6s %12.1f %12.1f %7.2f\n", r.Op, BlockSizeName(r.BlockSize), r.MBps(), f.MBps(), f.MBps()/r.MBps())
	}
	p.Printf("faults: %s %s armed %d times, every %v, all through the workload\n", fault[0], fault[1], armed, every)
	if armed == 0 {
		// A measurement under faults without a fault is not one.
		p.Errorf("no fault was armed: %s", refusal)
		return ulib.StatusError
	}
	return ulib.StatusOK
}
