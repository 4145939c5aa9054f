package console

import (
	"bufio"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseStep(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Step
	}{
		{`expect=\$ `, Step{Kind: "expect", Arg: `\$ `}},
		{`expect@90s=login:`, Step{Kind: "expect", Arg: "login:", Timeout: 90 * time.Second}},
		{`expect@2m=a=b`, Step{Kind: "expect", Arg: "a=b", Timeout: 2 * time.Minute}},
		{`send=echo hi`, Step{Kind: "send", Arg: "echo hi"}},
		{`send=`, Step{Kind: "send"}},
		{`sleep=2s`, Step{Kind: "sleep", Arg: "2s"}},
		{`sleep=0s`, Step{Kind: "sleep", Arg: "0s"}},
		{` expect @ 5s =x`, Step{Kind: "expect", Arg: "x", Timeout: 5 * time.Second}},
	} {
		got, err := ParseStep(tc.in)
		if err != nil {
			t.Errorf("ParseStep(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseStep(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseStepErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"expect", `step "expect" has no '=': want expect=REGEX, expect@TIMEOUT=REGEX`},
		{"", `step "" has no '='`},
		{"wait=foo", `step "wait=foo": unknown kind "wait": want expect=REGEX`},
		{"Expect=foo", `unknown kind "Expect"`},
		{"expect@soon=foo", `step "expect@soon=foo": bad timeout "soon" (want a duration like 90s or 2m)`},
		{"expect@0s=foo", `step "expect@0s=foo": timeout "0s" must be positive`},
		{"expect@-1s=foo", `timeout "-1s" must be positive`},
		{"expect=", `step "expect=": empty regular expression`},
		{"expect=a(b", `step "expect=a(b": invalid regular expression "a(b": error parsing regexp: missing closing ): ` + "`a(b`"},
		{"send@5s=ls", `step "send@5s=ls": only expect steps take a timeout`},
		{"sleep@5s=1s", `only expect steps take a timeout`},
		{"sleep=forever", `step "sleep=forever": bad sleep duration "forever" (want a duration like 2s or 500ms)`},
		{"sleep=", `bad sleep duration ""`},
		{"sleep=-2s", `step "sleep=-2s": sleep duration "-2s" is negative`},
	} {
		_, err := ParseStep(tc.in)
		if err == nil {
			t.Errorf("ParseStep(%q) succeeded, want error containing %q", tc.in, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseStep(%q) error\n%v\ndoes not contain\n%s", tc.in, err, tc.want)
		}
	}
}

func TestParseScript(t *testing.T) {
	script := "# boot to a shell\r\n" +
		"\n" +
		"   \t\n" +
		"expect@90s=\\$ \r\n" +
		"  send=uname -a\n" +
		"  # indented comment\n" +
		"sleep=1s\n" +
		"expect=Linux"
	got, err := ParseScript(strings.NewReader(script), "boot.script")
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Kind: "expect", Arg: `\$ `, Timeout: 90 * time.Second},
		{Kind: "send", Arg: "uname -a"},
		{Kind: "sleep", Arg: "1s"},
		{Kind: "expect", Arg: "Linux"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseScript = %+v\nwant %+v", got, want)
	}
}

func TestParseScriptErrors(t *testing.T) {
	_, err := ParseScript(strings.NewReader("# comment\nexpect=ok\n\nexpct=oops\n"), "boot.script")
	if err == nil || !strings.HasPrefix(err.Error(), `boot.script:4: step "expct=oops": unknown kind "expct"`) {
		t.Errorf("err = %v", err)
	}
	_, err = ParseScript(strings.NewReader("send=a\nexpect="+strings.Repeat("x", 2<<20)), "long")
	if err == nil || !strings.HasPrefix(err.Error(), "long:2: ") {
		t.Errorf("over-long line: err = %v", err)
	}
	_, err = ParseScript(io.MultiReader(strings.NewReader("send=a\n"), errReader{}), "broken")
	if err == nil || err.Error() != "broken:2: disk on fire" {
		t.Errorf("read error: err = %v", err)
	}
	steps, err := ParseScript(strings.NewReader(""), "empty")
	if err != nil || len(steps) != 0 {
		t.Errorf("empty script: %v, %v", steps, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// shell fakes a device: it prints a prompt and answers each input line.
func shell(in *bufio.Reader, out io.WriteCloser) {
	io.WriteString(out, "Welcome\r\n$ ")
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "exit" {
			out.Close()
			return
		}
		io.WriteString(out, line+"\r\nGOT:"+line+"\r\n$ ")
	}
}

func TestRun(t *testing.T) {
	c, out, in := pipeConsole(t)
	go shell(in, out)
	steps, err := ParseScript(strings.NewReader(`
expect=(?m)^\$ $
send=hello
expect@5s=(?m)^GOT:hello$
sleep=10ms
send=exit
`), "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background(), steps, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestRunFailingStep(t *testing.T) {
	c, out, in := pipeConsole(t)
	go shell(in, out)
	steps := []Step{
		{Kind: "expect", Arg: `\$ `},
		{Kind: "send", Arg: "hi"},
		{Kind: "expect", Arg: "GOT:bye", Timeout: 50 * time.Millisecond},
	}
	// The step's own timeout wins over the (long) default.
	start := time.Now()
	err := c.Run(context.Background(), steps, time.Hour)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("per-step timeout not used")
	}
	want := "script step 3 (expect@50ms=GOT:bye): timed out after 50ms waiting for \"GOT:bye\" on the console; last output:\nWelcome\n$ hi\nGOT:hi\n$ "
	if err.Error() != want {
		t.Errorf("error =\n%s\nwant\n%s", err, want)
	}
}

func TestRunDefaultTimeoutAndClosed(t *testing.T) {
	c, out, in := pipeConsole(t)
	go shell(in, out)
	err := c.Run(context.Background(), []Step{{Kind: "expect", Arg: "nope"}}, 30*time.Millisecond)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "after 30ms") {
		t.Errorf("err = %v", err)
	}
	err = c.Run(context.Background(), []Step{{Kind: "send", Arg: "exit"}, {Kind: "expect", Arg: "more"}}, time.Minute)
	if !errors.Is(err, ErrClosed) || !strings.HasPrefix(err.Error(), "script step 2 (expect=more): console closed") {
		t.Errorf("err = %v", err)
	}
}

func TestRunBadSteps(t *testing.T) {
	c, _, _ := pipeConsole(t)
	for _, tc := range []struct {
		step Step
		want string
	}{
		{Step{Kind: "expect", Arg: "("}, "script step 1 (expect=(): invalid regular expression"},
		{Step{Kind: "sleep", Arg: "x"}, "script step 1 (sleep=x): bad sleep duration"},
		{Step{Kind: "poke"}, "script step 1 (poke=): unknown kind"},
	} {
		err := c.Run(context.Background(), []Step{tc.step}, time.Second)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Run(%v) = %v, want %q", tc.step, err, tc.want)
		}
	}
}

func TestRunSleepCanceled(t *testing.T) {
	c, _, _ := pipeConsole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := c.Run(ctx, []Step{{Kind: "sleep", Arg: "1h"}}, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

func FuzzParseStep(f *testing.F) {
	for _, s := range []string{`expect=\$ `, "expect@90s=login:", "send=ls -l", "sleep=2s", "sleep=-1s", "expect=(", "x", "expect@=a", "send@1s=x", " expect @ 1h =a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStep(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "step ") {
				t.Errorf("error %q does not name the step", err)
			}
			return
		}
		switch st.Kind {
		case KindExpect, KindSend, KindSleep:
		default:
			t.Fatalf("ParseStep(%q) accepted kind %q", s, st.Kind)
		}
		// What ParseStep accepts prints back to something that parses to
		// the same step, so tools can log and replay scripts.
		again, err := ParseStep(st.String())
		if err != nil {
			t.Fatalf("ParseStep(%q).String() = %q does not parse: %v", s, st.String(), err)
		}
		if again != st {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, st)
		}
	})
}

func TestRunOuterDeadlineFirst(t *testing.T) {
	c, _, _ := pipeConsole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Run(ctx, []Step{{Kind: "expect", Arg: "x"}}, time.Hour)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "ms waiting for") || strings.Contains(err.Error(), "1h0m0s") {
		t.Errorf("err = %v, want a timeout after about 50ms", err)
	}
}
