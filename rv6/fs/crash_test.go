package fs_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/faultdev"
	"github.com/rlgo/redleaf/rv6/fs/fsck"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// Crash consistency. A workload is a list of steps run against a file
// system on a faultdev.Disk that crashes at its k-th block write, for
// every k from the mount's first write to the last write of the workload.
// The image a crash leaves (un-flushed writes all kept, or a random subset
// of them kept: reordering) must pass fsck before recovery (with only
// notes), mount (recovery), match the model of a state the file system may
// be in, and pass fsck again after unmounting.
//
// Which states: with SyncEachOp, every step that returned nil is durable
// and the one in progress may or may not be, so the state after the last
// acknowledged step or after the next one. With SyncOnDemand, anything from
// the state at the last acknowledged Sync to the state after the step in
// progress.

// A step is one change: do makes it in the file system, apply in the
// model. A step is atomic: its changes reach the disk together or not at
// all (some take several transactions, but only one changes what the
// model sees).
type step struct {
	name  string
	do    func(w *world) error
	apply func(m *model)
	// partial, if set, returns the states a crash may leave when the
	// step is cut short: a write or truncation longer than one
	// transaction is durable piecewise, block by block in order.
	partial func(m *model) []*model
}

type world struct {
	f    *fs.FS
	open map[string]*fs.File // files held open across steps
}

func noModel(*model) {}

func withFile(w *world, p string, flag fs.Flag, fn func(fl *fs.File) error) error {
	fl, err := w.f.Open(p, flag)
	if err != nil {
		return err
	}
	err = fn(fl)
	if cerr := fl.Close(); err == nil {
		err = cerr
	}
	return err
}

func sCreate(p string) step {
	return step{"create " + p,
		func(w *world) error {
			return withFile(w, p, fs.O_RDWR|fs.O_CREATE|fs.O_TRUNC, func(*fs.File) error { return nil })
		},
		func(m *model) { m.create(p) }, nil}
}

func sWrite(p string, off int64, data []byte) step {
	return step{fmt.Sprintf("write %s@%d+%d", p, off, len(data)),
		func(w *world) error {
			return withFile(w, p, fs.O_RDWR, func(fl *fs.File) error {
				_, err := fl.WriteAt(data, off)
				return err
			})
		},
		func(m *model) { m.write(p, off, data) }, nil}
}

// sBigWrite is a write longer than FS.MaxAtomicWrite: split into
// transactions at block boundaries.
func sBigWrite(p string, off int64, data []byte) step {
	s := sWrite(p, off, data)
	s.partial = func(m *model) []*model {
		var out []*model
		for x := (off/layout.BlockSize+1)*layout.BlockSize - off; x < int64(len(data)); x += layout.BlockSize {
			c := m.clone()
			c.write(p, off, data[:x])
			out = append(out, c)
		}
		return out
	}
	return s
}

// sAppend appends at a known offset (the model's size), which the step
// checks.
func sAppend(p string, at int64, data []byte) step {
	return step{fmt.Sprintf("append %s@%d+%d", p, at, len(data)),
		func(w *world) error {
			return withFile(w, p, fs.O_RDWR, func(fl *fs.File) error {
				off, _, err := fl.Append(data)
				if err == nil && off != at {
					return fmt.Errorf("appended at %d, want %d", off, at)
				}
				return err
			})
		},
		func(m *model) { m.write(p, at, data) }, nil}
}

func sTruncate(p string, size int64) step {
	return step{fmt.Sprintf("truncate %s %d", p, size),
		func(w *world) error {
			return withFile(w, p, fs.O_RDWR, func(fl *fs.File) error { return fl.Truncate(size) })
		},
		func(m *model) { m.truncate(p, size) },
		// A shrink frees blocks from the end, a few transactions at a
		// time, cutting the size to the blocks left.
		func(m *model) []*model {
			var out []*model
			old := m.files[m.names[p]].size
			for b := (size/layout.BlockSize + 1) * layout.BlockSize; b < old; b += layout.BlockSize {
				c := m.clone()
				c.truncate(p, b)
				out = append(out, c)
			}
			return out
		}}
}

