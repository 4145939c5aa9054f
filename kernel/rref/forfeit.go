package rref

// Forfeit and ForfeitDeque settle what a call with a deadline moved into
// its callee, when the call was abandoned: the deadline passed, the callee
// was failed, and its worker did not come back within the grace
// (domain.Crossing.Dispatch returned an error). The caller returns with
// orig, the handle it passed; the worker may come back much later, and its
// proxy's rescue would then make orig valid again behind the caller's back,
// long after the caller (or the shadow that would have retried) gave up on
// it: a cell held by a handle nobody has (issue 16). So the proxy forfeits:
//
//   - if orig is valid (the worker gave it back in time, or never took
//     it), it is the caller's, and Forfeit reports true;
//   - if the cell is still where the call left it (owned by the callee
//     to, or returned by it to from as a result the call never delivered),
//     it is reclaimed now, with a deque's elements, and its generation
//     moves past the one a rescue expects;
//   - if it was reclaimed with the callee, its generation moves on the
//     same way (it stays free), so that no rescue revives it;
//   - if the callee passed it on, it is not the call's any more.
//
// Every step is a compare-and-swap on the cell word, so whichever of the
// caller's Forfeit and the worker's rescue comes first, the cell ends up
// either valid under orig or reclaimed, never both, and never live under a
// handle nobody holds. For generated proxies.
func Forfeit[T any](orig RRef[T], from, to *Account) bool {
	if orig.c == nil {
		return true
	}
	return forfeit(&orig.c.header, orig.tag, from, to)
}

// ForfeitDeque is Forfeit for a deque, with its elements.
func ForfeitDeque[T any](orig Deque[T], from, to *Account) bool {
	if orig.r.c == nil {
		return true
	}
	return forfeit(&orig.r.c.header, orig.r.tag, from, to)
}

func forfeit(h *header, orig uint64, from, to *Account) bool {
	moved := retag(orig, to.id)
	for {
		w := h.word.Load()
		switch {
		case w&^borrowMask == orig:
			return true
		case w == moved, w == retag(moved, from.id):
			// Two generations on, free: Rescue looks for moved, and
			// RescueDeque for moved or for it reclaimed one generation on.
			if h.word.CompareAndSwap(w, retag(retag(w, ownerFree), ownerFree)) {
				unregister(h)
				if h.cid != 0 {
					reclaimOwned(map[uint32]bool{h.cid: true})
				}
				return false
			}
		case w == retag(moved, ownerFree):
			if h.word.CompareAndSwap(w, retag(w, ownerFree)) {
				return false
			}
		default:
			return false
		}
	}
}
