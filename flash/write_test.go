//go:build linux

package flash

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rlgo/redleaf/images/bmap"
	"github.com/rlgo/redleaf/images/manifest"
)

// testImageSize is not a multiple of 4 KiB, so the last write is padded.
const testImageSize = 24<<20 + 1536

// testExtents are the data of the test image: in the first MiB with a
// hole, across the end of the first MiB, two extents less than 1 MiB
// apart (written as one), a large extent and the partial last block.
var testExtents = [][2]int64{
	{0, 20 << 10},
	{600 << 10, 700 << 10},
	{1<<20 - 8<<10, 1<<20 + 64<<10},
	{3 << 20, 3<<20 + 4096},
	{14 << 20, 14<<20 + 4096},
	{14<<20 + 512<<10, 14<<20 + 600<<10},
	{16 << 20, 20<<20 + 5000},
	{testImageSize - 1536, testImageSize},
}

// makeImage writes a sparse raw image with random data at the extents
// into dir and returns its path and contents.
func makeImage(t testing.TB, dir string, size int64, extents [][2]int64) (string, []byte) {
	t.Helper()
	path := filepath.Join(dir, "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 8))
	for _, e := range extents {
		for i := e[0]; i < e[1]; i += 8 {
			v := rng.Uint64() | 1<<56 // no zero blocks inside the data
			for j := int64(0); j < 8 && i+j < e[1]; j++ {
				data[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := f.WriteAt(data[e[0]:e[1]], e[0]); err != nil {
			t.Fatal(err)
		}
	}
	return path, data
}

// compress writes the compressed image to path.
func compress(t testing.TB, data []byte, format, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w io.WriteCloser
	switch format {
	case Gzip:
		w = gzip.NewWriter(f)
	case Zstd:
		w, err = zstd.NewWriter(f)
	case XZ:
		w, err = xz.NewWriter(f)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readDevice reads n bytes from the start of a device (or file).
func readDevice(t testing.TB, path string, n int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(f, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// firstDiff describes the first difference of two byte slices.
func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("byte %d: %#x, want %#x", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

const oldContents = 0xa5 // what the stick held before

// flash plans and writes img to a fresh loop device over a file of
// devSize bytes of oldContents, and returns the device, its backing file
// and the result.
func flashToLoop(t *testing.T, img *Image, devSize int64, po PlanOptions, wo WriteOptions) (string, string, *Result, error) {
	t.Helper()
	backing := backingFile(t, devSize, oldContents)
	loop := attachLoop(t, backing, 0)
	p, err := Host{}.Plan(img, loop, po)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Write(context.Background(), wo)
	return loop, backing, res, err
}

func TestWriteAndVerify(t *testing.T) {
	requireLoops(t)
	src := t.TempDir()
	raw, data := makeImage(t, src, testImageSize, testExtents)
	rawMap, err := bmap.Create(raw, raw+".bmap")
	if err != nil {
		t.Fatal(err)
	}
	// A second directory without a bmap, and compressed images with and
	// without one.
	bare := t.TempDir()
	bareRaw, _ := makeImage(t, bare, testImageSize, testExtents)
	for _, c := range []struct{ format, ext string }{{Gzip, ".gz"}, {Zstd, ".zst"}, {XZ, ".xz"}} {
		compress(t, data, c.format, raw+c.ext)                    // disk.img.bmap applies
		if err := os.Link(raw+c.ext, bareRaw+c.ext); err != nil { // the same data
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, path, mapSource, compression string
		chunk                              int
	}{
		{"raw-bmap", raw, raw + ".bmap", "", 0},
		{"raw-seek", bareRaw, "SEEK_DATA/SEEK_HOLE", "", 0},
		{"raw-bmap-small-chunks", raw, raw + ".bmap", "", 64 << 10},
		{"gzip-bmap", raw + ".gz", raw + ".bmap", Gzip, 0},
		{"zstd-bmap", raw + ".zst", raw + ".bmap", Zstd, 0},
		{"xz-bmap", raw + ".xz", raw + ".bmap", XZ, 0},
		{"gzip-scan", bareRaw + ".gz", "zero blocks", Gzip, 0},
		{"zstd-scan", bareRaw + ".zst", "zero blocks", Zstd, 100 << 10},
		{"xz-scan", bareRaw + ".xz", "zero blocks", XZ, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := OpenImage(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if img.MapSource != tc.mapSource || img.Compression != tc.compression || img.Size != testImageSize {
				t.Errorf("image: map from %q, compression %q, size %d; want %q, %q, %d", img.MapSource, img.Compression, img.Size, tc.mapSource, tc.compression, testImageSize)
			}
			if tc.mapSource == "zero blocks" && len(img.Map.Ranges) != len(rawMap.Ranges) {
				t.Errorf("zero-block scan found %d ranges, the bmap has %d", len(img.Map.Ranges), len(rawMap.Ranges))
			}
			var phases []Phase
			wo := WriteOptions{ChunkSize: tc.chunk, Progress: func(p Progress) {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
			}}
			devSize := int64(testImageSize + 4<<20)
			loop, _, res, err := flashToLoop(t, img, devSize, PlanOptions{}, wo)
			if err != nil {
				t.Fatal(err)
			}
			got := readDevice(t, loop, devSize)
			if !bytes.Equal(got[:testImageSize], data) {
				t.Fatalf("device differs from the image at %s", firstDiff(got[:testImageSize], data))
			}
			// Padding to the logical block size, then the old contents.
			pad := roundUp(testImageSize, 512)
			if !allBytes(got[testImageSize:pad], 0) || !allBytes(got[pad:], oldContents) {
				t.Error("the device past the image is not padding and then its old contents")
			}
			if res.HoleMethod != "zeroed by unmapping" || res.Verified != res.Written || res.Written >= testImageSize/2 {
				t.Errorf("result %+v", res)
			}
			if want := []Phase{PhaseZero, PhaseWrite, PhaseVerify, PhaseHead}; !equalPhases(phases, want) {
				t.Errorf("phases %v, want %v", phases, want)
			}
		})
	}
}

func allBytes(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}

func equalPhases(a, b []Phase) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHoleMethods: what happens to the unmapped areas on devices that
// can and cannot zero or discard (loop devices can all: the test takes
// abilities away).
func TestHoleMethods(t *testing.T) {
	requireLoops(t)
	raw, data := makeImage(t, t.TempDir(), testImageSize, testExtents)
	if _, err := bmap.Create(raw, raw+".bmap"); err != nil {
		t.Fatal(err)
	}
	img, err := OpenImage(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	for _, tc := range []struct {
		name                 string
		writeZeroes, discard bool
		zero                 bool
		method               string
		zeroed               bool // the holes read as zeros afterwards
	}{
		{"unmap", true, true, false, "zeroed by unmapping", true},
		{"discard", false, true, false, "discarded", true}, // loop devices discard by punching holes
		{"neither", false, false, false, "left as they were", false},
		{"neither-zero", false, false, true, "written as zeros", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backing := backingFile(t, testImageSize+1<<20, oldContents)
			loop := attachLoop(t, backing, 0)
			p, err := Host{}.Plan(img, loop, PlanOptions{ZeroUnmapped: tc.zero})
			if err != nil {
				t.Fatal(err)
			}
			p.Device.WriteZeroes, p.Device.Discard = tc.writeZeroes, tc.discard
			var b strings.Builder
			p.Describe(&b)
			res, err := p.Write(context.Background(), WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.HoleMethod != tc.method || res.Holes != p.HoleBytes() {
				t.Errorf("holes %s: %d bytes, want %s: %d bytes", res.HoleMethod, res.Holes, tc.method, p.HoleBytes())
			}
			got := readDevice(t, loop, testImageSize)
			for _, h := range p.Holes {
				want := byte(oldContents)
				if tc.zeroed {
					want = 0
				}
				if !allBytes(got[h.Off:min(h.End, testImageSize)], want) {
					t.Errorf("hole %d-%d does not read as %#x", h.Off, h.End, want)
				}
			}
			for _, pc := range p.pieces {
				end := min(pc.End, testImageSize)
				if !bytes.Equal(got[pc.Off:end], data[pc.Off:end]) {
					t.Errorf("%s differs", p.describe(&pc))
				}
			}
		})
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	requireLoops(t)
	raw, _ := makeImage(t, t.TempDir(), testImageSize, testExtents)
	if _, err := bmap.Create(raw, raw+".bmap"); err != nil {
		t.Fatal(err)
	}
	img, err := OpenImage(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	const at = 18 << 20 // in blocks 4096-5121
	var backing string
	flip := func() error {
		// Behind the device's back: the loop device reads its file.
		f, err := os.OpenFile(backing, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, at); err != nil {
			return err
		}
		b[0] ^= 0x40
		_, err = f.WriteAt(b, at)
		return err
	}
	backing = backingFile(t, testImageSize, oldContents)
	loop := attachLoop(t, backing, 0)
	p, err := Host{}.Plan(img, loop, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Write(context.Background(), WriteOptions{beforeVerify: flip})
	var ve *VerifyError
	var ie *IncompleteError
	if !errors.As(err, &ve) || !errors.As(err, &ie) {
		t.Fatalf("Write with a corrupted read-back = %v, want an IncompleteError with a VerifyError", err)
	}
	if ve.Off > at || ve.End <= at || !strings.Contains(err.Error(), "bmap blocks 4096-5121 (bytes 16777216-20979711)") || !strings.Contains(err.Error(), "not bootable") {
		t.Errorf("error %q does not name the range of byte %d or say the device is not bootable", err, at)
	}
	if head := readDevice(t, loop, 1<<20); !allBytes(head, oldContents) {
		t.Error("the first MiB was written although verification failed")
	}
}

func TestInterruptedWriteLeavesHeadUntouched(t *testing.T) {
	requireLoops(t)
	raw, _ := makeImage(t, t.TempDir(), testImageSize, testExtents)
	img, err := OpenImage(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	backing := backingFile(t, testImageSize, oldContents)
	loop := attachLoop(t, backing, 0)
	p, err := Host{}.Plan(img, loop, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var written int64
	_, err = p.Write(ctx, WriteOptions{ChunkSize: 64 << 10, Progress: func(pr Progress) {
		if pr.Phase == PhaseWrite && pr.Done >= 256<<10 { // Ctrl-C
			written = pr.Done
			cancel()
		}
	}})
	var ie *IncompleteError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ie) {
		t.Fatalf("interrupted Write = %v, want an IncompleteError for context.Canceled", err)
	}
	if !strings.HasPrefix(err.Error(), "interrupted after ") || !strings.Contains(err.Error(), loop+" is not bootable") {
		t.Errorf("error %q does not say the device is not bootable", err)
	}
	if ie.Written < written || ie.Written >= p.WriteBytes() {
		t.Errorf("IncompleteError.Written = %d, want between %d and %d", ie.Written, written, p.WriteBytes())
	}
	if head := readDevice(t, loop, 1<<20); !allBytes(head, oldContents) {
		t.Error("sector 0 (the first MiB) changed although the write was interrupted")
	}
}

// TestImageChecks: the image is checked against its bmap and manifest
// while it is written, before the first MiB.
func TestImageChecks(t *testing.T) {
	requireLoops(t)
	dir := t.TempDir()
	raw, _ := makeImage(t, dir, testImageSize, testExtents)
	m := &manifest.Manifest{Name: "test", Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.img", Disk: "disk.img"}
	if err := m.Add(dir, "disk.img"); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}

	// The artifacts directory works, and the digest matches.
	img, err := OpenImage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if img.Path != raw || img.Manifest == nil || img.digest == "" {
		t.Errorf("OpenImage(dir): path %s, manifest %v, digest %q", img.Path, img.Manifest, img.digest)
	}
	if _, _, _, err := flashToLoop(t, img, testImageSize, PlanOptions{}, WriteOptions{}); err != nil {
		t.Fatalf("writing an image that matches its manifest: %v", err)
	}
	img.Close()

	// A change in the data after the build: the digest catches it.
	f, err := os.OpenFile(raw, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("changed"), 17<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	img, err = OpenImage(raw)
	if err != nil {
		t.Fatal(err)
	}
	loop, _, _, err := flashToLoop(t, img, testImageSize, PlanOptions{}, WriteOptions{})
	img.Close()
	if err == nil || !strings.Contains(err.Error(), "the manifest says") {
		t.Errorf("writing an image that differs from its manifest: %v, want a digest mismatch", err)
	}
	if head := readDevice(t, loop, 1<<20); !allBytes(head, oldContents) {
		t.Error("the first MiB was written although the image did not match its manifest")
	}

	// A bmap of another image of the same size.
	other := t.TempDir()
	otherRaw, _ := makeImage(t, other, testImageSize, testExtents)
	f, err = os.OpenFile(otherRaw, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("other"), 3<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := bmap.Create(otherRaw, raw+".bmap"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, manifest.FileName))
	img, err = OpenImage(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	_, _, _, err = flashToLoop(t, img, testImageSize, PlanOptions{}, WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "its block map says") {
		t.Errorf("writing with another image's bmap: %v, want a checksum mismatch", err)
	}
}

// TestBmaptoolCopiesWithOurBmap: bmaptool writes an image to a loop
// device with the bmap this package writes.
func TestBmaptoolCopiesWithOurBmap(t *testing.T) {
	requireLoops(t)
	bmaptool, err := exec.LookPath("bmaptool")
	if err != nil {
		t.Skip("bmaptool not installed (Debian bmap-tools)")
	}
	raw, data := makeImage(t, t.TempDir(), testImageSize, testExtents)
	if _, err := bmap.Create(raw, raw+".bmap"); err != nil {
		t.Fatal(err)
	}
	loop := attachLoop(t, backingFile(t, testImageSize, 0), 0)
	out, err := exec.Command(bmaptool, "copy", "--bmap", raw+".bmap", raw, loop).CombinedOutput()
	if err != nil {
		t.Fatalf("bmaptool copy --bmap %s: %v\n%s", raw+".bmap", err, out)
	}
	if got := readDevice(t, loop, testImageSize); !bytes.Equal(got, data) {
		t.Errorf("bmaptool's copy differs at %s\n%s", firstDiff(got, data), out)
	}
}
