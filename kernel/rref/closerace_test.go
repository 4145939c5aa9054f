package rref

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// TestCloseRacesBatchMove kills a callee (closes its account) at a random
// moment while a proxy moves a batch into it, many times over, as the fault
// campaign's kills at random moments do. Whatever the interleaving, the
// batch either comes back to the caller whole (the proxy's rescue) or is
// reclaimed with every element: no cell is left behind. Before Close swept
// until no new container appeared, a batch moved in between its sweeps was
// reclaimed without its elements (issue 16).
func TestCloseRacesBatchMove(t *testing.T) {
	iters := 2000
	if testing.Short() {
		iters = 300
	}
	// Bystanders make each sweep's scan of the registry take a while, so
	// that the moves land between the sweeps as often as before them.
	by := newAccount("bystander")
	for range 3000 {
		New(by, block{})
	}
	defer by.Close()
	base := Live()
	rescued, lost := 0, 0
	for i := range iters {
		caller, callee := newAccount("caller"), newAccount("callee")
		q := NewDeque[block](caller, 4)
		for range 3 {
			q.PushBack(New(caller, block{}))
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the kill
			defer wg.Done()
			<-start
			callee.Close()
		}()
		close(start)
		for range rand.IntN(64) {
			runtime.Gosched()
		}
		m, ok := TryMoveDeque(q, caller, callee) // the proxy's fast path
		wg.Wait()                                // the proxy's Leave waits for the death
		if !ok {
			t.Fatalf("iteration %d: TryMoveDeque refused the caller's own batch", i)
		}
		if RescueDeque(m, q, caller) {
			rescued++
			if q.Len() != 3 {
				t.Fatalf("iteration %d: rescued a batch of %d elements, want 3", i, q.Len())
			}
			q.Drop()
		} else {
			lost++
		}
		caller.Close()
		if got := Live(); got != base {
			t.Fatalf("iteration %d: %d cells left behind (batch rescued %d times, reclaimed %d times so far)",
				i, got-base, rescued, lost)
		}
	}
	t.Logf("%d batches rescued, %d reclaimed whole", rescued, lost)
}
