package faultcampaign

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// TestRandomKillsLeaveNoCells kills the RAM-disk driver at random moments,
// thousands of times, while a client moves verified batches through its
// shadow: kills land while a batch moves into the driver, while the
// driver works on it, while it moves back, while the shadow restarts.
// Every batch comes back whole or is reclaimed whole: no cell is left
// behind. Before issue 16, a batch moved into the dying driver between
// the two sweeps of rref.Account.Close lost its requests (run with -race:
// its slower sweeps widen the window).
func TestRandomKillsLeaveNoCells(t *testing.T) {
	kills := 3000
	if testing.Short() {
		kills = 500
	}
	m := domain.NewManager()
	defer m.Close()
	// Bystanders: cells of the kernel's that every sweep of a dying
	// driver's account scans past, as a busy system has. They make the
	// sweeps take a while, so that kills land in the middle of them.
	by := m.Kernel().Heap()
	var bystanders []rref.RRef[[64]byte]
	for range 20000 {
		bystanders = append(bystanders, rref.New(by, [64]byte{}))
	}
	defer func() {
		for _, r := range bystanders {
			r.Drop()
		}
	}()
	base := rref.Live()
	g, c, err := (&RAMDisk{}).Start(m, faults.New(), shadow.Policy{Retries: 1 << 20, Restarts: 1 << 30}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The killer kills the current instance again and again, a random
	// while after the last kill: in the middle of calls, of moves, of
	// restarts. It can outpace the restarts for a while, so the shadow's
	// retry budget is large: this test is about cells, not budgets.
	var stop atomic.Bool
	var killed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(2, 16))
		for !stop.Load() && killed.Load() < int64(kills) {
			for range rng.IntN(200) {
				runtime.Gosched()
			}
			if cur := g.Current(); cur.Alive() {
				m.Kill(cur)
				killed.Add(1)
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 16))
	ops, units, errs := 0, 0, 0
	for killed.Load() < int64(kills) {
		u, bad, err := c.Op(rng)
		ops++
		units += u
		if err != nil {
			errs++
			if errs < 5 {
				t.Errorf("an error reached the client: %v", err)
			}
		}
		if bad > 0 {
			t.Fatalf("%d blocks came back wrong", bad)
		}
	}
	stop.Store(true)
	wg.Wait()
	m.Kill(g.Current())
	if got := rref.Live(); got != base {
		t.Errorf("%d cells left behind after %d kills at random moments", got-base, killed.Load())
	}
	t.Logf("%d kills, %d ops, %d blocks verified, %d restarts, %d errors", killed.Load(), ops, units, g.Restarts(), errs)
}
