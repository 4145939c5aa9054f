package usertests_test

import (
	"strings"
	"testing"

	_ "github.com/rlgo/redleaf/rv6/progs/ls"
	_ "github.com/rlgo/redleaf/rv6/progs/usertests"
	"github.com/rlgo/redleaf/rv6/rv6test"
)

func TestUsertests(t *testing.T) {
	s := rv6test.Boot(t)
	args := []string{}
	if testing.Short() {
		args = append(args, "-q")
	}
	out, st := s.Run(t, "usertests", args...)
	if !st.Exited || st.Status != 0 || !strings.HasSuffix(out, "ALL TESTS PASSED\n") {
		t.Fatalf("usertests: %+v\n%s", st, out)
	}
	t.Logf("\n%s", out)
	// It cleaned up after itself.
	if out := s.MustRun(t, "ls", "/"); out != "" {
		t.Errorf("usertests left %q in /", out)
	}
	if _, st := s.Run(t, "usertests", "-d", "/usertests.tmp", "createwrite", "pipe"); !st.Exited || st.Status != 0 {
		t.Errorf("usertests with named tests: %+v", st)
	}
}

func TestUsertestsUsage(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20})
	out, st := s.Run(t, "usertests", "nosuch")
	if st.Status != 2 || !strings.Contains(out, `no test "nosuch"`) {
		t.Errorf("usertests nosuch: %+v %q", st, out)
	}
	out, st = s.Run(t, "usertests", "-l")
	if st.Status != 0 || !strings.Contains(out, "createwrite\n") || !strings.Contains(out, "killsleeper\n") {
		t.Errorf("usertests -l: %+v %q", st, out)
	}
	out, st = s.Run(t, "usertests", "-x")
	if st.Status != 2 || !strings.Contains(out, "usage: usertests") {
		t.Errorf("usertests -x: %+v %q", st, out)
	}
}
