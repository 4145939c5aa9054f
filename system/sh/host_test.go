package sh

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a goroutine-safe output buffer (commands run on
// goroutines of their own).
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var fakeUname = UnameCommand(func() (UnameInfo, error) {
	return UnameInfo{"Linux", "rl", "6.1.0", "#1 SMP", "x86_64"}, nil
})

func testRegistry() *Registry {
	reg := Builtins()
	reg.Register("uname", "print system information", fakeUname)
	reg.Register("boom", "panic", Func(func(context.Context, *Proc) int { panic("kaboom") }))
	reg.Register("status", "exit with $1", Func(func(_ context.Context, p *Proc) int {
		n := 0
		for _, c := range p.Args[1] {
			n = n*10 + int(c-'0')
		}
		return n
	}))
	reg.Register("cat", "copy stdin", Func(func(_ context.Context, p *Proc) int {
		if _, err := io.Copy(p.Stdout, p.Stdin); err != nil {
			p.Errorf("%v", err)
			return 1
		}
		return 0
	}))
	reg.Register("env", "print a variable", Func(func(_ context.Context, p *Proc) int {
		for _, a := range p.Args[1:] {
			p.Printf("%s=%s\n", a, p.Getenv(a))
		}
		return 0
	}))
	reg.Register("upper", "upper-case stdin", Func(func(_ context.Context, p *Proc) int {
		b, _ := io.ReadAll(p.Stdin)
		p.Printf("%s", strings.ToUpper(string(b)))
		return 0
	}))
	return reg
}

// session runs the interactive loop on input and returns stdout, stderr,
// the status and the error Console returned.
func session(t *testing.T, input string, opts ...func(*HostOptions)) (string, string, int, error) {
	t.Helper()
	var out, errb lockedBuffer
	in := NewLineReader(strings.NewReader(input))
	o := HostOptions{Registry: testRegistry(), Stdin: in, Stdout: &out, Stderr: &errb}
	for _, f := range opts {
		f(&o)
	}
	st, err := Console(NewHost(o), in, &out, nil)
	return out.String(), errb.String(), st, err
}

func TestRunEcho(t *testing.T) {
	out, errs, st, err := session(t, "echo hi\n")
	if out != "$ hi\n$ \n" || errs != "" || st != 0 || err != io.EOF {
		t.Errorf("got %q %q %d %v", out, errs, st, err)
	}
}

func TestRunTable(t *testing.T) {
	for _, tc := range []struct {
		in, out, err string
	}{
		{"echo hi", "hi\n", ""},
		{"echo -n a; echo b", "ab\n", ""},
		{"echo 'a  b'   c\\ \\ d \"e  f\"", "a  b c  d e  f\n", ""},
		{"foo; echo $?", "127\n", "sh: foo: command not found\n"},
		{"true; echo $?; false; echo $?", "0\n1\n", ""},
		{"status 3; echo $? $?", "3 3\n", ""},
		{"status 300; echo $?", "44\n", ""},
		{"X=hello; echo $X ${X}world \"$X\"", "hello helloworld hello\n", ""},
		{"X=1 env X; echo [$X]", "X=1\n[]\n", ""},
		{"true && echo yes; false && echo no; false || echo or", "yes\nor\n", ""},
		{"echo one | upper", "ONE\n", ""},
		{"echo a | cat | cat | upper", "A\n", ""},
		{"echo a | status 7; echo $?", "7\n", ""},
		{"echo a;; echo b", "", "sh: syntax error: unexpected ';;' at 1:7\n"},
		{"boom; echo after $?", "after 2\n", "sh: boom: crashed: panic: kaboom\n"},
		{"echo a | boom | cat; echo $?", "0\n", "sh: boom: crashed: panic: kaboom\n"},
		{"status 4 & wait $!; echo $?", "4\n", "[1] 1\n"},
		{"uname -a", "Linux rl 6.1.0 #1 SMP x86_64\n", ""},
		{"uname -x; echo $?", "1\n", "uname: invalid option -- 'x'\nusage: uname [-asnrvm]\n"},
		{"commands echo uname", "echo: write the arguments to standard output (-n: no newline)\nuname: print system information\n", ""},
		{"echo err >&2", "", "err\n"},
		{"echo a 2>&1 >&2 | cat", "a\n", ""},
		{"echo a >&7", "", "sh: 7: bad file descriptor\n"},
		{"exit 3 | cat; echo still here", "still here\n", ""},
		{"grant admin echo x; echo $?", "126\n", "sh: grant: admin: this shell does not hold it, so it cannot pass it on (it holds: none)\n"},
	} {
		out, errs, _, _ := session(t, tc.in+"\n")
		out = strings.TrimSuffix(strings.TrimPrefix(out, "$ "), "$ \n")
		if out != tc.out || errs != tc.err {
			t.Errorf("%q:\nstdout %q, want %q\nstderr %q, want %q", tc.in, out, tc.out, errs, tc.err)
		}
	}
}

func TestExit(t *testing.T) {
	out, _, st, err := session(t, "echo a\nexit 3\necho never\n")
	if out != "$ a\n$ " || st != 3 || err != nil {
		t.Errorf("got %q %d %v", out, st, err)
	}
	_, _, st, err = session(t, "false\nexit\n")
	if st != 1 || err != nil {
		t.Errorf("exit after false: %d %v", st, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("console gone") }

func TestReadError(t *testing.T) {
	var out lockedBuffer
	in := NewLineReader(errReader{})
	_, err := Console(NewHost(HostOptions{Stdin: in, Stdout: &out}), in, &out, nil)
	if err == nil || err.Error() != "console gone" {
		t.Errorf("err = %v", err)
	}
}

func TestCommandReadsRestOfInput(t *testing.T) {
	out, _, _, _ := session(t, "cat\nline two\nline three\n")
	if out != "$ line two\nline three\n$ \n" {
		t.Errorf("got %q", out)
	}
}

func TestFileRedirection(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "out")
	script := "echo one >@F; echo two >>@F; cat <@F | upper; echo three 2>&1 >@F; cat <@F >&2; cat <" + dir + "/missing"
	out, errs, _, _ := session(t, strings.ReplaceAll(script, "@F", f)+"\n")
	if out != "$ ONE\nTWO\n$ \n" {
		t.Errorf("stdout %q", out)
	}
	if want := "three\nsh: " + dir + "/missing: no such file or directory\n"; errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	b, _ := os.ReadFile(f)
	if string(b) != "three\n" {
		t.Errorf("file %q", b)
	}
}

// Names the registry lacks go to the fallback (the initramfs's programs,
// only in the kernel's own console shell).
func TestFallback(t *testing.T) {
	fb := func(name string) (Command, bool) {
		if name != "/bbin/x" {
			return nil, false
		}
		return Func(func(_ context.Context, p *Proc) int { p.Printf("from /bbin\n"); return 0 }), true
	}
	out, errs, _, _ := session(t, "/bbin/x; /bbin/y\n", func(o *HostOptions) { o.Fallback = fb })
	if out != "$ from /bbin\n$ \n" || errs != "sh: /bbin/y: command not found\n" {
		t.Errorf("got %q %q", out, errs)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	r.Register("b", "bee", Func(func(context.Context, *Proc) int { return 0 }))
	r.RegisterView("a", "ay", nil)
	es := r.Entries()
	if len(es) != 2 || es[0].Name != "a" || !es[0].View || es[1].View || es[1].Summary != "bee" {
		t.Errorf("Entries = %+v", es)
	}
	r.Unregister("a")
	if _, ok := r.Lookup("a"); ok {
		t.Error("a still registered")
	}
}
