package rref

import (
	"fmt"
	"reflect"
)

// A UseError is the panic value of a misuse of the shared heap: using a
// handle after its cell moved, was dropped or was reclaimed; moving or
// dropping a lent cell; lending too often; allocating on a closed account.
// The kernel turns it, like any panic, into the failure of the domain that
// misused the handle.
type UseError struct {
	Op     string       // what was attempted: Get, Drop, move, lend, ...
	Type   reflect.Type // the payload type
	Reason string       // why it was refused
}

func (e *UseError) Error() string {
	return fmt.Sprintf("rref: %s of RRef[%v]: %s", e.Op, e.Type, e.Reason)
}

// refuse panics with the UseError explaining why handle tag no longer
// matches word w of cell h.
func refuse(op string, h *header, tag, w uint64) {
	var why string
	switch o := ownerOf(w); {
	case h == nil:
		why = "zero RRef"
	case o == ownerFree:
		why = "used after it was dropped or reclaimed"
	case o == ownerReclaiming:
		why = "used after its owner died"
	case o != ownerOf(tag):
		why = fmt.Sprintf("used after it moved (owner %d, handle for %d)", o, ownerOf(tag))
	case (w^tag)&genMask != 0:
		why = "stale handle (the cell moved away and came back)"
	case borrowsOf(w) != 0:
		why = fmt.Sprintf("%d immutable borrows in flight", borrowsOf(w))
	default:
		why = "handle does not match its cell"
	}
	var t reflect.Type
	if h != nil {
		t = h.typ
	}
	panic(&UseError{Op: op, Type: t, Reason: why})
}
