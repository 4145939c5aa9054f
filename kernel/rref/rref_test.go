package rref

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type block [64]byte

// refused runs f and returns the *UseError it panicked with, or nil.
func refused(f func()) (ue *UseError) {
	defer func() {
		if v := recover(); v != nil {
			var ok bool
			if ue, ok = v.(*UseError); !ok {
				panic(v)
			}
		}
	}()
	f()
	return nil
}

func TestMoveAndUseAfterMove(t *testing.T) {
	base := Live()
	a, b := newAccount("a"), newAccount("b")
	r := New(a, block{7})
	if !r.Valid() || r.Owner() != a.ID() || r.Get()[0] != 7 {
		t.Fatalf("new RRef: valid %v owner %d", r.Valid(), r.Owner())
	}
	p := r.Get()
	r2 := Move(r, a, b)
	if r.Valid() {
		t.Error("the sender's handle is still valid after the move")
	}
	if !r2.Valid() || r2.Owner() != b.ID() {
		t.Errorf("the receiver's handle: valid %v owner %d", r2.Valid(), r2.Owner())
	}
	if r2.Get() != p {
		t.Error("the move copied the payload")
	}
	if ue := refused(func() { r.Get() }); ue == nil || !strings.Contains(ue.Reason, "moved") {
		t.Errorf("Get after move: %v, want a use-after-move UseError", ue)
	}
	if ue := refused(func() { Move(r, a, b) }); ue == nil {
		t.Error("moving a stale handle did not panic")
	}
	if ue := refused(func() { Move(r2, a, b) }); ue == nil {
		t.Error("moving with the wrong sender account did not panic")
	}
	// Back to a: a's old handle stays stale (new generation).
	r3 := Move(r2, b, a)
	if r.Valid() || !r3.Valid() {
		t.Errorf("after a round trip: old valid %v, new valid %v", r.Valid(), r3.Valid())
	}
	r3.Drop()
	if ue := refused(func() { r3.Get() }); ue == nil || !strings.Contains(ue.Reason, "dropped") {
		t.Errorf("Get after Drop: %v", ue)
	}
	if Live() != base {
		t.Errorf("Live = %d, want %d", Live(), base)
	}
}

func TestRescue(t *testing.T) {
	a, b := newAccount("a"), newAccount("b")
	r := New(a, block{})
	m := Move(r, a, b)
	if !Rescue(m, r, a) || !r.Valid() || m.Valid() {
		t.Fatalf("rescue: original valid %v, moved valid %v", r.Valid(), m.Valid())
	}
	// Once the receiver passed it on, there is nothing to rescue.
	m = Move(r, a, b)
	c := newAccount("c")
	Move(m, b, c)
	if Rescue(m, r, a) || r.Valid() {
		t.Error("rescued a cell the receiver had passed on")
	}
	c.Close()
	a.Close()
	b.Close()
}

func TestBorrow(t *testing.T) {
	a := newAccount("a")
	defer a.Close()
	r := New(a, block{1, 2, 3})
	b := r.Borrow()
	if b.Valid() {
		t.Error("a borrow is usable before it is lent")
	}
	c := newAccount("c")
	l := Lend(b, a, c)
	if !l.Valid() || l.Get()[2] != 3 {
		t.Fatal("a lent borrow is not readable")
	}
	l2 := Lend(b, a, c) // a second, concurrent borrow
	if ue := refused(func() { Move(r, a, newAccount("b")) }); ue == nil || !strings.Contains(ue.Reason, "borrows") {
		t.Errorf("moving a lent RRef: %v", ue)
	}
	if ue := refused(func() { r.Drop() }); ue == nil {
		t.Error("dropping a lent RRef did not panic")
	}
	if r.Get()[0] != 1 {
		t.Error("the owner cannot read its lent RRef")
	}
	Unlend(l2, a, c)
	Unlend(l, a, c)
	if l.Valid() {
		t.Error("a borrow is usable after its loan ended")
	}
	if ue := refused(func() { Lend(b, newAccount("other"), c) }); ue == nil {
		t.Error("lending from a non-owner did not panic")
	}
	if ue := refused(func() { Lend(b, a, a) }); ue == nil {
		t.Error("lending to oneself did not panic")
	}
	r.Drop()
}