func sMkdir(p string) step {
	return step{"mkdir " + p, func(w *world) error { return w.f.Mkdir(p) }, func(m *model) { m.dirs[p] = true }, nil}
}

func sRmdir(p string) step {
	return step{"rmdir " + p, func(w *world) error { return w.f.Rmdir(p) }, func(m *model) { delete(m.dirs, p) }, nil}
}

func sUnlink(p string) step {
	return step{"unlink " + p, func(w *world) error { return w.f.Unlink(p) }, func(m *model) { m.unlink(p) }, nil}
}

func sLink(old, new string) step {
	return step{"link " + old + " " + new, func(w *world) error { return w.f.Link(old, new) }, func(m *model) { m.link(old, new) }, nil}
}

func sRename(old, new string) step {
	return step{"rename " + old + " " + new, func(w *world) error { return w.f.Rename(old, new) }, func(m *model) { m.rename(old, new) }, nil}
}

// sHold opens p and keeps it open; sRelease closes it.
func sHold(p string) step {
	return step{"hold " + p, func(w *world) error {
		fl, err := w.f.Open(p, fs.O_RDONLY)
		if err != nil {
			return err
		}
		w.open[p] = fl
		return nil
	}, noModel, nil}
}

func sRelease(p string) step {
	return step{"release " + p, func(w *world) error {
		fl := w.open[p]
		delete(w.open, p)
		return fl.Close()
	}, noModel, nil}
}

func sSync() step {
	return step{"sync", func(w *world) error { return w.f.Sync() }, noModel, nil}
}

func data(n int, seed byte) []byte { return pattern(n, seed) }

// The workloads. The file system is small (1024 blocks, a log of 64), so
// that every write is one transaction (none above MaxAtomicWrite) and the
// crash points are few enough to try them all.
func workloads() map[string][]step {
	return map[string][]step{
		"create": {
			sCreate("/a"),
			sWrite("/a", 0, data(100, 1)),
			sCreate("/b"),
			sMkdir("/d"),
			sCreate("/d/c"),
			sWrite("/d/c", 0, data(5000, 2)),
			sCreate("/a"), // re-create: truncates
		},
		"write": {
			sCreate("/f"),
			sWrite("/f", 0, data(3000, 1)),
			sWrite("/f", 1000, data(6000, 2)),
			sWrite("/f", 0, data(4096, 3)),
			sWrite("/f", 20_000, data(100, 4)),  // leaves a hole
			sWrite("/f", 45_000, data(8192, 5)), // into the indirect block
			sTruncate("/f", 9000),
			sTruncate("/f", 30_000),
		},
		"append": {
			sCreate("/log"),
			sAppend("/log", 0, data(10, 1)),
			sAppend("/log", 10, data(4090, 2)),
			sAppend("/log", 4100, data(5000, 3)),
			sAppend("/log", 9100, data(1, 4)),
			sAppend("/log", 9101, data(8000, 5)),
		},
		"rename": {
			sMkdir("/a"),
			sMkdir("/b"),
			sCreate("/a/x"),
			sWrite("/a/x", 0, data(100, 1)),
			sCreate("/b/y"),
			sWrite("/b/y", 0, data(200, 2)),
			sRename("/a/x", "/a/x2"),
			sRename("/a/x2", "/b/x"),
			sRename("/b/x", "/b/y"), // replaces y
			sMkdir("/a/sub"),
			sCreate("/a/sub/z"),
			sWrite("/a/sub/z", 0, data(300, 3)),
			sRename("/a/sub", "/b/sub"), // a directory to another parent
			sMkdir("/a/empty"),
			sRename("/b/sub", "/a/empty"), // replaces an empty directory
		},
		"unlink": {
			sCreate("/a"),
			sWrite("/a", 0, data(20_000, 1)),
			sCreate("/b"),
			sWrite("/b", 0, data(100, 2)),
			sLink("/a", "/a2"),
			sUnlink("/a"),
			sUnlink("/b"),
			sHold("/a2"),
			sUnlink("/a2"), // open: an orphan until released
			sCreate("/c"),
			sRelease("/a2"),
		},
		"mkdir-tree": {
			sMkdir("/t"),
			sMkdir("/t/a"),
			sMkdir("/t/a/b"),
			sMkdir("/t/c"),
			sCreate("/t/a/b/f"),
			sCreate("/t/c/g"),
			sWrite("/t/c/g", 0, data(10, 2)),
			sUnlink("/t/a/b/f"),
			sRmdir("/t/a/b"),
			sRename("/t/c", "/t/a/c"),
			sUnlink("/t/a/c/g"),
			sRmdir("/t/a/c"),
		},
		"bigwrite": {
			sCreate("/w"),
			sBigWrite("/w", 1000*4096+100, data(150_000, 1)), // crosses into the doubly-indirect range
			sBigWrite("/w", 0, data(100_000, 2)),
			sTruncate("/w", 5000),
		},
		"large": {
			sCreate("/big"),
			sWrite("/big", 0, data(100, 1)),
			sWrite("/big", 11*4096, data(8192, 2)),       // direct -> indirect
			sWrite("/big", 1035*4096, data(8192, 3)),     // indirect -> doubly indirect
			sWrite("/big", 3000*4096+100, data(4096, 4)), // a second indirect block under the double
			sWrite("/big", 2100*4096, data(4096, 5)),
			sTruncate("/big", 2000*4096),
			sUnlink("/big"),
		},
	}
}

