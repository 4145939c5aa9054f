package rref

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The tests of this file are the review's hole 2 on the shared heap: what a
// hostile domain can make out of what it has (its own account, a Borrow it
// was lent, the exported types of this package) must give it nothing.

// TestForgedAccountRefused: &Account{} (the only account a domain can write
// down) is refused by every function that takes an account, and nothing
// changes hands: no cell is allocated on it, moved to it, or lent to it.
func TestForgedAccountRefused(t *testing.T) {
	base := Live()
	a := newAccount("domain")
	forged := &Account{}
	pool := NewPool[block]("p", 2)
	r := New(a, block{1})

	for _, c := range []struct {
		op string
		f  func()
	}{
		{"New", func() { New(forged, block{}) }},
		{"NewDeque", func() { NewDeque[block](forged, 4) }},
		{"Pool.Get", func() { pool.Get(forged) }},
		{"Move to", func() { Move(r, a, forged) }},
		{"Move from", func() { Move(r, forged, a) }},
		{"Lend", func() { Lend(r.Borrow(), a, forged) }},
		{"Unlend", func() { Unlend(r.Borrow(), a, forged) }},
		{"Rescue", func() { Rescue(r, r, forged) }},
		{"Close", func() { forged.Close() }},
		{"nil account", func() { New[block](nil, block{}) }},
	} {
		ue := refused(c.f)
		if ue == nil || !strings.Contains(ue.Reason, "forged account") {
			t.Errorf("%s with a forged account: %v, want a refusal", c.op, ue)
		}
	}
	if _, ok := TryMove(r, a, forged); ok {
		t.Error("TryMove to a forged account succeeded")
	}
	if TryLend(r.Borrow(), a, forged) {
		t.Error("TryLend to a forged account succeeded")
	}
	if !r.Valid() || r.Owner() != a.ID() || r.c.word.Load()&borrowMask != 0 {
		t.Errorf("the domain's RRef changed: valid %v owner %d word %#x", r.Valid(), r.Owner(), r.c.word.Load())
	}
	if pool.Free() != 2 {
		t.Errorf("the pool lent %d cells to a forged account", 2-pool.Free())
	}
	if !forged.Closed() {
		t.Error("a forged account reports itself open")
	}
	r.Drop()
	if n := Live(); n != base {
		t.Errorf("live cells %d, want %d", n, base)
	}
}

// TestOwnLoanCannotBeEnded: the review's exploit: a domain that lent a cell
// to a callee ended the loan itself mid-call (Unlend with a throwaway
// account), and the innocent borrower's next Get failed. Now the only
// accounts a domain has (forged ones, copies of its own) are refused, and
// the borrower keeps its loan.
func TestOwnLoanCannotBeEnded(t *testing.T) {
	owner, borrower := newAccount("owner"), newAccount("borrower")
	r := New(owner, block{9})
	b := Lend(r.Borrow(), owner, borrower) // the proxy lends it for a call
	own := *owner                          // a copy of its own account
	for name, to := range map[string]*Account{"forged": {}, "copy of its own": &own, "its own": owner} {
		if ue := refused(func() { Unlend(b, owner, to) }); ue == nil {
			t.Errorf("Unlend with %s account: not refused", name)
		}
		if ue := refused(func() { Lend(b, owner, to) }); ue == nil {
			t.Errorf("Lend to %s account: not refused", name)
		}
	}
	if b.Get()[0] != 9 {
		t.Error("the borrower lost its loan")
	}
	Unlend(b, owner, borrower) // the proxy ends it
	if b.Valid() {
		t.Error("the loan outlived its Unlend")
	}
	r.Drop()
}

// TestAccountCopyShared: a copy of an account is the same account: closing
// the original (the domain died) closes the copy, so a copy kept by a zombie
// thread cannot allocate cells that would outlive the domain.
func TestAccountCopyShared(t *testing.T) {
	base := Live()
	a := newAccount("domain")
	c := *a
	a.Close()
	if !c.Closed() {
		t.Error("the copy of a closed account is open")
	}
	if ue := refused(func() { New(&c, block{}) }); ue == nil {
		t.Error("New on the copy of a closed account succeeded")
	}
	if n := Live(); n != base {
		t.Errorf("live cells %d, want %d", n, base)
	}
}

// TestMintUnforgeable: a Mint value a domain declares makes no account, and
// only package domain may claim the real one.
func TestMintUnforgeable(t *testing.T) {
	var m Mint
	if ue := refused(func() { m.NewAccount("evil") }); ue == nil {
		t.Error("a declared Mint made an account")
	}
	defer func() {
		v := recover()
		if s := fmt.Sprint(v); !strings.Contains(s, "only github.com/rlgo/redleaf/kernel/domain may claim") {
			t.Errorf("ClaimMint from package rref: %v", v)
		}
	}()
	ClaimMint()
	t.Error("ClaimMint from package rref returned")
}

// TestBorrowIsNotAnRRef: Go converts between struct types of identical
// fields; a Borrow must not be one of those, or a borrower could convert
// its loan into the owner's handle and keep the cell after the call.
func TestBorrowIsNotAnRRef(t *testing.T) {
	b, r := reflect.TypeFor[Borrow[block]](), reflect.TypeFor[RRef[block]]()
	if b.ConvertibleTo(r) || r.ConvertibleTo(b) {
		t.Errorf("%v and %v convert into each other", b, r)
	}
	d := reflect.TypeFor[Deque[block]]()
	if b.ConvertibleTo(d) || r.ConvertibleTo(d) {
		t.Errorf("a handle converts into a %v", d)
	}
}

// TestPoolHandleOverwritten: a domain granted a *Pool can overwrite it
// (*p = Pool{}); before, that zeroed the pool's lock and cells under the
// other holders and the kernel. Now it breaks that handle only.
func TestPoolHandleOverwritten(t *testing.T) {
	a := newAccount("domain")
	h := NewPool[block]("p", 2)
	other := *h // another holder's handle
	r, ok := h.Get(a)
	if !ok {
		t.Fatal("Get from a fresh pool")
	}
	*h = Pool[block]{}
	if ue := refused(func() { h.Get(a) }); ue == nil || !strings.Contains(ue.Reason, "zero or overwritten") {
		t.Errorf("Get through an overwritten handle: %v", ue)
	}
	r.Drop() // the cell goes home all the same
	if other.Free() != 2 {
		t.Errorf("the pool has %d free cells, want 2", other.Free())
	}
	if r2, ok := other.Get(a); !ok || !r2.Valid() {
		t.Error("the other handle cannot Get")
	} else {
		r2.Drop()
	}
}
