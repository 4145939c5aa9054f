package fs_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// Benchmarks: sequential and random reads and writes at 4 KiB, 64 KiB and
// 1 MiB through the file system on the RAM disk, beside the same workload
// through os.File on the host's tmpfs (/dev/shm); log commits per second;
// buffer cache memory.
//
//	go test -run XXX -bench . ./rv6/fs/
//
// MB/s is the throughput (SetBytes). rv6 runs with SyncEachOp (every write
// committed before it returns: logged, flushed, installed; the RAM disk's
// flush is free) and with SyncOnDemand ("lazy": committed when the log
// fills); tmpfs never flushes anything.

const benchFile = 32 << 20

type rw interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
}

// setup returns a file of benchFile bytes (filled) on the named target.
func setup(b *testing.B, target string) (rw, func(), *fs.FS) {
	b.Helper()
	fill := func(f rw) {
		chunk := pattern(1<<20, 3)
		for off := int64(0); off < benchFile; off += int64(len(chunk)) {
			if _, err := f.WriteAt(chunk, off); err != nil {
				b.Fatal(err)
			}
		}
	}
	switch target {
	case "tmpfs":
		dir := "/dev/shm"
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			dir = b.TempDir()
		}
		f, err := os.CreateTemp(dir, "rv6bench")
		if err != nil {
			b.Fatal(err)
		}
		fill(f)
		return f, func() { f.Close(); os.Remove(f.Name()) }, nil
	default:
		mode := fs.SyncEachOp
		if target == "rv6-lazy" {
			mode = fs.SyncOnDemand
		}
		d := newDisk(b, benchFile/layout.BlockSize*3/2, fs.FormatOptions{})
		f := mount(b, d, fs.Options{Durability: mode})
		fl, err := f.Create("/bench")
		if err != nil {
			b.Fatal(err)
		}
		fill(fl)
		f.Sync()
		return fl, func() { fl.Close(); f.Unmount() }, f
	}
}

func BenchmarkIO(b *testing.B) {
	for _, pattern := range []string{"seq", "rand"} {
		for _, op := range []string{"read", "write"} {
			for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
				for _, target := range []string{"rv6", "rv6-lazy", "tmpfs"} {
					name := fmt.Sprintf("%s-%s/%dK/%s", pattern, op, size>>10, target)
					b.Run(name, func(b *testing.B) {
						f, done, fsys := setup(b, target)
						defer done()
						buf := make([]byte, size)
						rng := rand.New(rand.NewPCG(1, 2))
						n := int64(benchFile / size)
						b.SetBytes(int64(size))
						b.ResetTimer()
						for i := range b.N {
							off := int64(i) % n * int64(size)
							if pattern == "rand" {
								off = rng.Int64N(n) * int64(size)
							}
							var err error
							if op == "read" {
								_, err = f.ReadAt(buf, off)
							} else {
								_, err = f.WriteAt(buf, off)
							}
							if err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						if fsys != nil {
							st := fsys.Stats()
							b.ReportMetric(float64(st.Cache.Bytes())/(1<<20), "cache-MiB")
						}
					})
				}
			}
		}
	}
}

// BenchmarkCommit measures small transactions: a 100-byte write to a
// file, each committed before it returns (SyncEachOp), from one goroutine
// and from eight (group commit), on the RAM disk and on a device whose
// flush takes 20 us (an NVMe-like cache flush).
func BenchmarkCommit(b *testing.B) {
	for _, dev := range []string{"ramdisk", "flush20us"} {
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", dev, par), func(b *testing.B) {
				d := newDisk(b, 16384, fs.FormatOptions{})
				var f *fs.FS
				if dev == "ramdisk" {
					f = mount(b, d, fs.Options{})
				} else {
					f = mount(b, slowDev{d, 20 * time.Microsecond}, fs.Options{})
				}
				defer f.Unmount()
				files := make([]*fs.File, par)
				for i := range files {
					files[i], _ = f.Create(fmt.Sprintf("/c%d", i))
				}
				data := make([]byte, 100)
				before := f.Stats().Log
				var next atomic.Int64
				b.ResetTimer()
				start := time.Now()
				b.SetParallelism(par)
				if par == 1 {
					for i := range b.N {
						if _, err := files[0].WriteAt(data, int64(i%64)*100); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						fl := files[next.Add(1)%int64(par)]
						i := 0
						for pb.Next() {
							if _, err := fl.WriteAt(data, int64(i%64)*100); err != nil {
								b.Error(err)
								return
							}
							i++
						}
					})
				}
				elapsed := time.Since(start)
				b.StopTimer()
				st := f.Stats().Log
				commits := st.Commits - before.Commits
				b.ReportMetric(float64(commits)/elapsed.Seconds(), "commits/s")
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
				b.ReportMetric(float64(b.N)/float64(max(commits, 1)), "ops/commit")
			})
		}
	}
}

// slowDev is a device whose flush takes a while.
type slowDev struct {
	*blockdev.MemDisk
	flush time.Duration
}

// Flush spins rather than sleeps: timers are too coarse for 20 us.
func (s slowDev) Flush() error {
	for start := time.Now(); time.Since(start) < s.flush; {
	}
	return nil
}
