package rref

import (
	"reflect"
	"sync"
	"sync/atomic"
)

// A header is the part of a cell the registry sees, whatever its type.
type header struct {
	word atomic.Uint64
	typ  reflect.Type // the payload type, for listings
	cid  uint32       // nonzero for a deque: the container id of its elements
	slot int32        // index in its pool (pooled cells only)
	home recycler     // its pool, or nil
	idx  int          // index in reg.cells, -1 when not live; guarded by reg.mu
}

// A recycler takes back the pooled cells it handed out.
type recycler interface {
	recycle(slot int32)
}

// reg is the one registry of live cells. The hot paths (moves, lends, Get)
// never touch it: only creating, dropping and reclaiming a cell take its
// lock.
var reg struct {
	mu    sync.Mutex
	cells []*header
}

// register makes h live, owned by a, and reports true, unless a is closed.
// It checks under reg.mu, so that Close, which sets the flag under the same
// lock, cannot miss the cell.
func register(h *header, a *Account) bool {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if a.closed.Load() {
		return false
	}
	h.idx = len(reg.cells)
	reg.cells = append(reg.cells, h)
	return true
}

func refuseClosed(h *header, a *Account) {
	panic(&UseError{Op: "allocate", Type: h.typ, Reason: "account " + a.String() + " is closed (its domain died)"})
}

// unregister removes cells that reached ownerFree from the registry and gives
// pooled ones back to their pool.
func unregister(hs ...*header) {
	reg.mu.Lock()
	for _, h := range hs {
		if h.idx < 0 {
			continue
		}
		last := len(reg.cells) - 1
		reg.cells[h.idx] = reg.cells[last]
		reg.cells[h.idx].idx = h.idx
		reg.cells[last] = nil
		reg.cells = reg.cells[:last]
		h.idx = -1
	}
	reg.mu.Unlock()
	for _, h := range hs {
		if h.home != nil {
			h.home.recycle(h.slot)
		}
	}
}

// Live is the number of live cells: the registry count.
func Live() int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return len(reg.cells)
}

// CountByOwner returns, per account id, how many live cells it holds; the
// elements of a deque count for the deque's owner.
func CountByOwner() map[uint32]int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	owners := make(map[uint32]int)
	container := make(map[uint32]uint32) // container id -> owner of the deque
	for _, h := range reg.cells {
		w := h.word.Load()
		if h.cid != 0 {
			container[h.cid] = ownerOf(w)
		}
	}
	for _, h := range reg.cells {
		o := ownerOf(h.word.Load())
		if d, ok := container[o]; ok {
			o = d
		}
		owners[o]++
	}
	return owners
}

// reclaimOwned reclaims every live cell owned by one of owners. It returns
// how many it reclaimed and the container ids of the deques among them.
func reclaimOwned(owners map[uint32]bool) (int, map[uint32]bool) {
	var victims []*header
	reg.mu.Lock()
	for _, h := range reg.cells {
		if owners[ownerOf(h.word.Load())] {
			victims = append(victims, h)
		}
	}
	reg.mu.Unlock()
	cids := make(map[uint32]bool)
	var freed []*header
	n := 0
	for _, h := range victims {
		done, ok := reclaim(h, owners)
		if !ok {
			continue // moved away meanwhile: its new owner has it
		}
		n++
		if h.cid != 0 {
			cids[h.cid] = true
		}
		if done {
			freed = append(freed, h)
		}
	}
	unregister(freed...)
	return n, cids
}

// reclaim takes h from whichever of owners holds it. A cell with borrows in
// flight becomes ownerReclaiming and is freed by its last Unlend; done
// reports whether it is free now.
func reclaim(h *header, owners map[uint32]bool) (done, ok bool) {
	for {
		w := h.word.Load()
		if !owners[ownerOf(w)] {
			return false, false
		}
		next := retag(w, ownerFree)
		if b := borrowsOf(w); b != 0 {
			// Lent: the loans go on (Borrow.Get accepts a reclaiming
			// cell of its generation); the last Unlend frees it.
			next = uint64(ownerReclaiming)<<ownerShift | w&genMask | b
		}
		if h.word.CompareAndSwap(w, next) {
			return borrowsOf(w) == 0, true
		}
	}
}

// settle reclaims h if it is still owned by owner: called by whoever just
// gave h to an account that turned out to be closed.
func settle(h *header, owner uint32) {
	if done, ok := reclaim(h, map[uint32]bool{owner: true}); ok && done {
		unregister(h)
	}
}

// A reviver takes back a cell it recycled, for revive.
type reviver interface {
	unrecycle(slot int32) bool
}

// revive undoes the reclaim of h, which left its word free: the word
// becomes live and h live in the registry again. It reports false, leaving
// h as it was, if h was handed out again since (a pooled cell) or its word
// is no longer free. Only for RescueDeque, once the reclaim is complete.
func revive(h *header, free, live uint64) bool {
	if p, ok := h.home.(reviver); ok && !p.unrecycle(h.slot) {
		return false
	}
	if !h.word.CompareAndSwap(free, live) {
		if h.home != nil {
			h.home.recycle(h.slot)
		}
		return false
	}
	reg.mu.Lock()
	if h.idx < 0 {
		h.idx = len(reg.cells)
		reg.cells = append(reg.cells, h)
	}
	reg.mu.Unlock()
	return true
}

// refree undoes revive for cells nobody has seen revived.
func refree(hs []*header) {
	for _, h := range hs {
		h.word.Store(retag(h.word.Load(), ownerFree))
	}
	unregister(hs...)
}
