package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/sh"
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
	m := New(reg, nil)

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
}

// A command that takes long (a background fwd) does not hold up another
// (the inject typed meanwhile).
func TestConcurrent(t *testing.T) {
	reg := sh.NewRegistry()
	release := make(chan struct{})
	reg.Register("long", "wait", sh.Func(func(context.Context, *sh.Proc) int { <-release; return 0 }))
	reg.Register("quick", "return", sh.Func(func(context.Context, *sh.Proc) int { return 0 }))
	m := New(reg, nil)
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

// Names the registry lacks go to the fallback (the initramfs's programs).
func TestFallback(t *testing.T) {
	m := New(sh.NewRegistry(), func(name string) (sh.Command, bool) {
		if name != "bbin" {
			return nil, false
		}
		return sh.Func(func(_ context.Context, p *sh.Proc) int { p.Printf("from /bbin\n"); return 0 }), true
	})
	if r, _ := m.Run(argv("bbin")); r.Status != 0 || out(r) != "from /bbin\n" {
		t.Errorf("bbin: status %d, %q", r.Status, out(r))
	}
	if r, _ := m.Run(argv("other")); r.Status != StatusUnknown {
		t.Errorf("other: status %d", r.Status)
	}
}