const (
	crashBlocks = 1024
	crashLog    = 64
)

func crashBase(t testing.TB) *blockdev.MemDisk {
	return newDisk(t, crashBlocks, fs.FormatOptions{LogBlocks: crashLog, Inodes: 64})
}

// run runs steps on dev and returns the model snapshots (states[i] is the
// state after i steps), how many steps returned nil, how many steps
// returned nil before the last nil Sync (SyncOnDemand) or all of them, and
// whether every step and the unmount after them succeeded.
func run(dev blockdev.Device, mode fs.Durability, steps []step) (states []*model, acked, synced int, clean bool) {
	m := newModel()
	states = []*model{m}
	f, err := fs.Mount(dev, fs.Options{Durability: mode, Now: func() int64 { return 1 }})
	if err != nil {
		return states, 0, 0, false
	}
	w := &world{f: f, open: map[string]*fs.File{}}
	for _, s := range steps {
		err := s.do(w)
		m = m.clone()
		s.apply(m)
		states = append(states, m)
		if err != nil {
			break
		}
		acked++
		if s.name == "sync" || mode == fs.SyncEachOp {
			synced = acked
		}
	}
	if acked == len(steps) {
		for _, fl := range w.open {
			fl.Close()
		}
		if f.Unmount() == nil {
			synced, clean = acked, true
		}
	}
	return states, acked, synced, clean
}

// candidates returns the states a crash may leave: those between lo and
// hi steps, and the partial states of the steps in between.
func candidates(steps []step, states []*model, lo, hi int) []*model {
	var out []*model
	for i := lo; i <= hi && i < len(states); i++ {
		out = append(out, states[i])
		if i < len(steps) && i+1 <= hi && steps[i].partial != nil {
			out = append(out, steps[i].partial(states[i])...)
		}
	}
	return out
}

// checkCrash checks the image a crash left.
func checkCrash(img *faultdev.Disk, states []*model) error {
	r, err := fsck.Check(img)
	if err != nil {
		return fmt.Errorf("fsck before recovery: %v", err)
	}
	if !r.OK() {
		return fmt.Errorf("fsck before recovery: %v", r.Problems)
	}
	f, err := fs.Mount(img, fs.Options{})
	if err != nil {
		return fmt.Errorf("recovery: %v", err)
	}
	var errs []error
	matched := false
	for i := range states {
		err := verify(f, states[i])
		if err == nil {
			matched = true
			break
		}
		errs = append(errs, fmt.Errorf("state %d: %v", i, err))
	}
	if err := f.Unmount(); err != nil {
		return fmt.Errorf("unmount after recovery: %v", err)
	}
	if !matched {
		return fmt.Errorf("recovered file system matches none of the %d possible states: %v", len(states), errors.Join(errs...))
	}
	r, err = fsck.Check(img)
	if err != nil {
		return fmt.Errorf("fsck after recovery: %v", err)
	}
	if !r.OK() {
		return fmt.Errorf("fsck after recovery: %v", r.Problems)
	}
	return nil
}

