package fs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// Concurrency tests: several goroutines use one file system at once, in
// separate and shared directories. They must not race (run with -race),
// deadlock (a watchdog fails the test), or leave the file system
// inconsistent (fsck after), and what each goroutine wrote alone must read
// back.

// parallel runs fn(i) for i in 0..n-1 on n goroutines and fails the test
// if they do not finish within the deadline.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fn(i)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("goroutines did not finish: deadlock?")
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func iterations(n int) int {
	if testing.Short() {
		return n / 4
	}
	return n
}

func TestConcurrentSeparateDirs(t *testing.T) {
	for _, mode := range []fs.Durability{fs.SyncEachOp, fs.SyncOnDemand} {
		t.Run(fmt.Sprint("mode", mode), func(t *testing.T) {
			d := newDisk(t, 16384, fs.FormatOptions{})
			// A small cache, so that eviction happens under load.
			f := mount(t, d, fs.Options{Durability: mode, CacheBlocks: 300})
			const workers = 6
			parallel(t, workers, func(w int) error {
				rng := rand.New(rand.NewPCG(uint64(w), 9))
				dir := fmt.Sprintf("/w%d", w)
				if err := f.Mkdir(dir); err != nil {
					return err
				}
				want := map[string][]byte{}
				for i := range iterations(60) {
					name := fmt.Sprintf("%s/f%d", dir, rng.IntN(8))
					switch op := rng.IntN(6); {
					case op <= 1: // create or overwrite with new contents
						data := pattern(rng.IntN(40_000), byte(i))
						fl, err := f.Create(name)
						if err != nil {
							return err
						}
						if _, err := fl.WriteAt(data, 0); err != nil {
							return err
						}
						fl.Close()
						want[name] = data
					case op == 2 && want[name] != nil: // append
						fl, err := f.Open(name, fs.O_RDWR)
						if err != nil {
							return err
						}
						extra := pattern(rng.IntN(9000), byte(i+1))
						fl.Append(extra)
						fl.Close()
						want[name] = append(want[name], extra...)
					case op == 3 && want[name] != nil: // unlink
						if err := f.Unlink(name); err != nil {
							return err
						}
						delete(want, name)
					case op == 4 && want[name] != nil: // rename
						to := fmt.Sprintf("%s/f%d", dir, rng.IntN(8))
						if err := f.Rename(name, to); err != nil {
							return err
						}
						want[to] = want[name]
						if to != name {
							delete(want, name)
						}
					case op == 5: // a subdirectory comes and goes
						sub := dir + "/sub"
						if err := f.Mkdir(sub); err != nil {
							return err
						}
						writeFile(t, f, sub+"/x", []byte("x"))
						if err := f.Unlink(sub + "/x"); err != nil {
							return err
						}
						if err := f.Rmdir(sub); err != nil {
							return err
						}
					}
					// Read something back.
					for n, data := range want {
						if got := readFile(t, f, n); !bytes.Equal(got, data) {
							return fmt.Errorf("%s: contents differ (%d bytes, want %d)", n, len(got), len(data))
						}
						break
					}
				}
				for n, data := range want {
					if got := readFile(t, f, n); !bytes.Equal(got, data) {
						return fmt.Errorf("%s: contents differ at the end", n)
					}
				}
				return nil
			})
			st := f.Stats()
			t.Logf("log: %d ops in %d commits; cache: %d hits, %d misses, %d resident",
				st.Log.Ops, st.Log.Commits, st.Cache.Hits, st.Cache.Misses, st.Cache.Resident)
			checkClean(t, f, d)
		})
	}
}

