package benchnvme

import "testing"

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
