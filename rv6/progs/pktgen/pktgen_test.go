package pktgen

import "testing"

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"0": 0, "250000": 250000, "250k": 250000, "1.5M": 1.5e6, "2K": 2000} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "x", "-5", "1G"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q): no error", in)
		}
	}
}
