package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/system/sh"
)

func argv(args ...string) string { return strings.Join(args, "\x00") + "\x00" }

func out(r idl.MonitorResult) string { return string(r.Out[:r.N]) }

func TestRun(t *testing.T) {
	reg := sh.NewRegistry()
	reg.Register("say", "print the arguments", sh.Func(func(_ context.Context, p *sh.Proc) int {
		p.Printf("%q\n", p.Args[1:])
		return 3
	}))
	reg.Register("flood", "print more than fits", sh.Func(func(_ context.Context, p *sh.Proc) int {
		p.Printf("%s", strings.Repeat("x", idl.MonitorOutput+100))
		return 0
	}))
	reg.Register("boom", "panic", sh.Func(func(context.Context, *sh.Proc) int { panic("kaboom") }))
	m := Admin(reg)

	r, err := m.Run(argv("say", "it's", "a b", `$x;|`))
	if err != nil || r.Status != 3 || out(r) != `["it's" "a b" "$x;|"]`+"\n" {
		t.Errorf("say: %v, status %d, %q", err, r.Status, out(r))
	}
	if r, _ := m.Run(argv("nosuch")); r.Status != StatusUnknown || r.N != 0 {
		t.Errorf("nosuch: status %d, %q", r.Status, out(r))
	}
	if r, _ := m.Run(""); r.Status != StatusUnknown {
		t.Errorf("empty: status %d", r.Status)
	}
	if r, _ := m.Run(argv("flood")); r.N != idl.MonitorOutput {
		t.Errorf("flood: %d bytes, want them cut at %d", r.N, idl.MonitorOutput)
	}
	if r, _ := m.Run(argv("boom")); r.Status != StatusPanic || out(r) != "boom: panic: kaboom\n" {
		t.Errorf("boom: status %d, %q", r.Status, out(r))
	}
}

// The views monitor runs the read-only views and refuses the rest, saying
// why; the admin monitor runs both.
func TestViews(t *testing.T) {
	reg := sh.NewRegistry()
	ran := 0
	reg.RegisterView("look", "a view", sh.Func(func(_ context.Context, p *sh.Proc) int { p.Printf("seen\n"); return 0 }))
	reg.Register("change", "a change", sh.Func(func(context.Context, *sh.Proc) int { ran++; return 0 }))
	v := Views(reg)
	if r, _ := v.Run(argv("look")); r.Status != 0 || out(r) != "seen\n" {
		t.Errorf("look: status %d, %q", r.Status, out(r))
	}
	r, _ := v.Run(argv("change"))
	if r.Status != StatusDenied || ran != 0 || !strings.Contains(out(r), "change: permission denied: it changes the system, which needs the admin capability") ||
		!strings.Contains(out(r), "views for everyone: look") {
		t.Errorf("change through the views: status %d, ran %d, %q", r.Status, ran, out(r))
	}
	if r, _ := Admin(reg).Run(argv("change")); r.Status != 0 || ran != 1 {
		t.Errorf("change through admin: status %d, ran %d", r.Status, ran)
	}
}

// A command that takes long (a background fwd) does not hold up another
// (the inject typed meanwhile).
func TestConcurrent(t *testing.T) {
	reg := sh.NewRegistry()
	release := make(chan struct{})
	reg.Register("long", "wait", sh.Func(func(context.Context, *sh.Proc) int { <-release; return 0 }))
	reg.Register("quick", "return", sh.Func(func(context.Context, *sh.Proc) int { return 0 }))
	m := Admin(reg)
	done := make(chan struct{})
	go func() { m.Run(argv("long")); close(done) }()
	quick := make(chan struct{})
	go func() { m.Run(argv("quick")); close(quick) }()
	select {
	case <-quick:
	case <-time.After(10 * time.Second):
		t.Fatal("quick waited for long")
	}
	close(release)
	<-done
}
