package rref

import "reflect"

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
	g.slots[(g.head+g.n)%len(g.slots)] = d.adopt(x)
	g.n++
	return true
}

// PushFront prepends x, as PushBack appends it.
func (d Deque[T]) PushFront(x RRef[T]) bool {
	g := d.r.Get()
	if g.n == len(g.slots) {
		return false
	}
	g.head = (g.head + len(g.slots) - 1) % len(g.slots)
	g.slots[g.head] = d.adopt(x)
	g.n++
	return true
}

// PopFront removes the first element and returns it, owned by d's owner.
func (d Deque[T]) PopFront() (RRef[T], bool) {
	g := d.r.Get()
	if g.n == 0 {
		return RRef[T]{}, false
	}
	e := g.slots[g.head]
	g.slots[g.head] = RRef[T]{}
	g.head = (g.head + 1) % len(g.slots)
	g.n--
	return d.release(e), true
}

// PopBack removes the last element and returns it, owned by d's owner.
func (d Deque[T]) PopBack() (RRef[T], bool) {
	g := d.r.Get()
	if g.n == 0 {
		return RRef[T]{}, false
	}
	i := (g.head + g.n - 1) % len(g.slots)
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
	return Deque[T]{Move(d.r, from, to)}
}

// TryMoveDeque is TryMove for deques.
func TryMoveDeque[T any](d Deque[T], from, to *Account) (Deque[T], bool) {
	r, ok := TryMove(d.r, from, to)
	return Deque[T]{r}, ok
}

// RescueDeque undoes MoveDeque as Rescue undoes Move.
func RescueDeque[T any](moved, orig Deque[T], to *Account) bool {
	return Rescue(moved.r, orig.r, to)
}

// DiscardDeque drops d and its elements if d is valid.
func DiscardDeque[T any](d Deque[T]) {
	if d.Valid() {
		d.Drop()
	}
}
