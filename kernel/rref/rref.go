package rref

import "reflect"

// A cell is one object of the shared heap.
type cell[T any] struct {
	header
	val T
}

// An RRef is a handle to a cell of the shared heap holding a T. It is a small
// value (a pointer and a tag); copying it copies the handle, not the payload,
// and every copy goes stale together when the cell moves. The zero RRef holds
// nothing; proxies pass it through, and Valid reports false for it.
type RRef[T any] struct {
	c   *cell[T]
	tag uint64 // the cell word this handle was issued with (no borrows)
}

// New allocates a cell holding v, owned by a. T must be exchangeable (plain
// data, see the package doc): New panics otherwise, and with a *UseError if a
// is closed.
func New[T any](a *Account, v T) RRef[T] {
	t := reflect.TypeFor[T]()
	mustExchange(t)
	c := &cell[T]{val: v}
	c.typ = t
	return adopt(c, a)
}

// adopt registers a fresh cell as owned by a.
func adopt[T any](c *cell[T], a *Account) RRef[T] {
	mustAccount("allocate", a)
	tag := uint64(a.id) << ownerShift
	c.word.Store(tag)
	if !register(&c.header, a) {
		refuseClosed(&c.header, a)
	}
	return RRef[T]{c, tag}
}

// Valid reports whether r may be used: its cell is still owned by the holder
// r was issued to, in the same generation.
func (r RRef[T]) Valid() bool {
	return r.c != nil && r.c.word.Load()&^borrowMask == r.tag
}

// Get returns the payload, in place: reading or writing through it is
// zero-copy. It panics with a *UseError if r is not valid. Do not keep the
// pointer after giving r away: Go cannot revoke it (see docs/ARCHITECTURE.md).
func (r RRef[T]) Get() *T {
	if r.c == nil {
		refuse("Get", nil, r.tag, 0)
	}
	if w := r.c.word.Load(); w&^borrowMask != r.tag {
		refuse("Get", &r.c.header, r.tag, w)
	}
	return &r.c.val
}

// Owner is the id of the account r was issued to (0 for the zero RRef).
func (r RRef[T]) Owner() uint32 { return ownerOf(r.tag) }

// Drop gives the cell back: to its pool if it came from one. Dropping the
// zero RRef does nothing; dropping an invalid or lent RRef panics with a
// *UseError.
func (r RRef[T]) Drop() {
	if r.c == nil {
		return
	}
	if !r.c.word.CompareAndSwap(r.tag, retag(r.tag, ownerFree)) {
		refuse("Drop", &r.c.header, r.tag, r.c.word.Load())
	}
	unregister(&r.c.header)
}

// Discard drops r if it is valid and does nothing otherwise. Proxies use it
// for results they cannot deliver.
func Discard[T any](r RRef[T]) {
	if r.c != nil && r.c.word.CompareAndSwap(r.tag, retag(r.tag, ownerFree)) {
		unregister(&r.c.header)
	}
}

// Borrow returns the immutable borrow of r to pass to a call that takes an
// rref.Borrow[T]. It lends nothing by itself: the proxy lends it for the
// duration of the call.
func (r RRef[T]) Borrow() Borrow[T] { return Borrow[T]{lc: r.c, own: r.tag} }

// Move gives r's cell, held by from, to to, and returns to's handle; r goes
// stale. It panics with a *UseError if r is not from's valid handle or is
// lent. If to was closed meanwhile (its domain died), the cell is reclaimed
// on the spot and the returned handle is stale. The zero RRef moves to the
// zero RRef. Only the kernel and the generated proxies hold two accounts.
func Move[T any](r RRef[T], from, to *Account) RRef[T] {
	if r.c != nil {
		r.tag = move(&r.c.header, r.tag, from, to)
	}
	return r
}

// move is Move's work, not generic.
func move(h *header, tag uint64, from, to *Account) uint64 {
	mustAccount("move", from)
	mustAccount("move", to)
	next := retag(tag, to.id)
	if ownerOf(tag) != from.id || !h.word.CompareAndSwap(tag, next) {
		refuse("move", h, tag, h.word.Load())
	}
	if to.closed.Load() {
		settleDeque(h, to.id) // a deque with its elements, or just h
	}
	return next
}

// TryMove is the fast path of Move for the generated proxies, small enough
// to inline: one compare-and-swap. If it reports false nothing happened, and
// the proxy calls Move, which panics with the reason. Unlike Move it does
// not check whether to was closed meanwhile: the proxy's Crossing.Leave
// does, once per call, and the proxy gives the cell back if to died (see
// the package doc). A forged account (id 0) is never a match: Move says why.
func TryMove[T any](r RRef[T], from, to *Account) (RRef[T], bool) {
	if r.c == nil {
		return r, true
	}
	next := retag(r.tag, to.id)
	if ownerOf(r.tag) != from.id || to.id == 0 || !r.c.word.CompareAndSwap(r.tag, next) {
		return r, false
	}
	return RRef[T]{r.c, next}, true
}

// Rescue undoes a Move: if moved is still the valid handle of the receiver
// (the callee failed without passing the cell on), the cell goes back to
// orig's owner, to, in orig's generation, so that orig is valid again. It
// reports whether it did. Proxies rescue the RRefs a failed call had taken,
// so that a caller (or a shadow retrying the call) still has them.
func Rescue[T any](moved, orig RRef[T], to *Account) bool {
	mustAccount("rescue", to)
	if moved.c == nil || moved.c != orig.c || ownerOf(orig.tag) != to.id {
		return false
	}
	if !moved.c.word.CompareAndSwap(moved.tag, orig.tag) {
		return false
	}
	if to.closed.Load() {
		settle(&orig.c.header, to.id)
		return false
	}
	return true
}
