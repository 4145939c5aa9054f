package all_test

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/rv6/rv6test"
)

// benchnvme drives the block device it was granted, and only that; the
// Linux comparison needs admin too. Its table has a row per test, and it
// writes only with -w and only inside the write region.
func TestBenchNVMeProgram(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 8 << 20, GrantDisk: true})
	out, st := s.Run(t, "benchnvme", "-dev", "ramdisk", "-t", "10ms")
	if st.Status != 1 || !strings.Contains(out, "benchnvme: ramdisk: this process was not given the device: run it as `grant blk:ramdisk benchnvme ...`") {
		t.Errorf("without the device: %+v\n%s", st, out)
	}
	s.Caps = []string{"blk:ramdisk"}
	out, st = s.Sh(t, "grant blk benchnvme -dev ramdisk -t 10ms -batch 1,8")
	if st.Status != 0 {
		t.Fatalf("benchnvme: %+v\n%s", st, out)
	}
	for _, re := range []string{
		`(?m)^benchnvme: ramdisk, 2048 blocks of 4096 bytes; 10ms per test; reads over all of it$`,
		`(?m)^no write tests: -w runs them, overwriting blocks 1536-2047`,
		`(?m)^no Linux comparison: the kernel measures Linux's driver for a process holding the admin capability`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("want %s in:\n%s", re, out)
		}
	}
	for _, row := range [][]string{{"seq-read", "1"}, {"seq-read", "8"}, {"rand-read", "1"}, {"rand-read", "8"}} {
		if !hasRow(out, append([]string{"ramdisk"}, row...)...) {
			t.Errorf("no %q row:\n%s", row, out)
		}
	}
	if strings.Contains(out, "write  ") {
		t.Errorf("writes without -w:\n%s", out)
	}

	// The blocks around the region, free in the file system: -w must
	// leave them alone.
	const first, last = 1536, 2048 // the default write region
	around := func() []byte {
		b := make([]byte, (last-first)*4096)
		if _, err := s.Disk.ReadAt(b, first*4096); err != nil {
			t.Fatal(err)
		}
		return slices.Concat(b[:(2000-first)*4096], b[(2010-first)*4096:])
	}
	keep := around()
	out, st = s.Sh(t, "grant blk benchnvme -dev ramdisk -n 300 -t 0 -w -batch 1,8 -linux=false -region 2000:10")
	if st.Status != 0 || !strings.Contains(out, "writes overwrite blocks 2000-2009") || !hasRow(out, "ramdisk", "rand-write", "8", "300") {
		t.Fatalf("-w: %+v\n%s", st, out)
	}
	if !bytes.Equal(keep, around()) {
		t.Error("the write tests wrote outside their region")
	}
	for _, args := range []string{"-region 2040:10", "-region 5", "-batch 0", "-batch 129", "-t 0", "extra"} {
		if out, st := s.Sh(t, "grant blk benchnvme -dev ramdisk "+args); st.Status != 2 {
			t.Errorf("%s: %+v, want status 2:\n%s", args, st, out)
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
