//go:build linux

package flash

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/images/bmap"
)

// BenchmarkFlash2GiB writes a 2 GiB disk image holding 200 MiB of random
// data (200 extents of 1 MiB spread over the image) to a loop device,
// three ways in the same run:
//
//   - ours: Plan.Write with its bmap, read back and verified;
//   - dd bs=4M conv=fsync, which writes all 2 GiB and verifies nothing;
//   - bmaptool copy --bmap (Debian bmap-tools), which writes the mapped
//     blocks and checks the bmap's checksums as it reads the image.
//
// Before every run the image leaves the page cache and the loop device's
// file is emptied, so each tool reads a cold image and writes to the
// same device. Reported: seconds per tool and the ratios dd/ours and
// bmaptool/ours (above 1: ours is faster).
//
//	go test ./flash -run '^$' -bench Flash2GiB -benchtime 3x
func BenchmarkFlash2GiB(b *testing.B) {
	requireLoops(b)
	for _, tool := range []string{"dd", "bmaptool"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed", tool)
		}
	}
	const (
		imageSize = 2 << 30
		extents   = 200
		extent    = 1 << 20
	)
	dir := b.TempDir()
	image := filepath.Join(dir, "disk.img")
	f, err := os.Create(image)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(imageSize); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, extent)
	for i := range extents {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(buf, int64(i)*(imageSize/extents)); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	if _, err := bmap.Create(image, image+".bmap"); err != nil {
		b.Fatal(err)
	}
	backing := filepath.Join(dir, "stick.img")
	if err := os.WriteFile(backing, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(backing, imageSize+16<<20); err != nil {
		b.Fatal(err)
	}
	loop := attachLoop(b, backing, 0)

	// reset empties the device and drops the image from the page cache.
	reset := func() {
		bf, err := os.OpenFile(backing, os.O_RDWR, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := unix.Fallocate(int(bf.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, imageSize+16<<20); err != nil {
			b.Fatal(err)
		}
		bf.Sync()
		bf.Close()
		lf, err := os.OpenFile(loop, os.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		unix.IoctlSetInt(int(lf.Fd()), unix.BLKFLSBUF, 0) // the device's page cache
		lf.Close()
		imf, err := os.Open(image)
		if err != nil {
			b.Fatal(err)
		}
		unix.Fadvise(int(imf.Fd()), 0, 0, unix.FADV_DONTNEED)
		imf.Close()
	}
	run := func(name string, cmd ...string) time.Duration {
		reset()
		start := time.Now()
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	ours := func() time.Duration {
		reset()
		start := time.Now()
		img, err := OpenImage(image)
		if err != nil {
			b.Fatal(err)
		}
		defer img.Close()
		p, err := Host{}.Plan(img, loop, PlanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Write(context.Background(), WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	var tOurs, tDD, tBmap time.Duration
	b.ResetTimer()
	for range b.N {
		tOurs += ours()
		tDD += run("dd", "dd", "if="+image, "of="+loop, "bs=4M", "conv=fsync", "status=none")
		tBmap += run("bmaptool", "bmaptool", "-q", "copy", "--bmap", image+".bmap", image, loop)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(tOurs.Seconds()/n, "ours-s")
	b.ReportMetric(tDD.Seconds()/n, "dd-s")
	b.ReportMetric(tBmap.Seconds()/n, "bmaptool-s")
	b.ReportMetric(tDD.Seconds()/tOurs.Seconds(), "dd/ours")
	b.ReportMetric(tBmap.Seconds()/tOurs.Seconds(), "bmaptool/ours")
}
