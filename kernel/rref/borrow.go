package rref

// A Borrow is an immutable borrow of an RRef for the duration of one call:
// the IDL type of an argument the callee may read but not keep. The caller
// passes r.Borrow(); the proxy lends it (the owner cannot move or drop the
// cell meanwhile) and ends the loan when the call returns or fails.
//
// Go has no read-only pointers: Get returns a *T, and that the callee only
// reads through it is a rule of the IDL, not something the kernel enforces
// (see docs/ARCHITECTURE.md).
//
// A Borrow is a struct type of its own, not an RRef under another name: its
// fields are named differently, so Go does not convert one into the other
// (rref.RRef[T](b) does not compile), and a borrower cannot turn the loan
// into the owner's handle.
type Borrow[T any] struct {
	lc  *cell[T] // the lent cell
	own uint64   // the owner's tag
}

// Get returns the borrowed payload. It panics with a *UseError unless a loan
// of b's cell is in flight and the cell still has the owner and generation b
// was lent in.
func (b Borrow[T]) Get() *T {
	if b.lc == nil {
		refuse("borrowed Get", nil, b.own, 0)
	}
	if w := b.lc.word.Load(); !lent(w, b.own) {
		refuse("borrowed Get", &b.lc.header, b.own, w)
	}
	return &b.lc.val
}

// Valid reports whether Get would succeed.
func (b Borrow[T]) Valid() bool {
	return b.lc != nil && lent(b.lc.word.Load(), b.own)
}

// lent reports whether cell word w has a loan in flight of the generation
// of tag: still with its owner, or orphaned (its owner died during the
// loan; the loan goes on and the last Unlend frees the cell).
func lent(w, tag uint64) bool {
	if borrowsOf(w) == 0 {
		return false
	}
	return w&^borrowMask == tag || ownerOf(w) == ownerReclaiming && w&genMask == tag&genMask
}

// Lend starts a loan of b's cell, which from must own, to another account,
// to. It panics with a *UseError otherwise, or if MaxBorrows loans are in
// flight. Every Lend must be paired with one Unlend. The zero Borrow lends
// nothing. Needing two accounts, it is for the kernel and the proxies only.
func Lend[T any](b Borrow[T], from, to *Account) Borrow[T] {
	if b.lc == nil {
		return b
	}
	if to.id == 0 || from.id == to.id {
		refuseLoan("lend", from, to)
	}
	h := &b.lc.header
	if ownerOf(b.own) != from.id {
		refuse("lend", h, b.own, h.word.Load())
	}
	for {
		w := h.word.Load()
		if w&^borrowMask != b.own || borrowsOf(w) == MaxBorrows {
			refuse("lend", h, b.own, w)
		}
		if h.word.CompareAndSwap(w, w+1) {
			return b
		}
	}
}

// TryLend is the fast path of Lend for the generated proxies, small enough
// to inline: one compare-and-swap, when no other loan is in flight. If it
// reports false nothing happened, and the proxy calls Lend.
func TryLend[T any](b Borrow[T], from, to *Account) bool {
	return b.lc == nil || ownerOf(b.own) == from.id && from.id != to.id && to.id != 0 && b.lc.word.CompareAndSwap(b.own, b.own+1)
}

// Unlend ends a loan started by Lend(b, from, to). If the owner died
// meanwhile and this was the last loan, the cell is reclaimed now. It
// panics with a *UseError if from and to are not the accounts of the loan.
func Unlend[T any](b Borrow[T], from, to *Account) {
	if b.lc == nil {
		return
	}
	if to.id == 0 || from.id == to.id {
		refuseLoan("unlend", from, to)
	}
	if ownerOf(b.own) != from.id {
		refuse("unlend", &b.lc.header, b.own, b.lc.word.Load())
	}
	if w := b.lc.word.Add(^uint64(0)); ownerOf(w) == ownerReclaiming && borrowsOf(w) == 0 {
		unlendLast(&b.lc.header, w)
	}
}

// unlendLast frees a cell whose owner died during the loan that just ended.
//
//go:noinline
func unlendLast(h *header, w uint64) {
	if h.word.CompareAndSwap(w, retag(w, ownerFree)) {
		unregister(h)
	}
}

// refuseLoan panics with the *UseError of a loan between from and to, one
// of which is forged or both the same account. A loan is between two
// domains, and a copy of an account is the same account. (The owner check
// that follows refuses a forged from: a handle never has owner 0.)
//
//go:noinline
func refuseLoan(op string, from, to *Account) {
	mustAccount(op, from)
	mustAccount(op, to)
	panic(&UseError{Op: op, Reason: "lender and borrower are the same account " + from.String()})
}
