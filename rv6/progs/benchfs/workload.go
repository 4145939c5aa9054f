package benchfs

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// A Target is where the workload runs: Rv6 through its syscalls (the
// program), or, in the package's benchmarks, the file-system packages on
// the host and the host's own tmpfs.
type Target interface {
	// Create creates or truncates name for reading and writing.
	Create(name string) (File, error)
	// Open opens name for reading and writing.
	Open(name string) (File, error)
	Remove(name string) error
	// Stats returns the file system's log commits so far and the blocks in
	// its buffer cache; ok is false for a target that has neither.
	Stats() (commits, cacheBlocks uint64, ok bool)
}

// A File is an open file of a Target.
type File interface {
	io.Reader
	io.Writer
	io.Seeker
	Sync() error
	Close() error
}

// Config is what the workload does.
type Config struct {
	Name       string // the file's name
	Size       int64  // the file's size in bytes
	BlockSizes []int  // the sizes of the reads and writes, one round each
	Seed       uint64 // of the random offsets
}

// DefaultBlockSizes returns 4 KiB, 64 KiB and 1 MiB.
func DefaultBlockSizes() []int { return []int{4 << 10, 64 << 10, 1 << 20} }

// Ops, in the order each round runs them.
const (
	SeqWrite  = "seq-write"
	SeqRead   = "seq-read"
	RandWrite = "rand-write"
	RandRead  = "rand-read"
)

// A Result is one op at one block size.
type Result struct {
	Op        string
	BlockSize int
	Bytes     int64
	Ops       int
	Elapsed   time.Duration
	Commits   uint64 // log commits during the op (with Target.Stats)
}

// MBps is the throughput in MB/s (10^6 bytes per second, as Go's
// benchmarks count).
func (r Result) MBps() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

// OpsPerSec is the rate of reads or writes.
func (r Result) OpsPerSec() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// Run runs the workload on t: for each block size, a sequential write of
// the whole file (then fsync), a sequential read of it, as many writes of
// one block at random block-aligned offsets as the file has blocks (then
// fsync), and as many such reads. Each op is timed from its first call to
// its last (the fsync included). The file is removed at the end. Block
// sizes larger than the file are skipped.
func Run(t Target, cfg Config) ([]Result, error) {
	if cfg.Size <= 0 {
		return nil, fmt.Errorf("benchfs: file size %d", cfg.Size)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	var out []Result
	for _, bs := range cfg.BlockSizes {
		if bs <= 0 || int64(bs) > cfg.Size {
			continue
		}
		buf := make([]byte, bs)
		for i := range buf {
			buf[i] = byte(i*7 + bs)
		}
		blocks := cfg.Size / int64(bs)
		for _, op := range []string{SeqWrite, SeqRead, RandWrite, RandRead} {
			r, err := runOp(t, cfg.Name, op, buf, blocks, rng)
			if err != nil {
				t.Remove(cfg.Name)
				return out, fmt.Errorf("benchfs: %s, %d-byte blocks: %w", op, bs, err)
			}
			out = append(out, r)
		}
	}
	if err := t.Remove(cfg.Name); err != nil {
		return out, fmt.Errorf("benchfs: removing %s: %w", cfg.Name, err)
	}
	return out, nil
}

func runOp(t Target, name, op string, buf []byte, blocks int64, rng *rand.Rand) (Result, error) {
	bs := int64(len(buf))
	var f File
	var err error
	if op == SeqWrite {
		f, err = t.Create(name)
	} else {
		f, err = t.Open(name)
	}
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	commits0, _, _ := t.Stats()
	start := time.Now()
	switch op {
	case SeqWrite:
		for range blocks {
			if _, err := f.Write(buf); err != nil {
				return Result{}, err
			}
		}
		err = f.Sync()
	case SeqRead:
		for range blocks {
			if _, err := io.ReadFull(f, buf); err != nil {
				return Result{}, err
			}
		}
	case RandWrite, RandRead:
		for range blocks {
			if _, err := f.Seek(rng.Int64N(blocks)*bs, io.SeekStart); err != nil {
				return Result{}, err
			}
			if op == RandWrite {
				_, err = f.Write(buf)
			} else {
				_, err = io.ReadFull(f, buf)
			}
			if err != nil {
				return Result{}, err
			}
		}
		if op == RandWrite {
			err = f.Sync()
		}
	}
	if err != nil {
		return Result{}, err
	}
	elapsed := max(time.Since(start), time.Nanosecond)
	commits1, _, _ := t.Stats()
	return Result{Op: op, BlockSize: int(bs), Bytes: blocks * bs, Ops: int(blocks), Elapsed: elapsed, Commits: commits1 - commits0}, nil
}

// Print writes results as a table: op, block size, MB/s, ops/s and, with
// commits, log commits.
func Print(w io.Writer, results []Result, commits bool) error {
	header := fmt.Sprintf("%-10s %6s %10s %10s", "OP", "BS", "MB/s", "OPS/s")
	if commits {
		header += fmt.Sprintf(" %8s", "COMMITS")
	}
	if _, err := fmt.Fprintln(w, header); err != nil {
		return err
	}
	for _, r := range results {
		line := fmt.Sprintf("%-10s %6s %10.1f %10.0f", r.Op, BlockSizeName(r.BlockSize), r.MBps(), r.OpsPerSec())
		if commits {
			line += fmt.Sprintf(" %8d", r.Commits)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// BlockSizeName is a block size as the table shows it: 4K, 64K, 1M.
func BlockSizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}
