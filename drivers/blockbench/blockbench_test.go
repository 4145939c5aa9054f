package blockbench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var r Result
	for i := 1; i <= 1000; i++ {
		r.Lat = append(r.Lat, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 500, 99: 990, 99.9: 999, 100: 1000} {
		if got := r.Percentile(p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	r.Lat = r.Lat[:1]
	if r.Percentile(99.9) != 1 {
		t.Errorf("one sample: p99.9 = %d", r.Percentile(99.9))
	}
}

func TestPicker(t *testing.T) {
	reg := Region{Start: 10, Blocks: 3}
	seq := NewPicker(Spec{Pattern: Sequential, Region: reg})
	for i, want := range []uint64{10, 11, 12, 10, 11} {
		if got := seq.Next(); got != want {
			t.Errorf("sequential %d: %d, want %d", i, got, want)
		}
	}
	rnd := NewPicker(Spec{Pattern: Random, Region: reg, Seed: 3})
	for range 1000 {
		if b := rnd.Next(); b < 10 || b > 12 {
			t.Fatalf("random block %d outside %s", b, reg)
		}
	}
}
