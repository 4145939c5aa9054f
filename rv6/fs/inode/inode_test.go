package inode_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/bcache"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/inode"
	"github.com/rlgo/redleaf/rv6/fs/layout"
	"github.com/rlgo/redleaf/rv6/fs/wal"
)

type env struct {
	d   *blockdev.MemDisk
	sb  layout.Superblock
	c   *bcache.Cache
	log *wal.Log
	t   *inode.Table
}

// newEnv formats a disk of n blocks and opens the layers up to the inode
// table.
func newEnv(t *testing.T, n uint64) *env {
	t.Helper()
	d := blockdev.NewMemDisk(n)
	if err := fs.Format(d, fs.FormatOptions{LogBlocks: 64}); err != nil {
		t.Fatal(err)
	}
	return reopen(t, d)
}

func reopen(t *testing.T, d *blockdev.MemDisk) *env {
	t.Helper()
	b, _ := blockdev.ReadBlock(d, layout.SuperBlock)
	sb, err := layout.DecodeSuperblock(b)
	if err != nil {
		t.Fatal(err)
	}
	c := bcache.New(d, 512)
	l, err := wal.Open(c, &sb, wal.SyncEachOp, false)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := inode.NewTable(c, l, &sb, func() int64 { return 42 })
	if err != nil {
		t.Fatal(err)
	}
	return &env{d: d, sb: sb, c: c, log: l, t: tab}
}

