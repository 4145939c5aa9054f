package system

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/system/sh"
)

// benchnvme's table, run against the RAM disk (the NVMe domain needs a
// controller; drivers/nvme and e2e measure that one): every test a row,
// writes only with -w and only inside the region.
func TestBench(t *testing.T) {
	s, err := Start(Options{DiskSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		p := &sh.Proc{Args: append([]string{"benchnvme"}, args...), Stdout: &out, Stderr: &out}
		o, ok := parseBench(p)
		if !ok {
			return statusUsage, out.String()
		}
		o.linux = false
		return s.bench(context.Background(), p, s.ramdisk, o), out.String()
	}
	st, out := run("-t", "20ms")
	if st != statusOK {
		t.Fatalf("status %d:\n%s", st, out)
	}
	for _, row := range [][]string{{"seq-read", "1"}, {"seq-read", "32"}, {"rand-read", "1"}, {"rand-read", "32"}} {
		if !hasRow(out, append([]string{"ramdisk"}, row...)...) {
			t.Errorf("no %q row:\n%s", row, out)
		}
	}
	if strings.Contains(out, "write  ") || !strings.Contains(out, "no write tests: -w runs them, overwriting blocks 192-255") {
		t.Errorf("writes without -w:\n%s", out)
	}

	// Mark the blocks outside the region; -w must leave them alone.
	outside := func() []byte {
		b := make([]byte, 192*4096)
		if _, err := s.mem.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		return b
	}
	keep := outside()
	st, out = run("-n", "300", "-t", "0", "-w", "-batch", "1,8", "-region", "200:10")
	if st != statusOK || !strings.Contains(out, "writes overwrite blocks 200-209") || !hasRow(out, "ramdisk", "rand-write", "8", "300") {
		t.Fatalf("status %d:\n%s", st, out)
	}
	if !bytes.Equal(keep, outside()) {
		t.Error("the write tests wrote outside their region")
	}

	for _, args := range [][]string{{"-region", "250:10"}, {"-batch", "0"}, {"-t", "0"}, {"extra"}} {
		if st, out := run(args...); st != statusUsage {
			t.Errorf("%q: status %d:\n%s", args, st, out)
		}
	}
}

func TestDefaultWriteRegion(t *testing.T) {
	for _, c := range []struct{ blocks, start, n uint64 }{
		{16384, 12288, 4096},
		{1 << 30, 1<<30 - 262144, 262144},
		{3, 0, 3},
		{1, 0, 1},
	} {
		r := DefaultWriteRegion(c.blocks)
		if r.Start != c.start || r.Blocks != c.n {
			t.Errorf("DefaultWriteRegion(%d) = %+v, want %d:%d", c.blocks, r, c.start, c.n)
		}
	}
}

// hasRow reports whether a line of out starts with fields.
func hasRow(out string, fields ...string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}
