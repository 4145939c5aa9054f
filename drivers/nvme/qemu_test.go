package nvme

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rlgo/redleaf/internal/qtest"
	"github.com/rlgo/redleaf/kernel/hw"
)

// A rig is QEMU's NVMe model under qtest with two namespaces: 1 of 512-byte
// blocks over disk[0], 2 of 4096-byte blocks over disk[1].
type rig struct {
	m    *qtest.Machine
	f    *qtest.PCIFunc
	disk [2]string
}

const (
	ns1Size = 6 << 20
	ns2Size = 8 << 20
)

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{}
	for i, size := range []int{ns1Size, ns2Size} {
		r.disk[i] = filepath.Join(dir, "ns"+string(rune('1'+i)))
		b := make([]byte, size)
		fill(b, uint64(i+1))
		if err := os.WriteFile(r.disk[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.m = qtest.Start(t, qtest.Options{Args: []string{
		"-device", "nvme,id=nvme0,serial=rl0",
		"-drive", "file=" + r.disk[0] + ",if=none,id=d0,format=raw",
		"-device", "nvme-ns,drive=d0,bus=nvme0,nsid=1,logical_block_size=512,physical_block_size=512",
		"-drive", "file=" + r.disk[1] + ",if=none,id=d1,format=raw",
		"-device", "nvme-ns,drive=d1,bus=nvme0,nsid=2,logical_block_size=4096,physical_block_size=4096",
	}})
	f, err := r.m.FindPCI(0x1b36, 0x0010)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.MapBAR(0, 0xe0000000); err != nil {
		t.Fatal(err)
	}
	f.SetCommand(hw.CmdMemory|hw.CmdBusMaster|hw.CmdINTxDisable, 0)
	r.f = f
	return r
}

func fill(b []byte, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

func (r *rig) open(t *testing.T, cfg Config) *Controller {
	t.Helper()
	c, err := Open(r.f, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// file reads n bytes of namespace ns's backing file at off.
func (r *rig) file(t *testing.T, ns, off, n int) []byte {
	t.Helper()
	f, err := os.Open(r.disk[ns-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(off)); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBringUpAndIdentify(t *testing.T) {
	r := newRig(t)
	start := time.Now()
	c := r.open(t, Config{})
	t.Logf("bring-up from disabled: %v", time.Since(start))
	info := c.Info()
	if info.VendorID != 0x1b36 || info.Serial != "rl0" || info.Model == "" || info.MaxTransfer != 512<<10 || info.MaxQueueSize != 2048 {
		t.Errorf("identify: %+v", info)
	}
	ns := c.Namespaces()
	want := []Namespace{{1, ns1Size / 512, 512}, {2, ns2Size / 4096, 4096}}
	if len(ns) != 2 || ns[0] != want[0] || ns[1] != want[1] {
		t.Errorf("namespaces %+v, want %+v", ns, want)
	}
	if c.regs.Read32(regCC)&ccEN == 0 {
		t.Fatal("controller not enabled")
	}
	// From the enabled state, with queues set up: a second bring-up
	// disables it first and starts over.
	start = time.Now()
	c2 := r.open(t, Config{Queues: 2})
	t.Logf("bring-up from enabled: %v", time.Since(start))
	if len(c2.Namespaces()) != 2 || c2.Queues() != 2 {
		t.Errorf("second bring-up: %d namespaces, %d queues", len(c2.Namespaces()), c2.Queues())
	}
	buf, _ := r.f.DMA().Alloc(4096, 4096)
	if err := c2.Transfer(OpRead, 2, 3, buf, 4096); err != nil {
		t.Fatal(err)
	}
	if got := r.file(t, 2, 3*4096, 4096); !bytes.Equal(got, buf.Bytes()[:4096]) {
		t.Error("read after a second bring-up differs from the backing file")
	}
}

func TestQueueLimits(t *testing.T) {
	r := newRig(t)
	c := r.open(t, Config{Queues: 100, Depth: 4})
	if c.Info().MaxQueues != 64 || c.Queues() != 64 {
		t.Errorf("asked for 100 queues: granted %d, using %d; want 64", c.Info().MaxQueues, c.Queues())
	}
	// Every queue works.
	buf, _ := r.f.DMA().Alloc(4096, 4096)
	for range 64 {
		if err := c.Transfer(OpRead, 2, 0, buf, 4096); err != nil {
			t.Fatal(err)
		}
	}
	// Beyond the limits, the controller refuses.
	q, err := c.newQueuePair(65, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if err := c.createQueue(q); !errors.As(err, &se) || se.SCT != 1 || se.SC != SCInvalidQueueID {
		t.Errorf("queue 65: %v", err)
	}
	c2 := r.open(t, Config{Depth: 100000})
	if c2.Depth() != 2048 || c2.Queues() != 1 {
		t.Errorf("depth %d, want CAP.MQES+1 = 2048", c2.Depth())
	}
	q, _ = c2.newQueuePair(2, 4, false)
	q.depth = 4096 // more than CAP.MQES+1
	if err := c2.createQueue(q); !errors.As(err, &se) || se.SCT != 1 || se.SC != SCInvalidQSize {
		t.Errorf("queue of 4096 entries: %v", err)
	}
}

func TestPhaseWrap(t *testing.T) {
	r := newRig(t)
	c := r.open(t, Config{Depth: 8})
	buf, _ := r.f.DMA().Alloc(8<<10, 4096)
	q := c.ioq[0]
	const n = 8*3 + 5 // three wraps and some
	for i := range n {
		lba := uint64(i % 100)
		if err := c.Transfer(OpRead, 1, lba*8, buf, 4096); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if got := r.file(t, 1, int(lba)*4096, 4096); !bytes.Equal(got, buf.Bytes()[:4096]) {
			t.Fatalf("read %d differs", i)
		}
	}
	if q.cqHead != n%8 || q.phase != 1^(n/8)%2 {
		t.Errorf("after %d completions: head %d phase %d", n, q.cqHead, q.phase)
	}
}

func TestReadWriteVerify(t *testing.T) {
	r := newRig(t)
	c := r.open(t, Config{})
	for _, ns := range []uint32{1, 2} {
		bs := 512
		if ns == 2 {
			bs = 4096
		}
		for i, size := range []int{4 << 10, 8 << 10, 64 << 10, 512 << 10, 1 << 20} {
			buf, err := r.f.DMA().Alloc(size, 4096)
			if err != nil {
				t.Fatal(err)
			}
			lba := uint64(i * 2048 * 512 / bs) // 1 MiB apart
			if err := c.Transfer(OpRead, ns, lba, buf, size); err != nil {
				t.Fatalf("ns %d read %d: %v", ns, size, err)
			}
			if !bytes.Equal(buf.Bytes()[:size], r.file(t, int(ns), int(lba)*bs, size)) {
				t.Errorf("ns %d: read of %d bytes differs from the backing file", ns, size)
			}
			want := make([]byte, size)
			fill(want, uint64(100+i))
			buf.CopyIn(0, want)
			if err := c.Transfer(OpWrite, ns, lba, buf, size); err != nil {
				t.Fatalf("ns %d write %d: %v", ns, size, err)
			}
			if err := c.Flush(ns); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, r.file(t, int(ns), int(lba)*bs, size)) {
				t.Errorf("ns %d: write of %d bytes not in the backing file", ns, size)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	r := newRig(t)
	c := r.open(t, Config{})
	buf, _ := r.f.DMA().Alloc(8192, 4096)
	var se *StatusError
	err := c.Transfer(OpRead, 2, ns2Size/4096-1, buf, 8192)
	if !errors.As(err, &se) || se.SC != SCLBAOutOfRange || se.SCT != 0 {
		t.Errorf("read past the end: %v", err)
	}
	if err := c.Command(0x7f, 1, 0, 0, 0); !errors.As(err, &se) || se.SC != SCInvalidOpcode {
		t.Errorf("bad opcode: %v", err)
	} else {
		t.Log(err)
	}
	if err := c.Transfer(OpRead, 3, 0, buf, 4096); err == nil {
		t.Error("namespace 3 read")
	}
	if err := c.Transfer(OpRead, 1, 0, buf, 100); !errors.Is(err, ErrRange) {
		t.Errorf("partial block: %v", err)
	}
	// The controller still works.
	if err := c.Transfer(OpRead, 1, 0, buf, 4096); err != nil {
		t.Error(err)
	}
}

func TestBusMasterOff(t *testing.T) {
	r := newRig(t)
	c := r.open(t, Config{Timeout: 500 * time.Millisecond})
	r.f.SetCommand(0, hw.CmdBusMaster)
	buf, _ := r.f.DMA().Alloc(4096, 4096)
	start := time.Now()
	err := c.Transfer(OpRead, 1, 0, buf, 4096)
	if !errors.Is(err, hw.ErrNoBusMaster) {
		t.Fatalf("read with bus mastering off: %v", err)
	}
	t.Logf("%v after %v", err, time.Since(start))
	if _, err := Open(r.f, Config{}, Hooks{}); !errors.Is(err, hw.ErrNoBusMaster) {
		t.Errorf("bring-up with bus mastering off: %v", err)
	}
	// Back on: a bring-up recovers the controller.
	r.f.SetCommand(hw.CmdBusMaster, 0)
	c = r.open(t, Config{})
	if err := c.Transfer(OpRead, 1, 0, buf, 4096); err != nil {
		t.Error(err)
	}
}