func (e *env) begin(t *testing.T, n int) *wal.Op {
	t.Helper()
	op, err := e.log.Begin(n)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// newFile allocates a file with one link.
func (e *env) newFile(t *testing.T) *inode.Inode {
	t.Helper()
	op := e.begin(t, 4)
	ip, err := e.t.Alloc(op, layout.TypeFile)
	if err != nil {
		t.Fatal(err)
	}
	ip.Lock()
	ip.SetNlink(op, 1)
	ip.Unlock()
	op.End()
	return ip
}

// write writes all of p at off, in as many operations as it takes.
func (e *env) write(t *testing.T, ip *inode.Inode, p []byte, off int64, reserve int) error {
	t.Helper()
	for len(p) > 0 {
		op := e.begin(t, reserve)
		ip.Lock()
		n, err := ip.WriteAt(op, p, off)
		ip.Unlock()
		op.End()
		if err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (e *env) read(t *testing.T, ip *inode.Inode, n int, off int64) []byte {
	t.Helper()
	buf := make([]byte, n)
	ip.RLock()
	m, err := ip.ReadAt(buf, off)
	ip.RUnlock()
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return buf[:m]
}

func fill(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }

func TestAllocGetPut(t *testing.T) {
	e := newEnv(t, 1024)
	ip := e.newFile(t)
	if ip.Inum != 2 {
		t.Fatal(ip.Inum)
	}
	again, err := e.t.Get(ip.Inum)
	if err != nil || again != ip {
		t.Fatal("Get of a referenced inode is not the same Inode", err)
	}
	e.t.Put(again)
	e.t.Put(ip)
	// Reloaded from the disk (via the cache) after the last Put.
	ip, err = e.t.Get(2)
	if err != nil || ip.Type() != layout.TypeFile || ip.Nlink() != 1 || ip.Dinode().Mtime != 42 {
		t.Fatal(err)
	}
	e.t.Put(ip)
	for _, inum := range []uint32{0, e.sb.NInodes, 3} { // out of range, and free
		if _, err := e.t.Get(inum); !errors.Is(err, errno.EUCLEAN) {
			t.Errorf("Get(%d): %v", inum, err)
		}
	}
}

func TestReadWriteRegions(t *testing.T) {
	e := newEnv(t, 4096)
	ip := e.newFile(t)
	free0 := e.t.FreeBlocks()
	// Direct, singly-indirect and doubly-indirect blocks, straddling
	// the boundaries.
	offs := []int64{0, 11*4096 + 4000, 1035*4096 + 10, 1036*4096 + 3000, 2060 * 4096, 5000 * 4096}
	for i, off := range offs {
		if err := e.write(t, ip, fill(6000, byte(i+1)), off, 40); err != nil {
			t.Fatal(off, err)
		}
	}
	for i, off := range offs {
		if got := e.read(t, ip, 6000, off); !bytes.Equal(got, fill(6000, byte(i+1))) {
			t.Fatalf("data at %d", off)
		}
	}
	if got := e.read(t, ip, 4096, 100*4096); !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatal("hole")
	}
	ip.RLock()
	d := ip.Dinode()
	ip.RUnlock()
	used := free0 - e.t.FreeBlocks()
	if int64(d.Blocks) != used || d.Size != uint64(5000*4096+6000) {
		t.Fatalf("Blocks %d, used %d, size %d", d.Blocks, used, d.Size)
	}
	if d.Addrs[layout.Indirect] == 0 || d.Addrs[layout.DoubleIndirect] == 0 {
		t.Fatal("no indirect blocks")
	}
	// Beyond the largest file.
	op := e.begin(t, 10)
	ip.Lock()
	n, err := ip.WriteAt(op, []byte("ab"), layout.MaxFileSize-1)
	ip.Unlock()
	op.End()
	if n != 1 || !errors.Is(err, errno.EFBIG) {
		t.Fatal(n, err)
	}
	e.t.Put(ip)
}

func TestWriteStopsWhenOpIsFull(t *testing.T) {
	e := newEnv(t, 1024)
	ip := e.newFile(t)
	op := e.begin(t, 2*inode.WriteRoom)
	ip.Lock()
	n, err := ip.WriteAt(op, fill(10*4096, 1), 0)
	ip.Unlock()
	op.End()
	if err != nil || n == 0 || n >= 10*4096 {
		t.Fatalf("wrote %d of %d in a small operation: %v", n, 10*4096, err)
	}
	e.t.Put(ip)
}

func TestTruncateAndFree(t *testing.T) {
	e := newEnv(t, 8192)
	free0 := e.t.FreeBlocks()
	ifree0, _ := e.t.FreeInodes()
	ip := e.newFile(t)
	for _, off := range []int64{0, 20 * 4096, 1500 * 4096, 3000 * 4096} {
		if err := e.write(t, ip, fill(50*4096, 3), off, 60); err != nil {
			t.Fatal(err)
		}
	}
	// Shrink to an unaligned size in operations barely large enough to
	// free one block: several steps.
	steps := 0
	for done := false; !done; steps++ {
		op := e.begin(t, 7)
		ip.Lock()
		var err error
		done, err = ip.Truncate(op, 30*4096+5)
		ip.Unlock()
		op.End()
		if err != nil {
			t.Fatal(err)
		}
	}
	if steps < 2 {
		t.Fatalf("truncated in %d operation", steps)
	}
	got := e.read(t, ip, 30*4096+100, 0)
	if len(got) != 30*4096+5 || got[20*4096] != 3 || got[30*4096+4] != 3 {
		t.Fatal("kept data")
	}
	// Growing again reads zeros past the old end.
	op := e.begin(t, 4)
	ip.Lock()
	ip.Truncate(op, 31*4096)
	ip.Unlock()
	op.End()
	if got := e.read(t, ip, 10, 30*4096+5); !bytes.Equal(got, make([]byte, 10)) {
		t.Fatal("stale bytes past the end", got)
	}
	// Unlinked and put: everything is free again.
	op = e.begin(t, 4)
	ip.Lock()
	ip.SetNlink(op, 0)
	ip.Unlock()
	op.End()
	if err := e.t.Put(ip); err != nil {
		t.Fatal(err)
	}
	ifree1, _ := e.t.FreeInodes()
	if e.t.FreeBlocks() != free0 || ifree1 != ifree0 {
		t.Fatalf("blocks %d -> %d, inodes %d -> %d", free0, e.t.FreeBlocks(), ifree0, ifree1)
	}
}

func TestReclaimOrphans(t *testing.T) {
	e := newEnv(t, 1024)
	free0 := e.t.FreeBlocks()
	ip := e.newFile(t)
	e.write(t, ip, fill(40_000, 1), 0, 30)
	op := e.begin(t, 4)
	ip.Lock()
	ip.SetNlink(op, 0)
	ip.Unlock()
	op.End()
	if e.t.Orphans() != 1 {
		t.Fatal("orphans", e.t.Orphans())
	}
	// Crash with the inode still referenced, then recover.
	e2 := reopen(t, e.d.Clone())
	n, err := e2.t.ReclaimOrphans()
	if err != nil || n != 1 || e2.t.FreeBlocks() != free0 {
		t.Fatal(n, err, e2.t.FreeBlocks(), free0)
	}
	if _, err := e2.t.Get(ip.Inum); !errors.Is(err, errno.EUCLEAN) {
		t.Fatal("orphan still allocated", err)
	}
}

func TestENOSPC(t *testing.T) {
	e := newEnv(t, 300)
	ip := e.newFile(t)
	err := e.write(t, ip, fill(2<<20, 1), 0, 30)
	if !errors.Is(err, errno.ENOSPC) || e.t.FreeBlocks() != 0 {
		t.Fatal(err, e.t.FreeBlocks())
	}
	var inodeErr error
	for range e.sb.NInodes {
		op := e.begin(t, 4)
		var x *inode.Inode
		x, inodeErr = e.t.Alloc(op, layout.TypeFile) // no links: an orphan
		op.End()
		if inodeErr != nil {
			break
		}
		_ = x // kept referenced, so that the inode stays allocated
	}
	if !errors.Is(inodeErr, errno.ENOSPC) {
		t.Fatal(inodeErr)
	}
	if n, _ := e.t.FreeInodes(); n != 0 {
		t.Fatal(n)
	}
}

func TestCorruptBlockMap(t *testing.T) {
	e := newEnv(t, 4096)
	ip := e.newFile(t)
	e.write(t, ip, fill(20*4096, 1), 0, 60)
	ip.RLock()
	d := ip.Dinode()
	ip.RUnlock()
	inum := ip.Inum
	e.t.Put(ip)
	// An indirect entry pointing into the log.
	b, _ := blockdev.ReadBlock(e.d, uint64(d.Addrs[layout.Indirect]))
	binary.LittleEndian.PutUint32(b[4:], layout.LogStart+1)
	blockdev.WriteBlock(e.d, uint64(d.Addrs[layout.Indirect]), b)
	e2 := reopen(t, e.d)
	ip, err := e2.t.Get(inum)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20*4096)
	ip.RLock()
	_, err = ip.ReadAt(buf, 0)
	ip.RUnlock()
	if !errors.Is(err, errno.EUCLEAN) {
		t.Fatal(err)
	}
	e2.t.Put(ip)
	// A direct address in the inode table.
	blk, off := e2.sb.InodeBlock(inum)
	b, _ = blockdev.ReadBlock(e.d, uint64(blk))
	binary.LittleEndian.PutUint32(b[off+40:], e2.sb.InodeStart())
	blockdev.WriteBlock(e.d, uint64(blk), b)
	if _, err := reopen(t, e.d).t.Get(inum); !errors.Is(err, errno.EUCLEAN) {
		t.Fatal(err)
	}
}
