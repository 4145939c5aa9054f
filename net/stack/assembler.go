package stack

// MaxGaps is how many separate out-of-order ranges a connection keeps
// beyond the in-order data; a segment that would need another one is
// dropped (the peer sends it again).
const MaxGaps = 8

// An assembler records which ranges of the receive window, beyond
// RCV.NXT, hold out-of-order data already written into the receive ring.
// Offsets are relative to RCV.NXT; ranges are sorted, disjoint and not
// adjacent. It is a fixed array: no allocation.
type assembler struct {
	r [MaxGaps]struct{ lo, hi int }
	n int
}

// add records [lo, hi) (0 < lo < hi) and reports whether it could: it
// fails only when the range would need a slot and none is free.
func (a *assembler) add(lo, hi int) bool {
	// Find the first range that ends at or after lo.
	i := 0
	for i < a.n && a.r[i].hi < lo {
		i++
	}
	// Merge every range that touches [lo, hi).
	j := i
	for j < a.n && a.r[j].lo <= hi {
		lo = min(lo, a.r[j].lo)
		hi = max(hi, a.r[j].hi)
		j++
	}
	if j == i { // no overlap: insert
		if a.n == MaxGaps {
			return false
		}
		copy(a.r[i+1:a.n+1], a.r[i:a.n])
		a.r[i].lo, a.r[i].hi = lo, hi
		a.n++
		return true
	}
	a.r[i].lo, a.r[i].hi = lo, hi
	copy(a.r[i+1:], a.r[j:a.n])
	a.n -= j - i - 1
	return true
}

// advance tells the assembler that n in-order bytes were appended at
// offset 0; it returns how many further bytes became contiguous (from
// ranges that now start at or before n), and shifts the rest.
func (a *assembler) advance(n int) int {
	extra := 0
	k := 0
	for k < a.n && a.r[k].lo <= n {
		extra = max(extra, a.r[k].hi-n)
		k++
	}
	copy(a.r[:], a.r[k:a.n])
	a.n -= k
	shift := n + extra
	for i := range a.n {
		a.r[i].lo -= shift
		a.r[i].hi -= shift
	}
	return extra
}

func (a *assembler) clear() { a.n = 0 }
