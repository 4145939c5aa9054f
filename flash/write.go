package flash

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"
)

// WriteOptions tune Write. The zero value verifies and reports nothing.
type WriteOptions struct {
	// NoVerify skips reading the device back.
	NoVerify bool
	// Progress, if set, is called after every chunk with the state of
	// the current phase, from the goroutine that called Write.
	Progress func(Progress)
	// ChunkSize is the size of each write and read in bytes, rounded up
	// to 4 KiB (default 4 MiB).
	ChunkSize int

	// beforeVerify runs after the data is written and flushed, before
	// it is read back: tests corrupt the device there.
	beforeVerify func() error
}

// Phase is a step of Write.
type Phase string

// The phases of Write, in order.
const (
	PhaseZero   Phase = "zeroing"   // zeroing or discarding the unmapped areas
	PhaseWrite  Phase = "writing"   // the data, except the first MiB
	PhaseVerify Phase = "verifying" // reading the data back
	PhaseHead   Phase = "finishing" // writing and checking the first MiB
)

// Progress is the state of a phase of Write.
type Progress struct {
	Phase       Phase
	Done, Total int64 // bytes
	Elapsed     time.Duration
}

// Result is what Write did.
type Result struct {
	Written  int64 // bytes written, the first MiB included
	Verified int64 // bytes read back and compared
	// Holes are the bytes of unmapped areas and HoleMethod what was done
	// to them: "zeroed by unmapping", "discarded", "written as zeros" or
	// "left as they were".
	Holes      int64
	HoleMethod string
	WriteTime  time.Duration // zeroing and writing
	VerifyTime time.Duration
	Total      time.Duration
}

// IncompleteError is a write that stopped after the device was changed:
// the device does not hold the image and must not be booted.
type IncompleteError struct {
	Device  string
	Written int64 // bytes written before it stopped
	Total   int64 // bytes the plan writes
	// HeadWritten says the first MiB was (maybe partly) written: the
	// failure came at the very end.
	HeadWritten bool
	Err         error
}

func (e *IncompleteError) Error() string {
	state := fmt.Sprintf("%s is not bootable: its first MiB (partition table and boot code) was not written", e.Device)
	if e.HeadWritten {
		state = fmt.Sprintf("%s may hold a partial partition table: do not boot it", e.Device)
	}
	progress := fmt.Sprintf("after writing %s of %s", sizeString(e.Written), sizeString(e.Total))
	if errors.Is(e.Err, context.Canceled) {
		return fmt.Sprintf("interrupted %s: %s; write it again", progress, state)
	}
	return fmt.Sprintf("%v; %s, %s; write it again", e.Err, progress, state)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// VerifyError is data that read back differently from the image.
type VerifyError struct {
	Device string
	Span          // bytes of the device
	What   string // the piece: a bmap range or a filler
	Want   string // hex SHA-256 of the image's bytes
	Got    string // hex SHA-256 of the bytes read back ("" for byte compares)
}

func (e *VerifyError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("verifying %s: %s read back differently from the image", e.Device, e.What)
	}
	return fmt.Sprintf("verifying %s: %s read back with SHA-256 %s, the image has %s", e.Device, e.What, e.Got, e.Want)
}

// Write writes the image to the device as planned:
//
//  1. open the device exclusively (O_EXCL) for direct I/O and check it
//     is still the planned one;
//  2. zero or discard the image's large unmapped areas, as the device
//     allows (see PlanOptions.ZeroUnmapped);
//  3. write the extents in large aligned writes, reading (and
//     decompressing) the image ahead in another goroutine, checking its
//     bytes against the block map's and the manifest's checksums;
//  4. flush, then read everything back around the page cache and compare
//     SHA-256 per block map range (unless NoVerify);
//  5. only then write the first MiB, flush and check it.
//
// A refusal to open the device exclusively is a *RefusedError (Busy).
// A failure or cancellation once the device was opened and checked is an
// *IncompleteError: the device does not hold the image's first MiB and
// does not boot.
func (p *Plan) Write(ctx context.Context, o WriteOptions) (*Result, error) {
	start := time.Now()
	chunk := int(roundUp(int64(max(o.ChunkSize, 0)), align))
	if chunk == 0 {
		chunk = 4 << 20
	}
	const nbuf = 4
	w := &writer{plan: p, o: o, chunk: chunk, res: &Result{}}

	f, err := openExclusive(p.Device.Path)
	if isBusy(err) {
		return nil, refused(p.Device.Path, Busy, "it is in use: something mounted it, built a device on it or opened it exclusively since it was checked")
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p.Device.Path, err)
	}
	defer f.Close()
	w.f = f
	if err := p.recheck(f); err != nil {
		return nil, err
	}

	mem, free, err := alignedBuffer(nbuf*chunk + int(roundUp(p.Head.Len(), align)))
	if err != nil {
		return nil, err
	}
	defer free()
	for i := range nbuf {
		w.bufs = append(w.bufs, mem[i*chunk:(i+1)*chunk])
	}
	w.head = mem[nbuf*chunk:][:p.Head.Len()]
	// The map's checksums are checked against the image as it is read;
	// the ranges without one get the image's, for the read-back.
	w.pieces = append([]piece(nil), p.pieces...)

	if err := w.run(ctx); err != nil {
		return nil, &IncompleteError{Device: p.Device.Path, Written: w.res.Written, Total: p.WriteBytes(), HeadWritten: w.headStarted, Err: err}
	}
	if err := rereadPartitions(f); err != nil && !isUnsupported(err) && !isBusy(err) {
		return nil, fmt.Errorf("%s is written and verified, but the kernel did not reread its partition table: %w", p.Device.Path, err)
	}
	w.res.Total = time.Since(start)
	return w.res, nil
}

