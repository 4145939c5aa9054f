package rref

import (
	"fmt"
	"reflect"
)

// A Deque is a fixed-capacity double-ended queue of RRefs: the batch
// container drivers move requests and buffers in. It is itself a cell of the
// shared heap; its elements are owned by its container id, not by the
// domain, so moving a whole deque across a call is one compare-and-swap,
// whatever it holds. An element comes back to the deque's owner, with a new
// handle, when it is popped. When the deque's owner dies, the deque and its
// elements are reclaimed together.
//
// A Deque is a handle like an RRef: copies go stale together when it moves.
// Its methods panic with a *UseError when used through a stale handle. A
// deque is not safe for concurrent use by several threads of its owner.
type Deque[T any] struct {
	r RRef[ring[T]]
}

type ring[T any] struct {
	cid   uint32 // the container id owning the elements
	head  int
	n     int
	sent  int // n when the deque last moved: RescueDeque revives only a whole batch
	slots []RRef[T]
}

// NewDeque allocates an empty deque of the given capacity, owned by a. T
// must be exchangeable.
func NewDeque[T any](a *Account, capacity int) Deque[T] {
	mustExchange(reflect.TypeFor[T]())
	if capacity <= 0 {
		panic("rref: NewDeque: capacity must be positive")
	}
	cid := newID()
	c := &cell[ring[T]]{val: ring[T]{cid: cid, slots: make([]RRef[T], capacity)}}
	c.typ = reflect.TypeFor[Deque[T]]()
	c.cid = cid
	return Deque[T]{adopt(c, a)}
}

// Valid reports whether d may be used.
func (d Deque[T]) Valid() bool { return d.r.Valid() }

// Owner is the id of the account d was issued to.
func (d Deque[T]) Owner() uint32 { return d.r.Owner() }

// Len is the number of elements in d.
func (d Deque[T]) Len() int { return d.r.Get().n }

// Cap is d's capacity.
func (d Deque[T]) Cap() int { return len(d.r.Get().slots) }

// PushBack appends x, which must be owned by d's owner; x's handle goes
// stale. It reports false, leaving x to its owner, if d is full.
func (d Deque[T]) PushBack(x RRef[T]) bool {
	g := d.r.Get()
	if g.n == len(g.slots) {
		return false
	}
	g.slots[wrap(g.head+g.n, len(g.slots))] = d.adopt(x)
	g.n++
	return true
}

// PushFront prepends x, as PushBack appends it.
func (d Deque[T]) PushFront(x RRef[T]) bool {
	g := d.r.Get()
	if g.n == len(g.slots) {
		return false
	}
	g.head = wrap(g.head+len(g.slots)-1, len(g.slots))
	g.slots[g.head] = d.adopt(x)
	g.n++
	return true
}

// At returns the payload of element i (0 is the front) for d's owner to
// read and write in place. Nothing moves: the element stays in the deque,
// so a driver walking a batch pays one atomic load per element instead of
// the two compare-and-swaps of a pop and a push, and a batch never has an
// element outside it (which is what lets a failed call give the whole
// batch back, see RescueDeque). The pointer is valid as long as the
// element stays in the deque and the deque with its owner, as Get's is.
// At panics with a *UseError through a stale handle or for i out of range.
func (d Deque[T]) At(i int) *T {
	g := d.r.Get()
	if uint(i) >= uint(g.n) {
		panic(&UseError{Op: "At", Type: reflect.TypeFor[T](), Reason: fmt.Sprintf("index %d of a deque of %d elements", i, g.n)})
	}
	e := g.slots[wrap(g.head+i, len(g.slots))]
	if w := e.c.word.Load(); w&^borrowMask != e.tag {
		refuse("At", &e.c.header, e.tag, w)
	}
	return &e.c.val
}

// PopFront removes the first element and returns it, owned by d's owner.
func (d Deque[T]) PopFront() (RRef[T], bool) {
	g := d.r.Get()
	if g.n == 0 {
		return RRef[T]{}, false
	}
	e := g.slots[g.head]
	g.slots[g.head] = RRef[T]{}
	g.head = wrap(g.head+1, len(g.slots))
	g.n--
	return d.release(e), true
}

// PopBack removes the last element and returns it, owned by d's owner.
func (d Deque[T]) PopBack() (RRef[T], bool) {
	g := d.r.Get()
	if g.n == 0 {
		return RRef[T]{}, false
	}
	i := wrap(g.head+g.n-1, len(g.slots))
	e := g.slots[i]
	g.slots[i] = RRef[T]{}
	g.n--
	return d.release(e), true
}

// Drop drops every element and then the deque.
func (d Deque[T]) Drop() {
	if d.r.c == nil {
		return
	}
	for {
		e, ok := d.PopFront()
		if !ok {
			break
		}
		e.Drop()
	}
	d.r.Drop()
}

// adopt moves x from d's owner into d's container.
func (d Deque[T]) adopt(x RRef[T]) RRef[T] {
	if x.c == nil {
		refuse("push", nil, x.tag, 0)
	}
	cid := d.r.c.val.cid
	next := retag(x.tag, cid)
	if ownerOf(x.tag) != ownerOf(d.r.tag) || !x.c.word.CompareAndSwap(x.tag, next) {
		refuse("push", &x.c.header, x.tag, x.c.word.Load())
	}
	if d.reclaimed() { // the deque was reclaimed meanwhile: so is x
		settle(&x.c.header, cid)
	}
	return RRef[T]{x.c, next}
}