// expected are the errors contended operations on shared names may give.
func expected(err error) bool {
	for _, e := range []error{fs.ENOENT, fs.EEXIST, fs.ENOTEMPTY, fs.ENOTDIR, fs.EISDIR, fs.EINVAL, fs.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func TestConcurrentSharedDir(t *testing.T) {
	d := newDisk(t, 8192, fs.FormatOptions{})
	f := mount(t, d, fs.Options{CacheBlocks: 200})
	f.Mkdir("/s")
	f.Mkdir("/t")
	names := []string{"/s/a", "/s/b", "/s/c", "/s/d", "/t/a", "/t/b", "/s/a/x", "/t/b/y", "/s/d/z"}
	var unexpected sync.Map
	parallel(t, 6, func(w int) error {
		rng := rand.New(rand.NewPCG(uint64(w), 4))
		pick := func() string { return names[rng.IntN(len(names))] }
		for i := range iterations(200) {
			var err error
			switch rng.IntN(9) {
			case 0:
				var fl *fs.File
				if fl, err = f.Open(pick(), fs.O_RDWR|fs.O_CREATE); err == nil {
					_, err = fl.WriteAt(pattern(rng.IntN(20_000), byte(i)), int64(rng.IntN(8000)))
					fl.Close()
				}
			case 1:
				err = f.Mkdir(pick())
			case 2:
				err = f.Unlink(pick())
			case 3:
				err = f.Rmdir(pick())
			case 4, 5:
				err = f.Rename(pick(), pick())
			case 6:
				err = f.Link(pick(), pick())
			case 7:
				_, err = f.ReadDir(pick())
			case 8:
				var fl *fs.File
				if fl, err = f.Open(pick(), fs.O_RDONLY); err == nil {
					fl.ReadAt(make([]byte, 10_000), 0)
					fl.Close()
				}
			}
			if err != nil && !expected(err) {
				unexpected.Store(err.Error(), true)
			}
		}
		return nil
	})
	unexpected.Range(func(k, _ any) bool {
		t.Errorf("unexpected error: %v", k)
		return true
	})
	checkClean(t, f, d)
}

func TestConcurrentRenameDirs(t *testing.T) {
	// Directories moving between each other's subtrees from several
	// goroutines: the lock order of rename (ancestor first) must hold.
	f, d := newFS(t, 4096)
	dirs := []string{"/a", "/b", "/a/c", "/b/d", "/a/c/e"}
	for _, p := range dirs {
		if err := f.Mkdir(p); err != nil {
			t.Fatal(err)
		}
	}
	parallel(t, 6, func(w int) error {
		rng := rand.New(rand.NewPCG(uint64(w), 5))
		c := f.Cwd()
		defer c.Close()
		for range iterations(300) {
			from := []string{"/a", "/b", "/a/c", "/b/d", "/a/c/e", "/b/c", "/a/d", "/b/d/e", "/a/e"}[rng.IntN(9)]
			to := []string{"/a/x", "/b/x", "/a/c/x", "/b/d/x", "/x", "/a/c", "/b/d"}[rng.IntN(7)]
			if err := f.Rename(from, to); err != nil && !expected(err) {
				return err
			}
			// Other operations on the same directories meanwhile.
			if err := f.Mkdir(to + "/n"); err == nil {
				f.Rmdir(to + "/n")
			}
			if err := c.Chdir(from); err == nil {
				if _, err := c.Getwd(); err != nil && !expected(err) {
					return err
				}
			}
		}
		return nil
	})
	checkClean(t, f, d)
}

func TestConcurrentAppend(t *testing.T) {
	// Appends are atomic: records from several goroutines never mix,
	// even when they span transactions.
	f, d := newFS(t, 16384)
	fl, _ := f.Create("/log")
	const workers, records = 5, 40
	parallel(t, workers, func(w int) error {
		for i := range iterations(records) {
			size := 16 + (w*7919+i*104729)%(3*f.MaxAtomicWrite())
			rec := make([]byte, size)
			binary.LittleEndian.PutUint32(rec, uint32(size))
			rec[4], rec[5] = byte(w), byte(i)
			for j := 6; j < size; j++ {
				rec[j] = byte(w*31 + i)
			}
			if _, _, err := fl.Append(rec); err != nil {
				return err
			}
		}
		return nil
	})
	st, _ := fl.Stat()
	buf := make([]byte, st.Size)
	fl.ReadAt(buf, 0)
	n := 0
	for off := 0; off < len(buf); n++ {
		size := int(binary.LittleEndian.Uint32(buf[off:]))
		w, i := buf[off+4], buf[off+5]
		for j := 6; j < size; j++ {
			if buf[off+j] != byte(int(w)*31+int(i)) {
				t.Fatalf("record %d (worker %d, #%d) at %d is mixed with another at byte %d", n, w, i, off, j)
			}
		}
		off += size
	}
	if n != workers*iterations(records) {
		t.Fatalf("%d records, want %d", n, workers*iterations(records))
	}
	fl.Close()
	checkClean(t, f, d)
}

func TestGroupCommit(t *testing.T) {
	// Small writes from many goroutines share commits, and each is
	// durable when it returns. The device's flush takes a while, as a
	// disk's does, so that operations arrive while a commit is running.
	d := newDisk(t, 8192, fs.FormatOptions{})
	f := mount(t, slowFlush{d}, fs.Options{})
	parallel(t, 8, func(w int) error {
		fl, err := f.Create(fmt.Sprintf("/g%d", w))
		if err != nil {
			return err
		}
		defer fl.Close()
		for i := range iterations(50) {
			if _, err := fl.WriteAt([]byte{byte(i)}, int64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	st := f.Stats().Log
	t.Logf("%d operations in %d commits", st.Ops, st.Commits)
	if st.Commits >= st.Ops {
		t.Errorf("no group commit: %d operations, %d commits", st.Ops, st.Commits)
	}
	// Durable: a copy of the disk taken now (a crash) has every write.
	img := d.Clone()
	g := mount(t, img, fs.Options{})
	for w := range 8 {
		if got := readFile(t, g, fmt.Sprintf("/g%d", w)); len(got) != iterations(50) {
			t.Fatalf("g%d: %d bytes", w, len(got))
		}
	}
	checkClean(t, g, img)
	checkClean(t, f, d)
}

func TestConcurrentSyncOnDemand(t *testing.T) {
	d := newDisk(t, 8192, fs.FormatOptions{})
	f := mount(t, d, fs.Options{Durability: fs.SyncOnDemand})
	parallel(t, 6, func(w int) error {
		for i := range iterations(40) {
			p := fmt.Sprintf("/w%d-%d", w, i%5)
			fl, err := f.Create(p)
			if err != nil {
				return err
			}
			fl.WriteAt(pattern(3000, byte(i)), 0)
			if i%3 == 0 {
				if err := fl.Sync(); err != nil {
					return err
				}
			}
			fl.Close()
		}
		return nil
	})
	// After a Sync everything is on the disk.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	img := d.Clone()
	g := mount(t, img, fs.Options{})
	es, _ := g.ReadDir("/")
	if len(es) != 30 {
		t.Fatalf("%d files after sync, want 30", len(es))
	}
	checkClean(t, g, img)
	checkClean(t, f, d)
}

// slowFlush is a device whose Flush takes 200 microseconds.
type slowFlush struct{ *blockdev.MemDisk }

func (s slowFlush) Flush() error {
	time.Sleep(200 * time.Microsecond)
	return nil
}
