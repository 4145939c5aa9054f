package all_test

import (
	"strings"
	"testing"
)

// maglev in the composed system: the shell grants it the two ports by
// name, it opens their drivers through the shadows the kernel started and
// ends at -t with its counters (the models generate no traffic unless told
// to, so it forwards nothing here; rv6/progs/maglev's tests drive the
// wire); without a port it says which grant is missing.
func TestMaglevGrants(t *testing.T) {
	n := bootNet(t)
	n.grantAll()
	out := n.run(t, "grant nic:ixgbe0,nic:ixgbe1 maglev -b web1=02:00:00:00:00:01,web2=02:00:00:00:00:02/3 -t 30ms", 0)
	for _, want := range []string{
		"maglev: ixgbe0 -> ixgbe1, batch 32, 2 backends, table of 65537 entries",
		"maglev: forwarded 0 packets in ",
		"web2         02:00:00:00:00:02      3    49153  75.00%",
		"maglev: ixgbe1: rx 0 packets, 0 missed; tx 0 packets (during this run)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	out = n.run(t, "grant nic:ixgbe0 maglev -b web1=02:00:00:00:00:01 -t 30ms", 1)
	if !strings.Contains(out, "maglev: ixgbe1: this process was not given port ixgbe1; run it as `grant nic:ixgbe1,... maglev ...`") {
		t.Error("no error naming the missing port")
	}
}
