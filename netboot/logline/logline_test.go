package logline

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestBound(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Bound(slog.NewTextHandler(&buf, nil))).With("pre", strings.Repeat("p", 5000))
	long := "bytes=" + strings.Repeat("1-2,", 70000)
	log.Info(strings.Repeat("m", 5000), "range", long, "err", errors.New(strings.Repeat("e", 5000)),
		slog.Group("g", "x", strings.Repeat("g", 5000)), "n", 42, "b", []byte(strings.Repeat("b", 5000)))
	line := buf.String()
	if len(line) > 8*(Max+40) {
		t.Errorf("log line of %d bytes", len(line))
	}
	for _, want := range []string{"(280006 bytes)", "(5000 bytes)", "n=42", "g.x="} {
		if !strings.Contains(line, want) {
			t.Errorf("line lacks %q: %.300s", want, line)
		}
	}
	if got := Clip("é" + strings.Repeat("é", 200)); !strings.HasSuffix(got, "...(402 bytes)") || !strings.HasPrefix(got, "éé") {
		t.Errorf("clip %q", got)
	}
}
