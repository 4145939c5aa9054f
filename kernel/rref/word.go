package rref

// The cell word: owner (32 bits) | generation (22 bits) | borrows (10 bits).
const (
	borrowBits = 10
	genBits    = 22
	ownerShift = borrowBits + genBits

	borrowMask uint64 = 1<<borrowBits - 1
	genOne     uint64 = 1 << borrowBits
	genMask    uint64 = (1<<genBits - 1) << borrowBits

	// MaxBorrows is how many immutable borrows of one cell may be in flight.
	MaxBorrows = 1<<borrowBits - 1
)

// Reserved owner ids.
const (
	ownerFree       uint32 = 0          // not live: dropped, reclaimed or in a pool
	ownerReclaiming uint32 = 0xffffffff // owner gone, waiting for its last borrow to end
)

func ownerOf(w uint64) uint32   { return uint32(w >> ownerShift) }
func borrowsOf(w uint64) uint64 { return w & borrowMask }

// retag is the word of a cell given to owner: the next generation, no
// borrows.
func retag(w uint64, owner uint32) uint64 {
	return uint64(owner)<<ownerShift | (w+genOne)&genMask
}
