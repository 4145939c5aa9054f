package domain

import (
	"testing"
	"unsafe"
)

// TestCrossingLayout: a crossing fills one 128-byte size class, which the
// allocator aligns to 128 bytes, so that its call counter shares no cache
// line with another crossing's.
func TestCrossingLayout(t *testing.T) {
	if n := unsafe.Sizeof(Crossing{}); n != 128 {
		t.Errorf("a Crossing is %d bytes; adjust its padding to 128", n)
	}
	if off := unsafe.Offsetof(Crossing{}.state); off != 0 {
		t.Errorf("the call counter is at offset %d, want 0", off)
	}
}
