package blockdev

import (
	"errors"
	"testing"
)

func TestMemDisk(t *testing.T) {
	d := NewMemDisk(1000)
	if d.NumBlocks() != 1000 || d.Resident() != 0 {
		t.Fatal(d.NumBlocks(), d.Resident())
	}
	var a, b, got Block
	a[0], b[4095] = 1, 2
	if err := d.Write([]Req{{LBA: 3, Data: &a}, {LBA: 999, Data: &b}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Read([]Req{{LBA: 999, Data: &got}}); err != nil || got != b {
		t.Fatal("read back", err)
	}
	// Unwritten blocks read as zeros, and zero writes cost no memory.
	got[0] = 9
	d.Read([]Req{{LBA: 500, Data: &got}})
	if !IsZero(&got) {
		t.Fatal("not zero")
	}
	before := d.Resident()
	d.Write([]Req{{LBA: 500, Data: new(Block)}})
	if d.Resident() != before {
		t.Fatal("a zero write allocated")
	}
	// Range errors, before anything is written.
	var re *RangeError
	if err := d.Write([]Req{{LBA: 4, Data: &a}, {LBA: 1000, Data: &a}}); !errors.As(err, &re) || re.LBA != 1000 {
		t.Fatal(err)
	}
	d.Read([]Req{{LBA: 4, Data: &got}})
	if !IsZero(&got) {
		t.Fatal("partial batch written")
	}
	if err := d.Read([]Req{{LBA: 1 << 40, Data: &got}}); err == nil {
		t.Fatal("read past the end")
	}
	// Clones are independent.
	c := d.Clone()
	d.Write([]Req{{LBA: 3, Data: &b}})
	c.Read([]Req{{LBA: 3, Data: &got}})
	if got != a || d.Flush() != nil {
		t.Fatal("clone changed")
	}
	p, err := ReadBlock(d, 3)
	if err != nil || *p != b || WriteBlock(d, 2, p) != nil {
		t.Fatal(err)
	}
}