func TestCloseReclaims(t *testing.T) {
	base := Live()
	pool := NewPool[block]("test", 8)
	a, other := newAccount("a"), newAccount("other")
	for range 5 {
		New(a, block{})
	}
	d := NewDeque[block](a, 4)
	for range 4 {
		if !d.PushBack(New(a, block{})) {
			t.Fatal("push into a deque with room failed")
		}
	}
	for range 3 {
		if _, ok := pool.Get(a); !ok {
			t.Fatal("pool empty")
		}
	}
	// One the account had only borrowed: it survives, with its owner.
	theirs := New(other, block{9})
	lent := Lend(theirs.Borrow(), other, a)
	// One the account lent out: reclaimed when the loan ends.
	mine := New(a, block{})
	out := Lend(mine.Borrow(), a, other)

	if got := a.Held(); got != 5+1+4+3+1 {
		t.Errorf("Held = %d, want 14", got)
	}
	n := a.Close()
	if n != 14 {
		t.Errorf("Close reclaimed %d cells, want 14", n)
	}
	if pool.Free() != 8 {
		t.Errorf("pool has %d free cells after the reclaim, want 8", pool.Free())
	}
	if !lent.Valid() || !theirs.Valid() || theirs.Get()[0] != 9 {
		t.Error("a cell the dead account only borrowed did not survive")
	}
	if !out.Valid() {
		t.Error("a loan of a reclaimed cell ended early")
	}
	if Live() != base+2 { // theirs, and mine until its loan ends
		t.Errorf("Live = %d, want %d", Live(), base+2)
	}
	Unlend(out, a, other)
	Unlend(lent, other, a)
	theirs.Drop()
	if Live() != base {
		t.Errorf("Live = %d, want %d", Live(), base)
	}
	if ue := refused(func() { New(a, block{}) }); ue == nil || !strings.Contains(ue.Reason, "closed") {
		t.Errorf("New on a closed account: %v", ue)
	}
	if ue := refused(func() { pool.Get(a) }); ue == nil || pool.Free() != 8 {
		t.Errorf("Pool.Get on a closed account: %v, %d free", ue, pool.Free())
	}
	// Moving to a closed account reclaims on the spot.
	x := New(other, block{})
	if Move(x, other, a).Valid() || Live() != base {
		t.Error("a cell moved to a closed account was not reclaimed")
	}
	other.Close()
}

func TestDeque(t *testing.T) {
	base := Live()
	a, b := newAccount("a"), newAccount("b")
	d := NewDeque[block](a, 3)
	for i := range 3 {
		r := New(a, block{byte(i)})
		if !d.PushBack(r) {
			t.Fatal("push failed")
		}
		if r.Valid() {
			t.Error("a pushed RRef's handle is still valid")
		}
	}
	extra := New(a, block{})
	if d.PushBack(extra) || !extra.Valid() {
		t.Error("push into a full deque did not refuse, or took the RRef")
	}
	extra.Drop()
	if d.Len() != 3 || d.Cap() != 3 {
		t.Errorf("Len %d Cap %d", d.Len(), d.Cap())
	}
	// Moving the deque moves everything in it: one CAS.
	d2 := MoveDeque(d, a, b)
	if d.Valid() || !d2.Valid() {
		t.Fatal("the deque did not move")
	}
	if ue := refused(func() { d.PopFront() }); ue == nil {
		t.Error("pop through a stale deque handle did not panic")
	}
	first, _ := d2.PopFront()
	last, _ := d2.PopBack()
	if first.Owner() != b.ID() || first.Get()[0] != 0 || last.Get()[0] != 2 {
		t.Errorf("popped: owner %d, first %d, last %d", first.Owner(), first.Get()[0], last.Get()[0])
	}
	if !d2.PushFront(first) {
		t.Error("push front failed")
	}
	if got, _ := d2.PopFront(); got.Get()[0] != 0 {
		t.Error("push front did not put it first")
	}
	if got := CountByOwner()[b.ID()]; got != 1+2+1 { // deque, one element inside, two popped
		t.Errorf("b holds %d, want 4", got)
	}
	b.Close()
	a.Close()
	if Live() != base {
		t.Errorf("Live = %d, want %d", Live(), base)
	}
}