func TestCrashConsistency(t *testing.T) {
	base := crashBase(t)
	// Every crash point is tried with the writes since the last flush
	// all kept and with a random subset kept; only flushed ones (none
	// kept) every noneEvery points, and the recovery itself is crashed
	// at each of its writes every recoveryEvery points. -race and -short
	// thin the last two out.
	noneEvery, recoveryEvery := 4, 5
	if raceEnabled || testing.Short() {
		noneEvery, recoveryEvery = 8, 12
	}
	var total atomic.Int64
	t.Cleanup(func() { t.Logf("crash consistency: %d crash points tried in total", total.Load()) })
	for _, mode := range []fs.Durability{fs.SyncEachOp, fs.SyncOnDemand} {
		for name, steps := range workloads() {
			if mode == fs.SyncOnDemand {
				// Sync after every other step.
				var s2 []step
				for i, s := range steps {
					s2 = append(s2, s)
					if i%2 == 1 {
						s2 = append(s2, sSync())
					}
				}
				steps = s2
			}
			t.Run(fmt.Sprintf("%s/mode%d", name, mode), func(t *testing.T) {
				t.Parallel()
				// A run without a crash counts the writes and checks
				// the workload itself.
				dev := faultdev.New(base, faultdev.Never)
				states, acked, _, _ := run(dev, mode, steps)
				writes := dev.Writes()
				if acked != len(steps) {
					t.Fatalf("workload fails without a crash at step %d (%s)", acked, steps[acked].name)
				}
				final, _ := fs.Mount(dev, fs.Options{})
				if err := verify(final, states[len(steps)]); err != nil {
					t.Fatalf("workload result: %v", err)
				}
				final.Unmount()
				tried := 0
				for k := 0; k < writes; k++ {
					for _, surv := range []faultdev.Survival{faultdev.AllPending, faultdev.RandomPending, faultdev.NonePending} {
						if surv == faultdev.NonePending && k%noneEvery != 0 {
							continue
						}
						dev := faultdev.New(base, k)
						states, acked, synced, _ := run(dev, mode, steps)
						if !dev.Crashed() {
							t.Fatalf("crash point %d of %d not reached", k, writes)
						}
						img := dev.Image(surv, rand.New(rand.NewPCG(uint64(k), 1)))
						cands := candidates(steps, states, synced, acked+1)
						if err := checkCrash(img, cands); err != nil {
							t.Fatalf("crash at write %d/%d (survival %d) during step %d (%s): %v",
								k, writes, surv, acked, stepName(steps, acked), err)
						}
						tried++
						// Crash the recovery too, now and then.
						if k%recoveryEvery == 0 {
							tried += crashRecovery(t, img, cands)
						}
					}
				}
				t.Logf("%d writes, %d crash images checked", writes, tried)
				total.Add(int64(tried))
			})
		}
	}
}

func stepName(steps []step, i int) string {
	if i < len(steps) {
		return steps[i].name
	}
	return "unmount"
}

// crashRecovery crashes the mount that recovers img at each of its writes,
// then recovers for real and checks. It returns the crash points tried.
func crashRecovery(t *testing.T, img *faultdev.Disk, states []*model) int {
	probe := img.Fork(faultdev.Never)
	f, err := fs.Mount(probe, fs.Options{})
	if err != nil {
		t.Fatalf("recovery: %v", err)
	}
	f.Unmount()
	n := probe.Writes()
	for j := 0; j < n; j++ {
		dev := img.Fork(j)
		if f, err := fs.Mount(dev, fs.Options{}); err == nil {
			f.Unmount()
		}
		again := dev.Image(faultdev.RandomPending, rand.New(rand.NewPCG(uint64(j), 2)))
		if err := checkCrash(again, states); err != nil {
			t.Fatalf("crash at write %d of the recovery: %v", j, err)
		}
	}
	return n
}