// A ChangedError says the device opened for writing is not the one that
// was checked and shown: the node now stands for other media (a loop
// device re-attached, a stick swapped), or its use changed. Nothing was
// written.
type ChangedError struct {
	Device string
	What   string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s changed since it was checked: %s; nothing was written: check it again", e.Device, e.What)
}

// recheck makes sure the device open as f is the one the plan checked and
// showed, and runs every refusal check again against what f is now: the
// device number and size, the disk sequence number (which changes when the
// media behind the node change), serial and model, the file behind a loop
// device, and the refusals (mounts, holders, swap, /, the image) as sysfs
// and the mount table show them now. It runs after the exclusive open, so
// nothing can mount or stack on the device from then on.
func (p *Plan) recheck(f *os.File) error {
	d := p.Device
	changed := func(format string, args ...any) error {
		return &ChangedError{Device: d.Path, What: fmt.Sprintf(format, args...)}
	}
	rdev, size, err := deviceIdentity(f)
	if err != nil {
		return err
	}
	if rdev != d.Dev || size != d.Size || size < p.end {
		return changed("device %d:%d of %d bytes, now %d:%d of %d bytes", major(d.Dev), minor(d.Dev), d.Size, major(rdev), minor(rdev), size)
	}
	seq, err := diskSeq(f)
	if err != nil {
		return err
	}
	if d.DiskSeq != 0 && seq != d.DiskSeq {
		return changed("its disk sequence number was %d and is %d: the media behind it are not the ones shown", d.DiskSeq, seq)
	}
	if d.Bus == BusLoop && d.BackingFile != "" {
		dev, ino, err := loopBacking(f)
		if err != nil {
			return err
		}
		if wantDev, wantIno, err := fileDevice(d.BackingFile); err != nil || dev != wantDev || ino != wantIno {
			return changed("the loop device no longer reads %s", d.BackingFile)
		}
	}
	env, err := p.host.environment()
	if err != nil {
		return err
	}
	now, err := p.host.device(d.Name, env)
	if err != nil {
		return err
	}
	if now == nil || now.Dev != d.Dev {
		return changed("%s is no longer the disk it was", d.Name)
	}
	if now.Serial != d.Serial || now.Model != d.Model || now.Vendor != d.Vendor || now.BackingFile != d.BackingFile {
		return changed("it was %q (serial %q, %s) and is %q (serial %q, %s)", d.describeModel(), d.Serial, orDash(d.BackingFile), now.describeModel(), now.Serial, orDash(now.BackingFile))
	}
	now.Path = d.Path
	// The refusals again, on the device as it is now (Force was decided
	// for this device number, which is unchanged).
	return check(now, p.target)
}

// writer is the state of one Write.
type writer struct {
	plan        *Plan
	o           WriteOptions
	f           *os.File
	chunk       int
	bufs        [][]byte // nbuf chunk-sized aligned buffers
	head        []byte   // the first MiB, aligned
	pieces      []piece
	res         *Result
	headStarted bool
}

func (w *writer) run(ctx context.Context) error {
	p := w.plan
	start := time.Now()
	if err := w.holes(ctx); err != nil {
		return err
	}
	if err := w.writeData(ctx); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("flushing %s: %w", p.Device.Path, err)
	}
	w.res.WriteTime = time.Since(start)
	if w.o.beforeVerify != nil {
		if err := w.o.beforeVerify(); err != nil {
			return err
		}
	}
	if !w.o.NoVerify {
		start := time.Now()
		if err := w.verifyData(ctx); err != nil {
			return err
		}
		w.res.VerifyTime = time.Since(start)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return w.writeHead()
}

