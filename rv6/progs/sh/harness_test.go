package sh_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/rv6/ulib"
	oldsh "github.com/rlgo/redleaf/system/sh"

	// The programs the tests run.
	_ "github.com/rlgo/redleaf/rv6/progs/cat"
	_ "github.com/rlgo/redleaf/rv6/progs/crash"
	_ "github.com/rlgo/redleaf/rv6/progs/echo"
	_ "github.com/rlgo/redleaf/rv6/progs/grep"
	_ "github.com/rlgo/redleaf/rv6/progs/kill"
	_ "github.com/rlgo/redleaf/rv6/progs/mkdir"
	_ "github.com/rlgo/redleaf/rv6/progs/sh"
	_ "github.com/rlgo/redleaf/rv6/progs/sleep"
	_ "github.com/rlgo/redleaf/rv6/progs/wc"
)

// Programs of the tests: testenv prints its environment, one NAME=value a
// line; testargs its arguments, one "N:[ARG]" a line.
func init() {
	ulib.Register("testenv", func(p *ulib.Proc) int {
		for _, kv := range p.Environ() {
			p.Println(kv)
		}
		return 0
	})
	ulib.Register("testargs", func(p *ulib.Proc) int {
		for i, a := range p.Args[1:] {
			p.Printf("%d:[%s]\n", i+1, a)
		}
		return 0
	})
}

// system is a booted Rv6 (rv6test) whose monitor also has "fails", a view
// that exits with status 5, and "change", a command for admin only that
// prints "changed".
type system struct {
	t *testing.T
	*rv6test.System
}

func newSystem(t *testing.T) *system {
	t.Helper()
	return &system{t, rv6test.Boot(t, rv6test.Options{DiskSize: 8 << 20, Monitor: func(r *oldsh.Registry) {
		r.RegisterView("fails", "exit with status 5", oldsh.Func(func(context.Context, *oldsh.Proc) int { return 5 }))
		r.Register("change", "print changed", oldsh.Func(func(_ context.Context, p *oldsh.Proc) int { p.Printf("changed\n"); return 0 }))
	}})}
}

// run runs argv on the console with input typed, then the end of input.
func (s *system) run(input string, argv ...string) (string, idl.WaitStatus) {
	s.t.Helper()
	return s.RunInput(s.t, input, argv[0], argv[1:]...)
}

// sh runs `sh -c src` and returns its output and exit status.
func (s *system) sh(src string) (string, int) {
	s.t.Helper()
	out, ws := s.Sh(s.t, src)
	if !ws.Exited {
		s.t.Fatalf("sh -c %q did not exit: %+v\n%s", src, ws, out)
	}
	return out, int(ws.Status)
}

// want fails the test unless got is want.
func want(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// contains fails the test unless got holds every one of subs.
func contains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Errorf("%s: %q does not contain %q", what, got, s)
		}
	}
}