// TestIOErrors fails each block write and each flush of every workload in
// turn, once, with an I/O error after which the device goes on working,
// and then the same for the recovery of what that left. The file system
// must report the error (a device error is sticky: the step in progress or
// a later one, or the unmount, fails) and never acknowledge a write it did
// not make durable: a power cut right after, keeping only what was
// flushed, leaves a state at or after the last acknowledged step.
func TestIOErrors(t *testing.T) {
	base := crashBase(t)
	every, recoveryEvery := 1, 3
	if raceEnabled || testing.Short() {
		every, recoveryEvery = 3, 9
	}
	var total atomic.Int64
	t.Cleanup(func() { t.Logf("I/O errors: %d fault points tried in total", total.Load()) })
	for name, steps := range workloads() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dev := faultdev.New(base, faultdev.Never)
			run(dev, fs.SyncEachOp, steps)
			writes, flushes := dev.Writes(), dev.Flushes()
			tried := 0
			try := func(what string, n int, fail func(*faultdev.Disk)) {
				dev := faultdev.New(base, faultdev.Never)
				fail(dev)
				states, acked, synced, clean := run(dev, fs.SyncEachOp, steps)
				if !dev.Failed() {
					t.Fatalf("%s %d was never reached", what, n)
				}
				if clean {
					t.Fatalf("%s %d failed, but every step and the unmount succeeded: the error was lost", what, n)
				}
				cands := candidates(steps, states, synced, acked+1)
				for _, surv := range []faultdev.Survival{faultdev.NonePending, faultdev.AllPending} {
					img := dev.Image(surv, nil)
					if err := checkCrash(img, cands); err != nil {
						t.Fatalf("%s %d failed during step %d (%s), then power cut (survival %d): %v", what, n, acked, stepName(steps, acked), surv, err)
					}
				}
				tried++
				if n%recoveryEvery == 0 {
					tried += failRecovery(t, dev.Image(faultdev.AllPending, nil), cands)
				}
			}
			for k := 0; k < writes; k += every {
				try("write", k, func(d *faultdev.Disk) { d.FailWrite(k) })
			}
			for j := 0; j < flushes; j += every {
				try("flush", j, func(d *faultdev.Disk) { d.FailFlush(j) })
			}
			t.Logf("%d writes, %d flushes, %d fault points checked", writes, flushes, tried)
			total.Add(int64(tried))
		})
	}
}

// failRecovery fails each write and flush of the mount that recovers img
// in turn: the mount must fail (never mount as if recovery had worked),
// and what it left must still recover to one of states. It returns the
// fault points tried.
func failRecovery(t *testing.T, img *faultdev.Disk, states []*model) int {
	probe := img.Fork(faultdev.Never)
	f, err := fs.Mount(probe, fs.Options{})
	if err != nil {
		t.Fatalf("recovery: %v", err)
	}
	f.Unmount()
	writes, flushes := probe.Writes(), probe.Flushes()
	tried := 0
	try := func(what string, n int, fail func(*faultdev.Disk)) {
		dev := img.Fork(faultdev.Never)
		fail(dev)
		f, err := fs.Mount(dev, fs.Options{})
		if dev.Failed() && err == nil {
			f.Unmount()
			t.Fatalf("%s %d of the recovery failed, but the mount succeeded", what, n)
		}
		if err == nil {
			f.Unmount()
		}
		if err := checkCrash(dev.Image(faultdev.NonePending, nil), states); err != nil {
			t.Fatalf("%s %d of the recovery failed, then power cut: %v", what, n, err)
		}
		tried++
	}
	for j := 0; j < writes; j++ {
		try("write", j, func(d *faultdev.Disk) { d.FailWrite(j) })
	}
	for j := 0; j < flushes; j++ {
		try("flush", j, func(d *faultdev.Disk) { d.FailFlush(j) })
	}
	return tried
}

var _ = layout.BlockSize
