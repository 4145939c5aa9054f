package system

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
)

// nictest puts the port in MAC loopback through its shadow, sends frames
// that come back intact with the counters agreeing, and puts it back:
// the port forwards as before, promiscuous, its loopback switch off.
func TestNictest(t *testing.T) {
	s, _ := startIxgbeSystem(t)
	st, out := run(s, "nictest -n 700")
	t.Logf("\n%s", out)
	if st != statusOK {
		t.Fatalf("status %d", st)
	}
	for _, re := range []string{
		`(?m)^nictest: ixgbe0, 82599 model \(8086:10fb\): MAC loopback, 700 frames, timeout 10s$`,
		`(?m)^nictest: ixgbe0: restarted in MAC loopback through its shadow \(instance #\d+ -> #\d+\), config replayed$`,
		`(?m)^nictest: link up true 10000 Mb/s 021b210a0b00; sent 700, received 700 \(\+0 other\); tx counters 700 packets \d+ bytes; rx counters 700 packets \d+ bytes, 0 missed, 0 errors$`,
		`(?m)^nictest: ixgbe0: restarted out of loopback through its shadow \(instance #\d+ -> #\d+\), config replayed$`,
		`(?m)^nictest: PASS$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s", re)
		}
	}
	port, err := s.ixgbePort("ixgbe0")
	if err != nil {
		t.Fatal(err)
	}
	if port.mode.Loopback() || port.guard.Restarts() != 2 {
		t.Errorf("after nictest: loopback %v, restarts %d; want off, 2", port.mode.Loopback(), port.guard.Restarts())
	}
	if v := port.model.Peek(model.HLREG0); v&(1<<15) != 0 {
		t.Errorf("after nictest: HLREG0 %#x: the NIC is still in MAC loopback (LPBK)", v)
	}
	// Out of loopback again: what is sent goes to the wire, not back.
	if st, out := run(s, "fwd -n 1000 -t 0 -i 0"); st != statusOK || !strings.Contains(out, "lost 0") ||
		!regexp.MustCompile(`(?m)^ixgbe0: .* link up, 10000 Mbit/s, promiscuous; instance #\d+, restarts 2$`).MatchString(out) {
		t.Errorf("fwd after nictest: status %d\n%s", st, out)
	}
	if st, out := run(s, "nictest -n 10 ixgbe1"); st != statusOK || !strings.Contains(out, "nictest: ixgbe1, ") {
		t.Errorf("nictest ixgbe1: status %d\n%s", st, out)
	}
}

// A link that never comes up fails the test, within its timeout, and the
// port is put back out of loopback all the same.
func TestNictestLinkDown(t *testing.T) {
	s, _ := startIxgbeSystem(t)
	port, err := s.ixgbePort("ixgbe0")
	if err != nil {
		t.Fatal(err)
	}
	port.model.SetSwitches(model.Switches{HoldLink: true})
	st, out := run(s, "nictest -t 100ms")
	t.Logf("\n%s", out)
	if st != statusError {
		t.Errorf("status %d, want %d", st, statusError)
	}
	for _, want := range []string{
		"nictest: link up false 0 Mb/s 021b210a0b00; sent 0, received 0",
		"nictest: ixgbe0: restarted out of loopback",
		"nictest: FAIL: ixgbe: self test failed: link down after 100ms (021b210a0b00)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "PASS") || port.mode.Loopback() {
		t.Errorf("PASS printed or loopback left on (%v)", port.mode.Loopback())
	}
	port.model.SetSwitches(model.Switches{})
	if st, out := run(s, "nictest -n 10"); st != statusOK {
		t.Errorf("with the link back: status %d\n%s", st, out)
	}
}

func TestNictestUsage(t *testing.T) {
	s, _ := startIxgbeSystem(t)
	for _, args := range []string{"-n 0", "-n x", "-t 0", "-t -1s", "-x", "ixgbe0 ixgbe1", "-pair ixgbe0"} {
		if st, out := run(s, "nictest "+args); st != statusUsage || !strings.Contains(out, "usage: nictest [-n FRAMES] [-t TIMEOUT] [-pair] [PORT]") {
			t.Errorf("nictest %s: status %d\n%s", args, st, out)
		}
	}
	if st, out := run(s, "nictest ixgbe9"); st != statusError || !strings.Contains(out, `nictest: FAIL: no port "ixgbe9" (ports: ixgbe0, ixgbe1)`) {
		t.Errorf("nictest ixgbe9: status %d\n%s", st, out)
	}
	// The model's instances cannot be cabled: -pair says so, and fails.
	st, out := run(s, "nictest -pair")
	if st != statusError || !strings.Contains(out, "nictest: FAIL: -pair needs two cabled 82599 ports: ixgbe0 is 82599 model (8086:10fb) and ixgbe1 is 82599 model (8086:10fb), and the model's instances cannot be cabled") {
		t.Errorf("nictest -pair: status %d\n%s", st, out)
	}
}