// holes zeroes or discards the unmapped areas, the cheapest way the
// device allows: zeroing by unmapping, else discarding, else (only with
// ZeroUnmapped) writing zeros, else nothing.
func (w *writer) holes(ctx context.Context) error {
	p := w.plan
	total := p.HoleBytes()
	w.res.Holes = total
	if total == 0 {
		return nil
	}
	start := time.Now()
	type method struct {
		name string
		do   func(f *os.File, off, n int64) error
		ok   bool // worth trying
	}
	methods := []method{
		{"zeroed by unmapping", zeroByUnmap, p.Device.WriteZeroes},
		{"discarded", discard, p.Device.Discard && !p.ZeroUnmapped},
		{"written as zeros", zeroRange, p.ZeroUnmapped},
	}
	var done int64
methods:
	for _, m := range methods {
		if !m.ok {
			continue
		}
		for _, h := range p.Holes {
			// Pieces of at most 256 MiB, so that a slow zeroing reports
			// progress and can be stopped.
			for off := h.Off; off < h.End; {
				n := min(h.End-off, 256<<20)
				if err := ctx.Err(); err != nil {
					return err
				}
				err := m.do(w.f, off, n)
				if done == 0 && isUnsupported(err) {
					continue methods // the device cannot: try the next method
				}
				if err != nil {
					return fmt.Errorf("%s bytes %d-%d of %s: %w", m.name, off, off+n-1, p.Device.Path, err)
				}
				off += n
				done += n
				w.report(PhaseZero, done, total, start)
			}
		}
		w.res.HoleMethod = m.name
		return nil
	}
	w.res.HoleMethod = "left as they were"
	return nil
}

// job is a filled buffer and the device offset of its data.
type job struct {
	off int64
	buf int // index into bufs
	n   int
}

