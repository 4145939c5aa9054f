package all_test

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/system/sh"
)

// benchfs -fault arms its faults through the admin capability, and only
// with it; a run in which no fault could be armed fails rather than
// reporting a measurement under faults that had none.
func TestBenchfsFaultsNeedAdmin(t *testing.T) {
	var armed atomic.Int64
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 8 << 20, Monitor: func(r *sh.Registry) {
		r.Register("inject", "arm a fault (counted by the test)", sh.Func(func(_ context.Context, p *sh.Proc) int {
			if len(p.Args) != 3 || p.Args[1] != "ramdisk" {
				p.Errorf("no such domain %q", p.Args[1])
				return 1
			}
			armed.Add(1)
			p.Printf("armed %s in %s\n", p.Args[2], p.Args[1])
			return 0
		}))
	}})
	const args = "-size 64K -bs 4K -file /bf -every 5ms -fault "
	out, st := s.Sh(t, "benchfs "+args+"ramdisk:panic")
	if st.Status != 1 || !strings.Contains(out, "benchfs: -fault arms faults in a domain, which needs the admin capability: run it as `grant admin benchfs ...`") || armed.Load() != 0 {
		t.Errorf("without admin: %+v, %d armed\n%s", st, armed.Load(), out)
	}
	s.Caps = []string{"admin"}
	out, st = s.Sh(t, "grant admin benchfs "+args+"ramdisk:panic")
	if st.Status != 0 || armed.Load() == 0 || !regexp.MustCompile(`(?m)^faults: ramdisk panic armed [1-9]\d* times`).MatchString(out) {
		t.Errorf("with admin: %+v, %d armed\n%s", st, armed.Load(), out)
	}
	out, st = s.Sh(t, "grant admin benchfs "+args+"nosuch:panic")
	if st.Status != 1 || !strings.Contains(out, `benchfs: no fault was armed: inject: no such domain "nosuch"`) {
		t.Errorf("a fault that cannot be armed: %+v\n%s", st, out)
	}
}
