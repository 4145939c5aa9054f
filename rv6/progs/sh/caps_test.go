package sh_test

import (
	"strings"
	"testing"

	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/rv6/ulib"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// Programs that print the capabilities they hold, one a line: testcaps
// declared nothing, testcapsnet declared that it needs a network stack.
func init() {
	show := func(p *ulib.Proc) int {
		for _, c := range p.Caps() {
			p.Println(c)
		}
		return 0
	}
	ulib.Register("testcaps", show)
	ulib.Register("testcapsnet", show, ulib.NeedsInet)
}

// A program that declared it needs a network stack gets, without grant,
// the inet: capabilities the shell holds and nothing else (not admin); one
// that declared nothing gets nothing; grant gives exactly what it names.
func TestDeclaredCaps(t *testing.T) {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	a, b, err := netstacktest.StartPair(m)
	if err != nil {
		t.Fatal(err)
	}
	s := &system{t, rv6test.Boot(t, rv6test.Options{DiskSize: 8 << 20, Manager: m,
		Grants: map[string]domain.Provider{"inet:a": a, "inet:b": b}})}
	s.Caps = []string{"admin", "inet:a", "inet:b"}
	out, st := s.sh("echo none:; testcaps; echo net:; testcapsnet; echo grant:; grant inet:b testcapsnet; grant admin testcaps; echo nested:; sh -c testcapsnet")
	want(t, "declared capabilities", out, "none:\nnet:\ninet:a\ninet:b\ngrant:\ninet:b\nadmin\nnested:\n")
	if st != 0 {
		t.Errorf("status %d", st)
	}
	s.Caps = []string{"admin"}
	out, _ = s.sh("testcapsnet; echo end")
	want(t, "a shell without a stack", out, "end\n")
}

// Nothing that is no program runs: a path is refused with a clear error
// and the shell goes on; nothing reaches a host binary.
func TestPathsRefused(t *testing.T) {
	s := newSystem(t)
	out, st := s.sh("/init; echo after $?; /bin/sh -c 'echo no'; ./x; echo end")
	want(t, "paths", out,
		"sh: /init: not a program name: Rv6 runs programs by name and has no executable files (help lists the programs)\n"+
			"after 126\n"+
			"sh: /bin/sh: not a program name: Rv6 runs programs by name and has no executable files (help lists the programs)\n"+
			"sh: ./x: not a program name: Rv6 runs programs by name and has no executable files (help lists the programs)\n"+
			"end\n")
	if st != 0 {
		t.Errorf("status %d", st)
	}
}

// A shell holding nothing (any shell but the console's login shell): the
// monitor's views run, its other commands are refused with what would
// allow them, kill of a domain fails, and grant cannot pass what the shell
// does not hold.
func TestNoAdmin(t *testing.T) {
	s := newSystem(t)
	out, st := s.sh("caps; fails; echo $?; change; echo $?")
	if st != 0 || !strings.HasPrefix(out, "5\nchange: permission denied: it changes the system, which needs the admin capability") ||
		!strings.HasSuffix(out, "126\n") || strings.Contains(out, "changed") {
		t.Errorf("views and changes without admin: status %d, %q", st, out)
	}
	out, _ = s.sh("kill nosuchdomain; echo $?")
	want(t, "kill without admin", out,
		"kill: nosuchdomain: killing a domain needs the admin capability: run it as `grant admin kill nosuchdomain` from the console's login shell\n1\n")
	out, _ = s.sh("grant admin kill nosuchdomain; echo $?")
	want(t, "grant of what the shell lacks", out,
		"sh: grant: admin: this shell does not hold it, so it cannot pass it on (it holds: none)\n126\n")
}

// The login shell (holding admin, as init makes it): monitor commands that
// change the system run; a program gets admin only through grant, and
// passes it on only by naming it.
func TestAdmin(t *testing.T) {
	s := newSystem(t)
	s.Caps = []string{"admin"}
	out, st := s.sh("caps; change; kill nosuchdomain; echo $?; grant admin kill nosuchdomain; echo $?")
	want(t, "admin", out,
		"admin\nchanged\n"+
			"kill: nosuchdomain: killing a domain needs the admin capability: run it as `grant admin kill nosuchdomain` from the console's login shell\n1\n"+
			"kill: nosuchdomain: no such domain\n1\n")
	if st != 0 {
		t.Errorf("status %d", st)
	}
	out, _ = s.sh("sh -c caps; grant admin sh -c 'caps; change'; grant admin sh -c 'sh -c change'")
	if !strings.HasPrefix(out, "admin\nchanged\nchange: permission denied") {
		t.Errorf("passing admin on: %q", out)
	}
	out, _ = s.sh("grant admin cd /; echo $?; grant nic fwd; echo $?; grant admin; echo $?; grant ,admin sh; echo $?")
	want(t, "grant errors", out,
		"sh: grant: cd is a builtin: it runs in the shell itself, with what the shell holds\n126\n"+
			"sh: grant: nic: this shell does not hold it, so it cannot pass it on (it holds: admin)\n126\n"+
			"sh: usage: grant CAP[,CAP...] PROGRAM [ARG...]\n2\n"+
			"sh: grant: \",admin\": an empty capability name (want CAP[,CAP...])\n126\n")
	out, _ = s.sh("grant admin sleep 0.1 & wait; echo waited $?")
	want(t, "grant in the background", out, "waited 0\n")
}
