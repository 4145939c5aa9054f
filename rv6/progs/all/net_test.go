package all_test

import (
	"regexp"
	"testing"

	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/system"
	"github.com/rlgo/redleaf/system/sh"
)

// The network programs are the kernel monitor's commands of the same
// name, reached through Sys.Monitor: here those of a system over
// the 82599 model (system tests the commands themselves).
func TestNetPrograms(t *testing.T) {
	ks, err := system.Start(system.Options{DiskSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20, Monitor: func(r *sh.Registry) {
		all := sh.NewRegistry()
		ks.Register(all)
		for _, name := range []string{"benchnet", "fwd", "pktgen", "ifconfig", "nictest"} {
			e, ok := all.Lookup(name)
			if !ok {
				t.Fatalf("the system has no %s command", name)
			}
			r.Register(e.Name, e.Summary, e.Command)
		}
	}})
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"benchnet", "-t", "10ms", "-path", "shadow"}, `(?m)^ +256 +[1-9]\d* +\d+\.\d\d +\d+\.\d\s*$`},
		{[]string{"fwd", "-t", "50ms", "-i", "0"}, `(?m)^fwd: wire: ixgbe0's model delivered (\d+), ixgbe1's model sent (\d+): lost 0$`},
		{[]string{"pktgen", "-n", "100", "-t", "0"}, `(?m)^pktgen: ixgbe0 counted 100 packets, 6400 bytes sent$`},
		{[]string{"nictest", "-n", "100"}, `(?m)^nictest: PASS$`},
	} {
		out, st := s.Run(t, c.argv[0], c.argv[1:]...)
		if !st.Exited || st.Status != 0 || !regexp.MustCompile(c.want).MatchString(out) {
			t.Errorf("%q: %+v, want %s in:\n%s", c.argv, st, c.want, out)
		}
	}
	if out, st := s.Run(t, "fwd", "-batch", "0"); st.Status != 2 || out != "fwd: bad batch size 0: want 1..256\n" {
		t.Errorf("fwd -batch 0: %+v\n%s", st, out)
	}
	if out, st := s.Run(t, "nictest", "-pair"); st.Status != 1 || !regexp.MustCompile(`(?m)^nictest: FAIL: -pair needs two cabled 82599 ports`).MatchString(out) {
		t.Errorf("nictest -pair: %+v\n%s", st, out)
	}
}