// release moves element e out of d's container to d's owner.
func (d Deque[T]) release(e RRef[T]) RRef[T] {
	owner := ownerOf(d.r.tag)
	next := retag(e.tag, owner)
	if !e.c.word.CompareAndSwap(e.tag, next) {
		refuse("pop", &e.c.header, e.tag, e.c.word.Load())
	}
	if d.reclaimed() { // the deque was reclaimed meanwhile: so is e
		settle(&e.c.header, owner)
	}
	return RRef[T]{e.c, next}
}

// reclaimed reports whether d's cell was reclaimed (its owner died).
func (d Deque[T]) reclaimed() bool {
	o := ownerOf(d.r.c.word.Load())
	return o == ownerFree || o == ownerReclaiming
}

// MoveDeque moves d as Move moves an RRef: one compare-and-swap, whatever d
// holds.
func MoveDeque[T any](d Deque[T], from, to *Account) Deque[T] {
	d.noteSent()
	return Deque[T]{Move(d.r, from, to)}
}

// TryMoveDeque is TryMove for deques.
func TryMoveDeque[T any](d Deque[T], from, to *Account) (Deque[T], bool) {
	d.noteSent()
	r, ok := TryMove(d.r, from, to)
	return Deque[T]{r}, ok
}

// noteSent records how many elements d holds as it moves, if the mover
// owns it (the move refuses a stale handle anyway).
func (d Deque[T]) noteSent() {
	if d.r.Valid() {
		g := &d.r.c.val
		g.sent = g.n
	}
}

// RescueDeque undoes MoveDeque as Rescue undoes Move, with the elements the
// deque holds.
//
// It also takes the deque back after the receiver's account was closed
// under the call (the callee was killed while it held the batch; Close
// reclaimed the deque and its elements): the deque and its elements are
// revived for to, as the callee left them, provided the deque still holds
// as many elements as it was moved in with (an element the callee had
// popped died with it, and a shorter batch must not pass for the caller's),
// and no pooled element was handed out again since. The caller must know
// that nothing of the dead callee runs any more with the deque in hand: the
// proxies call it after Crossing.Leave, which waits for the callee's death
// to be complete, on the thread that ran the call. And if the deque's one
// move since was back to to (the callee returned it and was killed before
// the proxy noticed), it gets orig's generation again.
func RescueDeque[T any](moved, orig Deque[T], to *Account) bool {
	mustAccount("rescue", to)
	c := moved.r.c
	if c == nil || c != orig.r.c || ownerOf(orig.r.tag) != to.id {
		return false
	}
	if !c.word.CompareAndSwap(moved.r.tag, orig.r.tag) && !reviveDeque(c, moved.r.tag, orig.r.tag, to) {
		return false
	}
	if to.closed.Load() {
		settleDeque(&c.header, to.id)
		return false
	}
	return true
}

// reviveDeque is RescueDeque's slow path: the deque c, moved with tag
// moved, is either reclaimed (with its elements) or back with to.
func reviveDeque[T any](c *cell[ring[T]], moved, orig uint64, to *Account) bool {
	w := c.word.Load()
	if w == retag(moved, to.id) {
		// The callee's very next move of it gave it back to the caller:
		// the call's result, whose handle the proxy drops unused.
		return c.word.CompareAndSwap(w, orig)
	}
	if w != retag(moved, ownerFree) {
		return false // not reclaimed from the callee: taken over by someone else
	}
	g := &c.val
	if g.n != g.sent {
		return false
	}
	var revived []*header
	for i := range g.n {
		e := g.slots[wrap(g.head+i, len(g.slots))]
		if e.c == nil || !revive(&e.c.header, retag(e.tag, ownerFree), e.tag) {
			refree(revived)
			return false
		}
		revived = append(revived, &e.c.header)
	}
	if !revive(&c.header, w, orig) {
		refree(revived)
		return false
	}
	return true
}

// settleDeque reclaims the deque h and its elements if h is still owned by
// owner.
func settleDeque(h *header, owner uint32) {
	settle(h, owner)
	if h.cid != 0 {
		reclaimOwned(map[uint32]bool{h.cid: true})
	}
}

// DiscardDeque drops d and its elements if d is valid.
func DiscardDeque[T any](d Deque[T]) {
	if d.Valid() {
		d.Drop()
	}
}

// wrap is i modulo n for 0 <= i < 2n: a compare instead of a division,
// which on the per-packet path of a driver walking a batch costs more than
// the rest of a push or a pop.
func wrap(i, n int) int {
	if i >= n {
		i -= n
	}
	return i
}

// Swap puts x, which must be owned by d's owner, in place of element i (0
// is the front) and returns that element, owned by d's owner; x's handle
// goes stale. Two compare-and-swaps, no copy: a driver exchanges the
// caller's free buffer for one its device filled (or the caller's full
// buffer for one it has sent) and the batch keeps its length and order. It
// panics with a *UseError through a stale handle, for a stale x, or for i
// out of range.
func (d Deque[T]) Swap(i int, x RRef[T]) RRef[T] {
	g := d.r.Get()
	if uint(i) >= uint(g.n) {
		panic(&UseError{Op: "Swap", Type: reflect.TypeFor[T](), Reason: fmt.Sprintf("index %d of a deque of %d elements", i, g.n)})
	}
	j := wrap(g.head+i, len(g.slots))
	in := d.adopt(x)
	out := g.slots[j]
	g.slots[j] = in
	return d.release(out)
}
