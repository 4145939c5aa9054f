package rref

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// placedMem is Go memory cut into n cell-sized pieces, each aligned.
func placedMem[T any](n int) (whole []byte, mems [][]byte) {
	size := CellSize[T]()
	whole = make([]byte, n*size+64)
	off := 0
	for uintptr(unsafe.Pointer(&whole[off]))%uintptr(CellAlign[T]()) != 0 {
		off++
	}
	for i := range n {
		mems = append(mems, whole[off+i*size:off+(i+1)*size])
	}
	return whole, mems
}

// A pool in given memory: each cell's payload is in its piece of memory,
// at PayloadOffset; Slot names the cell to its owner only; cells go back
// on Drop and on the owner's death; the pool survives a garbage collection
// with only its cells pointing to it.
func TestPoolIn(t *testing.T) {
	_, mems := placedMem[block](4)
	p := NewPoolIn[block]("placed", mems)
	a, b := newAccount("a"), newAccount("b")
	defer b.Close()
	r, _ := p.Get(a)
	slot, ok := p.Slot(r)
	if !ok {
		t.Fatal("Slot of a valid handle to a cell of the pool")
	}
	r.Get()[5] = 0x5a
	if got := mems[slot][PayloadOffset[block]()+5]; got != 0x5a {
		t.Fatalf("the payload is not in the cell's memory: byte 5 reads %#x there", got)
	}
	moved := Move(r, a, b)
	if _, ok := p.Slot(r); ok {
		t.Error("Slot told the sender the slot of a cell it moved away")
	}
	if s, ok := p.Slot(moved); !ok || s != slot {
		t.Errorf("Slot of the receiver's handle: %d %v, want %d", s, ok, slot)
	}
	if _, ok := p.Slot(New(b, block{})); ok {
		t.Error("Slot of a cell on the Go heap")
	}
	if _, ok := NewPool[block]("other", 1).Slot(moved); ok {
		t.Error("another pool's Slot accepted the cell")
	}
	runtime.GC() // the pool is reachable only from its cells and the kernel's list
	moved.Drop()
	for range 4 {
		if _, ok := p.Get(a); !ok {
			t.Fatal("pool empty")
		}
	}
	if p.Free() != 0 {
		t.Fatalf("%d free", p.Free())
	}
	a.Close()
	if p.Free() != 4 {
		t.Errorf("%d of 4 cells back after the owner's death", p.Free())
	}
	r, _ = p.Get(b)
	if r.Get()[5] != 0 {
		t.Error("a recycled cell kept its previous owner's data")
	}
}

// Swap exchanges an element for the owner's cell: both handles change, the
// length and order stay.
func TestDequeSwap(t *testing.T) {
	a := newAccount("a")
	defer a.Close()
	d := NewDeque[block](a, 3)
	for i := range 3 {
		d.PushBack(New(a, block{byte(i)}))
	}
	x := New(a, block{9})
	old := d.Swap(1, x)
	if x.Valid() {
		t.Error("the handle swapped in is still valid")
	}
	if !old.Valid() || old.Get()[0] != 1 {
		t.Errorf("the element swapped out: valid %v, payload %d", old.Valid(), old.Get()[0])
	}
	if d.Len() != 3 || d.At(0)[0] != 0 || d.At(1)[0] != 9 || d.At(2)[0] != 2 {
		t.Errorf("deque after Swap: len %d, %d %d %d", d.Len(), d.At(0)[0], d.At(1)[0], d.At(2)[0])
	}
	if ue := refused(func() { d.Swap(3, old) }); ue == nil {
		t.Error("Swap out of range accepted")
	}
	if ue := refused(func() { d.Swap(0, x) }); ue == nil {
		t.Error("Swap of a stale handle accepted")
	}
	if !old.Valid() || d.Len() != 3 {
		t.Error("a refused Swap changed something")
	}
}

// NewPoolIn refuses memory too small for a cell.
func TestPoolInTooSmall(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewPoolIn accepted 8 bytes for a cell")
		}
	}()
	NewPoolIn[block]("small", [][]byte{make([]byte, 8)})
}

// Retire refuses while a cell is out, and afterwards Get hands out none.
func TestPoolInRetire(t *testing.T) {
	_, mems := placedMem[block](2)
	p := NewPoolIn[block]("retired", mems)
	a := newAccount("a")
	defer a.Close()
	r, _ := p.Get(a)
	if err := p.Retire(); err == nil || !strings.Contains(err.Error(), "1 of 2 cells are still out") {
		t.Errorf("Retire with a cell out: %v", err)
	}
	r.Drop()
	if err := p.Retire(); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Get(a); ok {
		t.Error("Get from a retired pool")
	}
}
