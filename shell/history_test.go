package shell

import (
	"strings"
	"testing"
)

func TestHistory(t *testing.T) {
	var h History
	for _, l := range []string{"a", "a", "  ", "", "b", "a"} {
		h.Add(l)
	}
	if strings.Join(h.Lines, ",") != "a,b,a" {
		t.Errorf("history %q", h.Lines)
	}
	for i := range MaxHistory + 10 {
		h.Add(strings.Repeat("x", i%7+1) + string(rune('a'+i%26)))
	}
	if len(h.Lines) != MaxHistory {
		t.Errorf("history holds %d lines, want %d", len(h.Lines), MaxHistory)
	}
}
