package nvme

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// batch moves requests for lbas through op; data(lba) fills writes.
func batch(t *testing.T, heap *rref.Account, op func(rref.Deque[idl.BlockReq]) (rref.Deque[idl.BlockReq], error), lbas []uint64, data func(lba uint64, b *idl.Block)) ([]idl.BlockReq, error) {
	t.Helper()
	q := rref.NewDeque[idl.BlockReq](heap, len(lbas))
	for _, lba := range lbas {
		r := rref.New(heap, idl.BlockReq{LBA: lba})
		if data != nil {
			data(lba, &r.Get().Data)
		}
		q.PushBack(r)
	}
	out, err := op(q)
	if err != nil && !out.Valid() {
		rref.DiscardDeque(q)
		return nil, err
	}
	var reqs []idl.BlockReq
	for {
		r, ok := out.PopFront()
		if !ok {
			break
		}
		reqs = append(reqs, *r.Get())
		r.Drop()
	}
	out.Drop()
	return reqs, err
}

func pattern(round int) func(uint64, *idl.Block) {
	return func(lba uint64, b *idl.Block) {
		for i := 0; i < len(b); i += 512 {
			b[i], b[i+1], b[i+2] = byte(lba), byte(lba>>8), byte(round)
		}
	}
}

func TestBlockDevice(t *testing.T) {
	r := newRig(t)
	m := domain.NewManager()
	t.Cleanup(m.Close)
	base := rref.Live()
	for _, nsid := range []uint32{1, 2} {
		d, err := m.Create(Kind, domain.Name("nvme"), domain.GrantDevice(GrantPCI, hw.PCIDevice(r.f)), domain.GrantDevice(GrantConfig, Config{NSID: nsid, Depth: 16}))
		if err != nil {
			t.Fatal(err)
		}
		disk, err := domain.Connect[idl.BlockDevice](m.Kernel(), d)
		if err != nil {
			t.Fatal(err)
		}
		size := map[uint32]int{1: ns1Size, 2: ns2Size}[nsid]
		if n, err := disk.NumBlocks(); err != nil || n != uint64(size/4096) {
			t.Fatalf("ns %d: NumBlocks %d %v", nsid, n, err)
		}
		// 40 blocks: more than a window of 15; one past the end.
		var lbas []uint64
		for i := range 40 {
			lbas = append(lbas, uint64(i*37)%uint64(size/4096))
		}
		lbas[39] = uint64(size / 4096)
		reqs, err := batch(t, m.Kernel().Heap(), disk.Write, lbas, pattern(int(nsid)))
		if err != nil {
			t.Fatal(err)
		}
		if err := disk.Flush(); err != nil {
			t.Fatal(err)
		}
		for i, q := range reqs {
			want := idl.BlockOK
			if i == 39 {
				want = idl.BlockOutOfRange
			}
			if q.LBA != lbas[i] || q.Status != want {
				t.Fatalf("write %d: lba %d status %d", i, q.LBA, q.Status)
			}
			if i < 39 {
				var b idl.Block
				pattern(int(nsid))(q.LBA, &b)
				if !bytes.Equal(r.file(t, int(nsid), int(q.LBA)*4096, 4096), b[:]) {
					t.Fatalf("ns %d: block %d not in the backing file", nsid, q.LBA)
				}
			}
		}
		reqs, err = batch(t, m.Kernel().Heap(), disk.Read, lbas[:39], nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, q := range reqs {
			if q.Status != idl.BlockOK || !bytes.Equal(q.Data[:], r.file(t, int(nsid), int(lbas[i])*4096, 4096)) {
				t.Fatalf("read %d: status %d or data differs", i, q.Status)
			}
		}
		m.Kill(d)
	}
	if rref.Live() != base {
		t.Errorf("rref.Live %d, want %d", rref.Live(), base)
	}
}

// The NVMe domain behind a shadow, killed and panicking under a workload:
// each new instance resets the controller and serves the retried batches;
// the workload sees no error and reads back what it wrote.
func TestRecovery(t *testing.T) {
	r := newRig(t)
	m := domain.NewManager()
	t.Cleanup(m.Close)
	inj := faults.New()
	d, err := m.Create(Kind, domain.GrantDevice(GrantPCI, hw.PCIDevice(r.f)), domain.GrantDevice(GrantConfig, Config{NSID: 2, Depth: 16}),
		domain.GrantDevice(GrantFaults, inj.Device()))
	if err != nil {
		t.Fatal(err)
	}
	// Budgets no run reaches: a panic every 15 ms for as long as the
	// rounds take (seconds under -race on a loaded machine) is far more
	// than 100 restarts, and a call slowed down by a loaded machine can
	// meet several panics in a row; this test is about recovery, not the
	// budget.
	g, err := shadow.New(m, d, shadow.Policy{Retries: 1000, Restarts: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := domain.Connect[idl.BlockDevice](m.Kernel(), g)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 60
	stop := make(chan struct{})
	var wg sync.WaitGroup
	kills := 0
	wg.Add(1)
	var mu sync.Mutex
	go func() { // the fault source: panics, injected at random times
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			inj.Arm(Kind, faults.Panic)
			mu.Lock()
			kills++
			mu.Unlock()
		}
	}()
	var lbas []uint64
	for i := range 32 {
		lbas = append(lbas, uint64(i*7))
	}
	start := time.Now()
	for round := range rounds {
		if round%5 == 4 {
			// Killed between batches. (A kill that lands while a batch
			// is inside the domain is recovered too: the proxy revives
			// the batch its heap's reclaim took, see rref.RescueDeque and
			// kernel/shadow's TestKillDuringBatch; the driver works on the
			// requests in place, so the batch is always whole.)
			m.Kill(g.Current())
			mu.Lock()
			kills++
			mu.Unlock()
		}
		reqs, err := batch(t, m.Kernel().Heap(), disk.Write, lbas, pattern(round))
		if err != nil {
			t.Fatalf("round %d: write: %v; log %v", round, err, g.Log())
		}
		for _, q := range reqs {
			if q.Status != idl.BlockOK {
				t.Fatalf("round %d: write status %d", round, q.Status)
			}
		}
		reqs, err = batch(t, m.Kernel().Heap(), disk.Read, lbas, nil)
		if err != nil {
			t.Fatalf("round %d: read: %v", round, err)
		}
		for _, q := range reqs {
			var b idl.Block
			pattern(round)(q.LBA, &b)
			if q.Status != idl.BlockOK || q.Data != b {
				t.Fatalf("round %d: block %d: status %d, data differs %v", round, q.LBA, q.Status, q.Data != b)
			}
		}
	}
	close(stop)
	wg.Wait()
	if err := disk.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds of 32+32 blocks in %v; %d faults, %d restarts", rounds, time.Since(start), kills, g.Restarts())
	if g.Restarts() < 3 {
		t.Errorf("only %d restarts: the workload did not meet the faults", g.Restarts())
	}
	for _, lba := range lbas {
		var b idl.Block
		pattern(rounds-1)(lba, &b)
		if !bytes.Equal(r.file(t, 2, int(lba)*4096, 4096), b[:]) {
			t.Fatalf("block %d: backing file differs", lba)
		}
	}
}
