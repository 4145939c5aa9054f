package all_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/rv6/rv6test"
)

// benchnvme drives the block device it was granted, and only that; the
// Linux comparison needs admin too.
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
		`(?m)^ramdisk +rand-read +8 +[1-9]\d* `,
		`(?m)^no Linux comparison: the kernel measures Linux's driver for a process holding the admin capability`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("want %s in:\n%s", re, out)
		}
	}
}
