package rref

import "testing"

// A deque moved to an account that is closed under the call (its domain was
// killed holding the batch) is revived for the caller with its elements;
// not if the receiver had taken an element out, nor if a pooled element
// was handed out again meanwhile. Nothing leaks either way.
func TestRescueDequeAfterClose(t *testing.T) {
	base := Live()
	pool := NewPool[block]("blocks", 4)
	batch := func(a *Account, pooled bool) Deque[block] {
		q := NewDeque[block](a, 4)
		for i := range 3 {
			var r RRef[block]
			if pooled {
				r, _ = pool.Get(a)
			} else {
				r = New(a, block{})
			}
			r.Get()[0] = byte(i)
			q.PushBack(r)
		}
		return q
	}
	drain := func(q Deque[block]) []byte {
		var got []byte
		for {
			r, ok := q.PopFront()
			if !ok {
				break
			}
			got = append(got, r.Get()[0])
			r.Drop()
		}
		q.Drop()
		return got
	}

	for _, pooled := range []bool{false, true} {
		a, b := newAccount("caller"), newAccount("callee")
		q := batch(a, pooled)
		m, _ := TryMoveDeque(q, a, b)
		r, _ := m.PopFront() // the callee works on it: rotates one
		m.PushBack(r)
		b.Close() // killed
		if !RescueDeque(m, q, a) || !q.Valid() || m.Valid() {
			t.Fatalf("pooled %v: not rescued", pooled)
		}
		if got := drain(q); string(got) != "\x01\x02\x00" {
			t.Errorf("pooled %v: rescued %v", pooled, got)
		}
		a.Close()
	}

	// The callee died holding an element: the batch is not the caller's any more.
	a, b := newAccount("caller"), newAccount("callee")
	q := batch(a, false)
	m, _ := TryMoveDeque(q, a, b)
	m.PopFront()
	b.Close()
	if RescueDeque(m, q, a) || q.Valid() {
		t.Error("rescued a batch short of an element")
	}
	a.Close()

	// A pooled element was handed out again after the reclaim.
	a, b = newAccount("caller"), newAccount("callee")
	q = batch(a, true)
	m, _ = TryMoveDeque(q, a, b)
	b.Close()
	c := newAccount("other")
	var taken []RRef[block]
	for {
		r, ok := pool.Get(c)
		if !ok {
			break
		}
		taken = append(taken, r)
	}
	if RescueDeque(m, q, a) || q.Valid() {
		t.Error("rescued a batch whose pooled elements were handed out again")
	}
	for _, r := range taken {
		if !r.Valid() {
			t.Error("a rescue attempt took a cell from its new owner")
		}
		r.Drop()
	}
	a.Close()
	c.Close()

	if Live() != base || pool.Free() != pool.Cap() {
		t.Errorf("Live %d (want %d), %v", Live(), base, pool)
	}
}

// A deque the callee returned, whose proxy sees the callee's death only
// afterwards, gets the caller's generation back.
func TestRescueDequeReturned(t *testing.T) {
	a, b := newAccount("caller"), newAccount("callee")
	defer a.Close()
	q := NewDeque[block](a, 2)
	m, _ := TryMoveDeque(q, a, b)
	back, _ := TryMoveDeque(m, b, a)
	b.Close()
	if !RescueDeque(m, q, a) || !q.Valid() || back.Valid() {
		t.Fatalf("rescue: original valid %v, result valid %v", q.Valid(), back.Valid())
	}
	q.Drop()
}
