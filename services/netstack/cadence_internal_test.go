package netstack

import (
	"math"
	"testing"
	"time"
)

func TestIdleSleepDoubles(t *testing.T) {
	s := &Service{cfg: Config{MinIdle: 10 * time.Microsecond, Idle: 500 * time.Microsecond}}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 500, 500}
	for i, w := range want {
		if got := s.idleSleep(i + 1); got != w*time.Microsecond {
			t.Errorf("after %d idle polls: %v, want %v", i+1, got, w*time.Microsecond)
		}
	}
	s.cfg = Config{MinIdle: 1, Idle: math.MaxInt64} // no overflow to a negative sleep
	for q := 1; q < 200; q++ {
		if d := s.idleSleep(q); d <= 0 {
			t.Fatalf("after %d idle polls: %v", q, d)
		}
	}
}