func TestExchangeable(t *testing.T) {
	type plainT struct {
		A int
		B [3]float64
		S string
	}
	type withPtr struct{ P *int }
	type nested struct{ In [2]struct{ M map[string]int } }
	for _, c := range []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[plainT](), ""},
		{reflect.TypeFor[block](), ""},
		{reflect.TypeFor[withPtr](), "ptr at .P"},
		{reflect.TypeFor[[]byte](), "slice"},
		{reflect.TypeFor[nested](), "map at .In[].M"},
		{reflect.TypeFor[func()](), "func"},
		{reflect.TypeFor[any](), "interface"},
		{reflect.TypeFor[uintptr](), "uintptr"},
	} {
		err := Exchangeable(c.t)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Exchangeable(%v) = %v, want %q", c.t, err, c.want)
		}
	}
	defer func() {
		if v := recover(); v == nil {
			t.Error("New of a non-exchangeable type did not panic")
		} else if err, ok := v.(error); !ok || !strings.Contains(err.Error(), "not exchangeable") {
			t.Errorf("panic: %v", v)
		}
	}()
	New(newAccount("a"), withPtr{})
}

func TestPoolZeroes(t *testing.T) {
	p := NewPool[block]("z", 1)
	a := newAccount("a")
	defer a.Close()
	r, _ := p.Get(a)
	r.Get()[0] = 42
	r.Drop()
	r, _ = p.Get(a)
	if r.Get()[0] != 0 {
		t.Error("a recycled pool cell kept its previous owner's data")
	}
	if _, ok := p.Get(a); ok {
		t.Error("Get from an empty pool succeeded")
	}
}

// TestCloseRacesMoves has threads of a dying owner keep moving cells to and
// fro while the owner is closed: no cell may leak, whoever wins each race.
func TestCloseRacesMoves(t *testing.T) {
	base := Live()
	for range 50 {
		a, b := newAccount("a"), newAccount("b")
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if v := recover(); v != nil {
						if _, ok := v.(*UseError); !ok {
							panic(v)
						}
					}
				}()
				d := NewDeque[block](a, 2)
				for range 200 {
					r := New(b, block{})
					r = Move(r, b, a)
					d.PushBack(r)
					r, _ = d.PopFront()
					r = Move(r, a, b)
					r = Move(r, b, a)
					Rescue(Move(r, a, b), r, a)
				}
			}()
		}
		a.Close()
		wg.Wait()
		b.Close()
	}
	if got := Live(); got != base {
		t.Errorf("Live = %d after racing closes, want %d", got, base)
	}
}

func TestUseErrorMessage(t *testing.T) {
	a := newAccount("a")
	defer a.Close()
	r := New(a, block{})
	Move(r, a, newAccount("b"))
	ue := refused(func() { r.Get() })
	var err error = ue
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "RRef[rref.block]") {
		t.Errorf("message: %v", err)
	}
}

// At reads and writes an element in place, without moving it; a stale
// handle or an index out of range is refused.
func TestDequeAt(t *testing.T) {
	a, b := newAccount("a"), newAccount("b")
	d := NewDeque[int](a, 4)
	for i := range 3 {
		d.PushBack(New(a, i*10))
	}
	d.PopFront() // the ring's head moves: At counts from the front
	d.PushBack(New(a, 30))
	for i, want := range []int{10, 20, 30} {
		if got := *d.At(i); got != want {
			t.Errorf("At(%d) = %d, want %d", i, got, want)
		}
	}
	*d.At(1) = 21
	d.PopFront()
	if r, _ := d.PopFront(); *r.Get() != 21 {
		t.Errorf("the write in place was lost: %d", *r.Get())
	}
	if ue := refused(func() { d.At(1) }); ue == nil || ue.Op != "At" {
		t.Errorf("At past the end: %v", ue)
	}
	moved := MoveDeque(d, a, b)
	if ue := refused(func() { d.At(0) }); ue == nil {
		t.Error("At through the handle of a deque that moved away was allowed")
	}
	if *moved.At(0) != 30 {
		t.Errorf("the receiver's At(0) = %d", *moved.At(0))
	}
}