// pipeline runs produce in a goroutine, which takes free buffers with
// next, fills them and hands them on with send, in order, to consume on
// the calling goroutine. Either side's error, or ctx's end, stops both;
// the consumer's error wins.
func (w *writer) pipeline(ctx context.Context, produce func(next func(n int) ([]byte, error), send func(off int64, b []byte) error) error, consume func(off int64, b []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan int, len(w.bufs))
	for i := range w.bufs {
		free <- i
	}
	full := make(chan job, len(w.bufs))
	var perr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		cur := -1
		next := func(n int) ([]byte, error) {
			select {
			case cur = <-free:
				return w.bufs[cur][:n], nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		send := func(off int64, b []byte) error {
			select {
			case full <- job{off: off, buf: cur, n: len(b)}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		perr = produce(next, send)
	}()
	var cerr error
	for j := range full {
		if cerr == nil {
			if cerr = ctx.Err(); cerr == nil {
				cerr = consume(j.off, w.bufs[j.buf][:j.n])
			}
			if cerr != nil {
				cancel()
			}
		}
		free <- j.buf
	}
	<-done
	if cerr != nil {
		return cerr
	}
	return perr
}

// writeData reads the image, head first into w.head, and writes the
// extents.
func (w *writer) writeData(ctx context.Context) error {
	p := w.plan
	src, err := p.Image.newSource()
	if err != nil {
		return err
	}
	defer src.close()
	led := newLedger(w.pieces, func(pc *piece, sum []byte) error {
		if pc.want == nil {
			pc.want = sum
			return nil
		}
		if !bytes.Equal(pc.want, sum) {
			return fmt.Errorf("the image's %s has SHA-256 %x, its block map says %x: the image changed after its bmap was made, or the bmap is another image's", p.describe(pc), sum, pc.want)
		}
		return nil
	})
	var total int64
	for _, e := range p.Extents {
		total += e.Len()
	}
	start := time.Now()
	var done int64
	headFed := false
	err = w.pipeline(ctx,
		// The reader only reads, so that reading the next chunk (from
		// disk, or decompressing it) overlaps hashing and writing this one.
		func(next func(int) ([]byte, error), send func(int64, []byte) error) error {
			ahead := src.prefetch(append([]Span{p.Head}, p.Extents...))
			ahead(prefetchWindow)
			if err := src.readAt(w.head, 0); err != nil {
				return err
			}
			for _, e := range p.Extents {
				for off := e.Off; off < e.End; {
					n := int(min(int64(w.chunk), e.End-off))
					b, err := next(n)
					if err != nil {
						return err
					}
					ahead(off + prefetchWindow)
					if err := src.readAt(b, off); err != nil {
						return err
					}
					if err := send(off, b); err != nil {
						return err
					}
					off += int64(n)
				}
			}
			return src.finish()
		},
		func(off int64, b []byte) error {
			if !headFed { // read before any extent
				if err := led.feed(0, w.head); err != nil {
					return err
				}
				headFed = true
			}
			if _, err := w.f.WriteAt(b, off); err != nil {
				return fmt.Errorf("writing bytes %d-%d of %s: %w", off, off+int64(len(b))-1, p.Device.Path, err)
			}
			// The image's checksums are checked after the write: a
			// mismatch fails the whole write before the head is written.
			if err := led.feed(off, b); err != nil {
				return err
			}
			done += int64(len(b))
			w.res.Written += int64(len(b))
			w.report(PhaseWrite, done, total, start)
			return nil
		})
	if err != nil {
		return err
	}
	if !headFed { // no extents
		if err := led.feed(0, w.head); err != nil {
			return err
		}
	}
	if !led.complete() {
		return fmt.Errorf("internal error: not every piece of the image was read")
	}
	return nil
}

// prefetchWindow is how far ahead of its reads the image is read ahead.
const prefetchWindow = 64 << 20

// verifyData reads the extents back and compares each piece's SHA-256.
// Pieces that begin in the head, which is not written yet, are fed its
// bytes from memory.
func (w *writer) verifyData(ctx context.Context) error {
	p := w.plan
	rf, err := openDirect(p.Device.Path)
	if err != nil {
		return fmt.Errorf("opening %s to verify it: %w", p.Device.Path, err)
	}
	defer rf.Close()
	led := newLedger(w.pieces, func(pc *piece, sum []byte) error {
		if !bytes.Equal(pc.want, sum) {
			return &VerifyError{Device: p.Device.Path, Span: pc.Span, What: p.describe(pc), Want: hex.EncodeToString(pc.want), Got: hex.EncodeToString(sum)}
		}
		return nil
	})
	if err := led.feed(0, w.head); err != nil {
		return err
	}
	var total int64
	for _, e := range p.Extents {
		total += e.Len()
	}
	start := time.Now()
	var done int64
	return w.pipeline(ctx,
		func(next func(int) ([]byte, error), send func(int64, []byte) error) error {
			for _, e := range p.Extents {
				for off := e.Off; off < e.End; {
					n := int(min(int64(w.chunk), e.End-off))
					b, err := next(n)
					if err != nil {
						return err
					}
					if _, err := rf.ReadAt(b, off); err != nil {
						return fmt.Errorf("reading back bytes %d-%d of %s: %w", off, off+int64(n)-1, p.Device.Path, err)
					}
					if err := send(off, b); err != nil {
						return err
					}
					off += int64(n)
				}
			}
			return nil
		},
		func(off int64, b []byte) error {
			if err := led.feed(off, b); err != nil {
				return err
			}
			done += int64(len(b))
			w.res.Verified += int64(len(b))
			w.report(PhaseVerify, done, total, start)
			return nil
		})
}

// writeHead writes the first MiB, flushes and reads it back.
func (w *writer) writeHead() error {
	p := w.plan
	start := time.Now()
	w.headStarted = true
	if _, err := w.f.WriteAt(w.head, 0); err != nil {
		return fmt.Errorf("writing the first %s of %s: %w", sizeString(int64(len(w.head))), p.Device.Path, err)
	}
	w.res.Written += int64(len(w.head))
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("flushing %s: %w", p.Device.Path, err)
	}
	if !w.o.NoVerify {
		rf, err := openDirect(p.Device.Path)
		if err != nil {
			return fmt.Errorf("opening %s to verify it: %w", p.Device.Path, err)
		}
		defer rf.Close()
		for off := 0; off < len(w.head); off += w.chunk {
			want := w.head[off:min(off+w.chunk, len(w.head))]
			b := w.bufs[0][:len(want)]
			if _, err := rf.ReadAt(b, int64(off)); err != nil {
				return fmt.Errorf("reading back the first MiB of %s: %w", p.Device.Path, err)
			}
			if !bytes.Equal(b, want) {
				return w.headMismatch(int64(off + mismatchAt(b, want)))
			}
		}
		w.res.Verified += int64(len(w.head))
	}
	w.report(PhaseHead, int64(len(w.head)), int64(len(w.head)), start)
	return nil
}

// headMismatch names the piece holding the first differing byte.
func (w *writer) headMismatch(at int64) error {
	for i := range w.pieces {
		pc := &w.pieces[i]
		if pc.Off <= at && at < pc.End {
			return &VerifyError{Device: w.plan.Device.Path, Span: pc.Span, What: fmt.Sprintf("%s (byte %d)", w.plan.describe(pc), at), Want: hex.EncodeToString(pc.want)}
		}
	}
	return &VerifyError{Device: w.plan.Device.Path, Span: Span{at, at + 1}, What: fmt.Sprintf("byte %d", at)}
}

func mismatchAt(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func (w *writer) report(ph Phase, done, total int64, start time.Time) {
	if w.o.Progress != nil {
		w.o.Progress(Progress{Phase: ph, Done: done, Total: total, Elapsed: time.Since(start)})
	}
}
