package wal_test

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/faultdev"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

// newDisk returns a disk with an empty log (the rest of a file system is
// not needed here) and its geometry: 1024 blocks, a log of 64.
func newDisk(t *testing.T) (*blockdev.MemDisk, layout.Superblock) {
	sb, err := layout.NewSuperblock(1024, 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	d := blockdev.NewMemDisk(1024)
	h := layout.LogHeader{}
	h.CRC = h.Sum(nil)
	var b blockdev.Block
	h.Encode(&b)
	blockdev.WriteBlock(d, layout.LogStart, &b)
	return d, sb
}

func open(t *testing.T, dev blockdev.Device, sb layout.Superblock, mode wal.Mode) (*wal.Log, *bcache.Cache) {
	t.Helper()
	c := bcache.New(dev, 256)
	l, err := wal.Open(c, &sb, mode, false)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

// set writes v at byte 0 of block a in op.
func set(t *testing.T, c *bcache.Cache, op *wal.Op, a uint64, v byte) {
	t.Helper()
	b, err := c.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	b.Lock()
	b.Data[0] = v
	op.Write(b)
	b.Unlock()
	c.Release(b)
}

func byte0(t *testing.T, d blockdev.Device, a uint64) byte {
	t.Helper()
	b, err := blockdev.ReadBlock(d, a)
	if err != nil {
		t.Fatal(err)
	}
	return b[0]
}

func TestCommitInstalls(t *testing.T) {
	d, sb := newDisk(t)
	l, c := open(t, d, sb, wal.SyncEachOp)
	op, err := l.Begin(3)
	if err != nil {
		t.Fatal(err)
	}
	home := uint64(sb.DataStart() + 5)
	set(t, c, op, home, 7)
	set(t, c, op, home, 8) // absorbed
	set(t, c, op, home+1, 9)
	if op.Room() != 1 {
		t.Fatal("room", op.Room())
	}
	if byte0(t, d, home) != 0 {
		t.Fatal("written before commit")
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	if byte0(t, d, home) != 8 || byte0(t, d, home+1) != 9 {
		t.Fatal("not installed at End")
	}
	st, err := wal.ReadState(d, &sb)
	if err != nil || len(st.Header.Blocks) != 0 {
		t.Fatal("log not cleared", err)
	}
	if s := l.Stats(); s.Commits != 1 || s.Blocks != 2 || s.Ops != 1 {
		t.Fatalf("%+v", s)
	}
	// An operation that writes nothing commits nothing.
	op, _ = l.Begin(1)
	op.End()
	if l.Stats().Commits != 1 {
		t.Fatal("empty commit")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// commitOnCrashDisk runs one transaction of n blocks on a faultdev that
// crashes at write k, and returns the disk.
func commitOnCrashDisk(t *testing.T, base *blockdev.MemDisk, sb layout.Superblock, n, k int) *faultdev.Disk {
	dev := faultdev.New(base, k)
	l, c := open(t, dev, sb, wal.SyncEachOp)
	op, _ := l.Begin(n)
	for i := range n {
		set(t, c, op, uint64(sb.DataStart())+uint64(i), byte(i+1))
	}
	op.End()
	return dev
}

func TestRecovery(t *testing.T) {
	base, sb := newDisk(t)
	const n = 5
	// Writes: n logged blocks and the header, then n installs, then the
	// empty header.
	total := 2*n + 2
	for k := range total + 1 {
		for _, surv := range []faultdev.Survival{faultdev.AllPending, faultdev.NonePending, faultdev.RandomPending} {
			dev := commitOnCrashDisk(t, base, sb, n, k)
			img := dev.Image(surv, rand.New(rand.NewPCG(uint64(k), 0)))
			st, err := wal.ReadState(img, &sb)
			if err != nil {
				t.Fatal(err)
			}
			committed := st.Committed
			l, _ := open(t, img, sb, wal.SyncEachOp)
			l.Close()
			// All or nothing.
			first := byte0(t, img, uint64(sb.DataStart()))
			for i := range n {
				got := byte0(t, img, uint64(sb.DataStart())+uint64(i))
				if (first == 0) != (got == 0) || got != 0 && got != byte(i+1) {
					t.Fatalf("crash at %d (survival %d): block %d = %d, block 0 = %d: not atomic", k, surv, i, got, first)
				}
			}
			// Committed (the header's flush returned) means present.
			if k >= n+1 && first == 0 {
				t.Fatalf("crash at %d: a committed transaction was lost", k)
			}
			if committed && first == 0 {
				t.Fatalf("crash at %d: the log was committed but not replayed", k)
			}
			if st, _ := wal.ReadState(img, &sb); len(st.Header.Blocks) != 0 {
				t.Fatalf("crash at %d: log not cleared after recovery", k)
			}
		}
	}
}

func TestRecoveryDiscardsBadChecksum(t *testing.T) {
	d, sb := newDisk(t)
	h := layout.LogHeader{Seq: 4, Blocks: []uint32{sb.DataStart()}}
	h.CRC = 12345 // not the sum of the logged block
	var b blockdev.Block
	h.Encode(&b)
	blockdev.WriteBlock(d, layout.LogStart, &b)
	b[0] = 99
	blockdev.WriteBlock(d, layout.LogStart+1, &b)
	st, err := wal.ReadState(d, &sb)
	if err != nil || st.Committed || len(st.Header.Blocks) != 1 {
		t.Fatal(st, err)
	}
	l, _ := open(t, d, sb, wal.SyncEachOp)
	l.Close()
	if byte0(t, d, uint64(sb.DataStart())) != 0 {
		t.Fatal("an uncommitted transaction was installed")
	}
	// A committed header naming blocks it must not is corruption.
	h = layout.LogHeader{Blocks: []uint32{layout.LogStart + 3}}
	h.CRC = h.Sum([]*blockdev.Block{&b})
	h.Encode(&b)
	blockdev.WriteBlock(d, layout.LogStart, &b)
	if _, err := wal.Open(bcache.New(d, 16), &sb, wal.SyncEachOp, false); !errors.Is(err, errno.EUCLEAN) {
		t.Fatal(err)
	}
	// So is a header with no magic.
	blockdev.WriteBlock(d, layout.LogStart, new(blockdev.Block))
	if _, err := wal.Open(bcache.New(d, 16), &sb, wal.SyncEachOp, false); !errors.Is(err, errno.EUCLEAN) {
		t.Fatal(err)
	}
}

func TestReadOnlyOverlay(t *testing.T) {
	base, sb := newDisk(t)
	// Crash right after the commit point: committed, not installed.
	dev := commitOnCrashDisk(t, base, sb, 2, 3)
	img := dev.Image(faultdev.AllPending, nil)
	c := bcache.New(img, 64)
	l, err := wal.Open(c, &sb, wal.SyncEachOp, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Read(uint64(sb.DataStart() + 1))
	if b.Data[0] != 2 {
		t.Fatal("the committed block is not shown")
	}
	c.Release(b)
	if byte0(t, img, uint64(sb.DataStart()+1)) != 0 {
		t.Fatal("a read-only open wrote")
	}
	if _, err := l.Begin(1); !errors.Is(err, errno.EROFS) {
		t.Fatal(err)
	}
}

func TestSyncOnDemand(t *testing.T) {
	d, sb := newDisk(t)
	l, c := open(t, d, sb, wal.SyncOnDemand)
	for i := range 10 {
		op, _ := l.Begin(1)
		set(t, c, op, uint64(sb.DataStart())+uint64(i%3), byte(i+1))
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
	}
	if l.Stats().Commits != 0 || byte0(t, d, uint64(sb.DataStart())) != 0 {
		t.Fatal("committed before Sync")
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.Stats().Commits != 1 || byte0(t, d, uint64(sb.DataStart())) != 10 {
		t.Fatal("not committed by Sync", l.Stats())
	}
	// The log filling up commits too.
	for i := range 200 {
		op, _ := l.Begin(1)
		set(t, c, op, uint64(sb.DataStart())+uint64(i), 1)
		op.End()
	}
	if l.Stats().Commits < 3 {
		t.Fatal("a full log did not commit", l.Stats())
	}
	l.Close()
}

func TestReservationsWait(t *testing.T) {
	d, sb := newDisk(t)
	l, c := open(t, d, sb, wal.SyncOnDemand)
	if _, err := l.Begin(l.Capacity() + 1); !errors.Is(err, errno.EINVAL) {
		t.Fatal(err)
	}
	op1, _ := l.Begin(l.Capacity() - 10)
	var began atomic.Bool
	done := make(chan error)
	go func() {
		op2, err := l.Begin(20)
		began.Store(true)
		if err == nil {
			set(t, c, op2, uint64(sb.DataStart()), 1)
			err = op2.End()
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if began.Load() {
		t.Fatal("an operation began past the log's capacity")
	}
	set(t, c, op1, uint64(sb.DataStart()+1), 1)
	op1.End() // frees the unused reservation: op2 fits now
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Close()
}

func TestExceedingCapacityPanics(t *testing.T) {
	d, sb := newDisk(t)
	l, c := open(t, d, sb, wal.SyncOnDemand)
	op, _ := l.Begin(l.Capacity())
	for i := range l.Capacity() {
		set(t, c, op, uint64(sb.DataStart())+uint64(i), 1)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	set(t, c, op, uint64(sb.DataStart())+500, 1)
}

// failingDev fails writes once armed.
type failingDev struct {
	*blockdev.MemDisk
	fail atomic.Bool
}

func (d *failingDev) Write(reqs []blockdev.Req) error {
	if d.fail.Load() {
		return errors.New("injected write error")
	}
	return d.MemDisk.Write(reqs)
}

func TestStickyError(t *testing.T) {
	md, sb := newDisk(t)
	d := &failingDev{MemDisk: md}
	l, c := open(t, d, sb, wal.SyncEachOp)
	d.fail.Store(true)
	op, _ := l.Begin(1)
	set(t, c, op, uint64(sb.DataStart()), 1)
	if err := op.End(); !errors.Is(err, errno.EIO) {
		t.Fatal(err)
	}
	d.fail.Store(false)
	if _, err := l.Begin(1); !errors.Is(err, errno.EIO) {
		t.Fatal(err)
	}
	if err := l.Sync(); !errors.Is(err, errno.EIO) || l.Err() == nil {
		t.Fatal(err)
	}
}
