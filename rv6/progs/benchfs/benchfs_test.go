package benchfs_test

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/progs/benchfs"
	"github.com/rlgo/redleaf/rv6/rv6test"
)

func TestBenchfs(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20})
	out := s.MustRun(t, "benchfs", "-size", "1M")
	rows := parseTable(t, out)
	if len(rows) != 12 {
		t.Fatalf("benchfs: %d rows, want 12 (4 ops at 3 block sizes):\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r.MBps() <= 0 || r.Ops <= 0 {
			t.Errorf("row %+v", r)
		}
		if (r.Op == benchfs.SeqWrite || r.Op == benchfs.RandWrite) && r.Commits == 0 {
			t.Errorf("%s %d: no log commits", r.Op, r.BlockSize)
		}
	}
	for _, want := range []string{"device ramdisk", "log commits: ", "buffer cache: "} {
		if !strings.Contains(out, want) {
			t.Errorf("benchfs output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)
	// The file is gone, and block sizes can be chosen.
	out = s.MustRun(t, "benchfs", "--size", "256K", "-bs", "8K,128K", "-file", "/b")
	if rows := parseTable(t, out); len(rows) != 8 || rows[0].BlockSize != 8<<10 || rows[7].BlockSize != 128<<10 {
		t.Errorf("benchfs -bs 8K,128K:\n%s", out)
	}
	for _, bad := range [][]string{{"-size"}, {"-size", "x"}, {"-bs", "0"}, {"-frob", "1"}, {"extra"}} {
		out, st := s.Run(t, "benchfs", bad...)
		if st.Status != 2 || !strings.Contains(out, "usage: benchfs") {
			t.Errorf("benchfs %q: %+v %q", bad, st, out)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4K": 4096, "4k": 4096, "32M": 32 << 20, "1G": 1 << 30} {
		if got, err := benchfs.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "K", "x", "1.5M", "99999999999G"} {
		if _, err := benchfs.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}

// parseTable reads benchfs's table back into Results.
func parseTable(t testing.TB, out string) []benchfs.Result {
	t.Helper()
	var rows []benchfs.Result
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || !strings.Contains(f[0], "-") {
			continue
		}
		bs, err := benchfs.ParseSize(f[1])
		mbps, err2 := strconv.ParseFloat(f[2], 64)
		ops, err3 := strconv.ParseFloat(f[3], 64)
		commits, err4 := strconv.ParseUint(f[4], 10, 64)
		if err != nil || err2 != nil || err3 != nil || err4 != nil || ops <= 0 {
			t.Fatalf("bad row %q", line)
		}
		// Rebuild a Result with the same rates: Ops/Elapsed and Bytes/Elapsed.
		elapsed := time.Duration(float64(time.Second) * 1000 / ops)
		rows = append(rows, benchfs.Result{Op: f[0], BlockSize: int(bs), Ops: 1000,
			Bytes: int64(mbps * 1e6 * elapsed.Seconds()), Elapsed: elapsed, Commits: commits})
	}
	return rows
}

var benchSize = flag.String("benchfs.size", "32M", "the file size of BenchmarkBenchfs")

// BenchmarkBenchfs runs benchfs's workload three ways: through the domains
// (the benchfs program in Rv6 on the RAM-disk driver domain), through the
// file-system packages directly on the host (rv6/fs on an in-memory block
// device, committing each operation as the Rv6 domain does), and on the
// host's tmpfs (os files in /dev/shm), and logs a table of the three with
// their ratios. Each op's MB/s is also reported as a metric.
//
//	go test ./rv6/progs/benchfs -run '^$' -bench Benchfs -benchtime 1x [-benchfs.size 32M]
func BenchmarkBenchfs(b *testing.B) {
	size, err := benchfs.ParseSize(*benchSize)
	if err != nil {
		b.Fatal(err)
	}
	results := map[string][]benchfs.Result{}
	iters := 0
	run := func(name string, fn func(b *testing.B) []benchfs.Result) {
		b.Run(name, func(b *testing.B) {
			var runs [][]benchfs.Result
			for range b.N {
				runs = append(runs, fn(b))
			}
			med := median(runs)
			for _, r := range med {
				b.ReportMetric(r.MBps(), fmt.Sprintf("%s-%s-MB/s", r.Op, benchfs.BlockSizeName(r.BlockSize)))
			}
			results[name] = med
			iters = b.N
		})
	}
	run("domains", func(b *testing.B) []benchfs.Result {
		b.StopTimer()
		s := rv6test.Boot(b, rv6test.Options{DiskSize: 2*size + 16<<20})
		b.StartTimer()
		out := s.MustRun(b, "benchfs", "-size", strconv.FormatInt(size, 10))
		b.Logf("benchfs in Rv6:\n%s", out)
		return parseTable(b, out)
	})
	run("host-fs", func(b *testing.B) []benchfs.Result {
		b.StopTimer()
		d := blockdev.NewMemDisk(uint64(2*size+16<<20) / blockdev.BlockSize)
		if err := fs.Format(d, fs.FormatOptions{}); err != nil {
			b.Fatal(err)
		}
		f, err := fs.Mount(d, fs.Options{Durability: fs.SyncEachOp})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Unmount()
		b.StartTimer()
		rs, err := benchfs.Run(fsTarget{f}, benchfs.Config{Name: "/benchfs.tmp", Size: size, BlockSizes: benchfs.DefaultBlockSizes(), Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		st := f.Stats()
		b.Logf("rv6/fs on the host: %d log commits, buffer cache %d blocks", st.Log.Commits, st.Cache.Resident)
		return rs
	})
	run("tmpfs", func(b *testing.B) []benchfs.Result {
		dir := "/dev/shm"
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			dir = b.TempDir()
		}
		dir, err := os.MkdirTemp(dir, "benchfs")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
		rs, err := benchfs.Run(osTarget{dir}, benchfs.Config{Name: "benchfs.tmp", Size: size, BlockSizes: benchfs.DefaultBlockSizes(), Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		return rs
	})
	if len(results) == 3 {
		b.Logf("file of %d MiB; MB/s (10^6 bytes/s), median of %d runs\n%s", size>>20, iters, ratioTable(results))
	}
}

// median returns, for each op of the runs (which all ran the same ops in
// the same order), the run with the median time: a shared machine's
// hiccups (another process, a GC) hit single ops of single runs.
func median(runs [][]benchfs.Result) []benchfs.Result {
	if len(runs) == 0 {
		return nil
	}
	out := make([]benchfs.Result, len(runs[0]))
	for i := range out {
		var col []benchfs.Result
		for _, rs := range runs {
			col = append(col, rs[i])
		}
		sort.Slice(col, func(a, b int) bool { return col[a].Elapsed < col[b].Elapsed })
		out[i] = col[len(col)/2]
	}
	return out
}

// ratioTable is the Markdown table of BENCHMARKS.md.
func ratioTable(results map[string][]benchfs.Result) string {
	type key struct {
		op string
		bs int
	}
	by := map[string]map[key]benchfs.Result{}
	var keys []key
	for name, rs := range results {
		by[name] = map[key]benchfs.Result{}
		for _, r := range rs {
			k := key{r.Op, r.BlockSize}
			by[name][k] = r
			if name == "domains" {
				keys = append(keys, k)
			}
		}
	}
	order := map[string]int{benchfs.SeqWrite: 0, benchfs.SeqRead: 1, benchfs.RandWrite: 2, benchfs.RandRead: 3}
	sort.SliceStable(keys, func(i, j int) bool {
		if order[keys[i].op] != order[keys[j].op] {
			return order[keys[i].op] < order[keys[j].op]
		}
		return keys[i].bs < keys[j].bs
	})
	var sb strings.Builder
	sb.WriteString("| op | block | Rv6 domains | rv6/fs on host | host tmpfs | domains / host fs | domains / tmpfs |\n|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		d, h, m := by["domains"][k].MBps(), by["host-fs"][k].MBps(), by["tmpfs"][k].MBps()
		fmt.Fprintf(&sb, "| %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", k.op, benchfs.BlockSizeName(k.bs), d, h, m, d/h, d/m)
	}
	return sb.String()
}

// fsTarget runs the workload on rv6/fs directly.
type fsTarget struct{ f *fs.FS }

func (t fsTarget) Create(name string) (benchfs.File, error) {
	fl, err := t.f.Create(name)
	return &fsFile{f: fl}, err
}

func (t fsTarget) Open(name string) (benchfs.File, error) {
	fl, err := t.f.Open(name, fs.O_RDWR)
	return &fsFile{f: fl}, err
}

func (t fsTarget) Remove(name string) error { return t.f.Unlink(name) }

func (t fsTarget) Stats() (uint64, uint64, bool) {
	st := t.f.Stats()
	return uint64(st.Log.Commits), uint64(st.Cache.Resident), true
}

// fsFile is an fs.File with an offset, as a descriptor has.
type fsFile struct {
	f   *fs.File
	off int64
}

func (f *fsFile) Read(p []byte) (int, error) {
	n, err := f.f.ReadAt(p, f.off)
	f.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

func (f *fsFile) Write(p []byte) (int, error) {
	n, err := f.f.WriteAt(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *fsFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		f.off = off
	case io.SeekCurrent:
		f.off += off
	default:
		st, err := f.f.Stat()
		if err != nil {
			return 0, err
		}
		f.off = st.Size + off
	}
	return f.off, nil
}

func (f *fsFile) Sync() error  { return f.f.Sync() }
func (f *fsFile) Close() error { return f.f.Close() }

// osTarget runs the workload on the host's files in dir.
type osTarget struct{ dir string }

func (t osTarget) Create(name string) (benchfs.File, error) {
	return os.Create(filepath.Join(t.dir, name))
}

func (t osTarget) Open(name string) (benchfs.File, error) {
	return os.OpenFile(filepath.Join(t.dir, name), os.O_RDWR, 0)
}

func (t osTarget) Remove(name string) error { return os.Remove(filepath.Join(t.dir, name)) }

func (t osTarget) Stats() (uint64, uint64, bool) { return 0, 0, false }
