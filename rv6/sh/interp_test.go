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

// lockedBuffer is a goroutine-safe output buffer (pipelines write from
// several goroutines).
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

// session runs the interactive loop on input and returns stdout, stderr,
// the status and the error Run returned.
func session(t *testing.T, input string, opts ...func(*Options)) (string, string, int, error) {
	t.Helper()
	var out, errb lockedBuffer
	o := Options{Stdin: strings.NewReader(input), Stdout: &out, Stderr: &errb}
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
	o.Registry = reg
	for _, f := range opts {
		f(&o)
	}
	s := New(o)
	st, err := s.Run(context.Background())
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
		{"echo", "\n", ""},
		{"foo", "", "sh: foo: command not found\n"},
		{"foo; echo $?", "127\n", "sh: foo: command not found\n"},
		{"true; echo $?; false; echo $?", "0\n1\n", ""},
		{"status 3; echo $? $?", "3 3\n", ""},
		{"status 300; echo $?", "44\n", ""},
		{"echo \"$?\"; false; echo \"s=$?\"", "0\ns=1\n", ""},
		{"X=hello; echo $X ${X}world \"$X\"", "hello helloworld hello\n", ""},
		{"echo [$UNSET] [\"$UNSET\"] $UNSET x", "[] [] x\n", ""},
		{"echo $UNSET | cat", "\n", ""},
		{"X='a   b'; echo $X; echo \"$X\"; echo x${X}y", "a b\na   b\nxa by\n", ""},
		{"X=' lead trail '; echo [$X]", "[ lead trail ]\n", ""},
		{"X=1 env X; echo [$X]", "X=1\n[]\n", ""},
		{"Y=2; Y=3 env Y; env Y", "Y=3\nY=2\n", ""},
		{"A=1 B=$A; echo $B", "\n", ""}, // assignments are expanded before any is made, as in bash
		{"echo $0 $#", "sh 0\n", ""},
		{"true && echo yes; false && echo no; false || echo or; true || echo never", "yes\nor\n", ""},
		{"false || false || echo third", "third\n", ""},
		{"true && false || echo recovered; echo $?", "recovered\n0\n", ""},
		{"foo || echo $?", "127\n", "sh: foo: command not found\n"},
		{"echo one | upper", "ONE\n", ""},
		{"echo a | cat | cat | upper", "A\n", ""},
		{"echo a | status 7; echo $?", "7\n", ""},
		{"echo a | status 7 | echo $?", "0\n", ""},
		{"status 7 | echo x; echo $?", "x\n0\n", ""},
		{"echo a;; echo b", "", "sh: syntax error: unexpected ';;' at 1:7\n"},
		{"echo 'open", "", "sh: syntax error: unterminated single quote at 1:6\n"},
		{"echo a &", "", "sh: background jobs (&) are not supported yet\n"},
		{"boom; echo after $?", "after 2\n", "sh: boom: panic: kaboom\n"},
		{"echo a | boom | cat; echo $?", "0\n", "sh: boom: panic: kaboom\n"},
		{"uname", "Linux\n", ""},
		{"uname -a", "Linux rl 6.1.0 #1 SMP x86_64\n", ""},
		{"uname -r; uname -m; uname -s; uname -sr; uname -m -n", "6.1.0\nx86_64\nLinux\nLinux 6.1.0\nrl x86_64\n", ""},
		{"uname --kernel-release", "6.1.0\n", ""},
		{"uname -x; echo $?", "1\n", "uname: invalid option -- 'x'\nusage: uname [-asnrvm]\n"},
		{"uname foo", "", "uname: extra operand \"foo\"\nusage: uname [-asnrvm]\n"},
		{"help echo uname", "echo: write the arguments to standard output (-n: no newline)\nuname: print system information\n", ""},
		{"help nothing; echo $?", "1\n", "help: no command \"nothing\"\n"},
		{"# just a comment", "", ""},
		{"", "", ""},
		{"echo a 2>&1 >&2 | cat", "a\n", ""},
		{"echo err >&2", "", "err\n"},
		{"echo a >&-; echo b", "b\n", ""},
		{"echo a 3>x", "", "sh: 3: bad file descriptor (only 0, 1 and 2)\n"},
		{"echo a >&7", "", "sh: 7: bad file descriptor\n"},
		{"exit 3 | cat; echo still here", "still here\n", ""},
		{"X=1 | cat; echo [$X]", "[]\n", ""},
	} {
		out, errs, _, _ := session(t, tc.in+"\n")
		out = strings.TrimSuffix(strings.TrimPrefix(out, "$ "), "$ \n")
		if out != tc.out || errs != tc.err {
			t.Errorf("%q:\nstdout %q, want %q\nstderr %q, want %q", tc.in, out, tc.out, errs, tc.err)
		}
	}
}

func TestHelpListsAll(t *testing.T) {
	out, _, st, _ := session(t, "help\n")
	for _, name := range []string{"echo", "help", "uname", "exit", "true", "false", "boom"} {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("help does not list %s:\n%s", name, out)
		}
	}
	if st != 0 {
		t.Errorf("status %d", st)
	}
}

func TestRealUname(t *testing.T) {
	var out strings.Builder
	s := New(Options{Stdout: &out})
	if st := s.Eval(context.Background(), "uname -s -r -m"); st != 0 {
		t.Fatalf("status %d", st)
	}
	u, err := SysUname()
	if err != nil {
		t.Fatal(err)
	}
	if want := u.Sysname + " " + u.Release + " " + u.Machine + "\n"; out.String() != want {
		t.Errorf("uname -s -r -m = %q, want %q", out.String(), want)
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
	_, errs, st, err := session(t, "exit foo\n")
	if st != 2 || err != nil || errs != "exit: foo: numeric argument required\n" {
		t.Errorf("exit foo: %d %v %q", st, err, errs)
	}
	_, errs, st, err = session(t, "exit 1 2\necho x\n")
	if st != 0 || err != io.EOF || !strings.Contains(errs, "too many arguments") {
		t.Errorf("exit 1 2: %d %v %q", st, err, errs)
	}
	out, _, st, err = session(t, "echo a; exit 4; echo b\n")
	if out != "$ a\n" || st != 4 || err != nil {
		t.Errorf("exit mid-line: %q %d %v", out, st, err)
	}
	_, _, st, err = session(t, "false && exit 9 || exit 8\n")
	if st != 8 || err != nil {
		t.Errorf("exit in and-or: %d %v", st, err)
	}
}

func TestEOF(t *testing.T) {
	out, errs, st, err := session(t, "")
	if out != "$ \n" || errs != "" || st != 0 || err != io.EOF {
		t.Errorf("empty input: %q %q %d %v", out, errs, st, err)
	}
	// The last line without a newline still runs; the status of the last
	// command is returned.
	out, _, st, err = session(t, "echo a\nfalse")
	if out != "$ a\n$ $ \n" || st != 1 || err != io.EOF {
		t.Errorf("unterminated last line: %q %d %v", out, st, err)
	}
}

func TestLineEndings(t *testing.T) {
	out, _, _, _ := session(t, "echo a\r\necho b\recho c\n\r\necho d\r")
	if out != "$ a\n$ b\n$ c\n$ $ d\n$ \n" {
		t.Errorf("got %q", out)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("console gone") }

func TestReadError(t *testing.T) {
	_, _, _, err := session(t, "", func(o *Options) { o.Stdin = errReader{} })
	if err == nil || err.Error() != "console gone" {
		t.Errorf("err = %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := New(Options{Stdin: strings.NewReader("echo a\n")})
	if _, err := s.Run(ctx); err != context.Canceled {
		t.Errorf("err = %v", err)
	}
}

func TestPanicDebugStack(t *testing.T) {
	_, errs, _, _ := session(t, "boom\n", func(o *Options) { o.Debug = true })
	if !strings.HasPrefix(errs, "sh: boom: panic: kaboom\n") || !strings.Contains(errs, "goroutine") {
		t.Errorf("stderr %q", errs)
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
	// Redirection alone creates the file.
	session(t, ">"+f+".new\n")
	if _, err := os.Stat(f + ".new"); err != nil {
		t.Error(err)
	}
}

func TestVarsAndEnv(t *testing.T) {
	s := New(Options{Env: []string{"HOME=/", "BAD-NAME=x", "NOEQ"}, Name: "rv6sh", Args: []string{"a", "b c"}})
	if v, ok := s.Var("HOME"); !ok || v != "/" {
		t.Errorf("HOME = %q %v", v, ok)
	}
	if _, ok := s.Var("BAD-NAME"); ok {
		t.Error("invalid name imported")
	}
	var out strings.Builder
	s2 := New(Options{Stdout: &out, Name: "rv6sh", Args: []string{"a", "b c"}})
	s2.SetVar("V", "v")
	s2.Eval(context.Background(), `echo $0 $# $1 "$2" $3 $@ $V $$`)
	if want := "rv6sh 2 a b c a b c v " + itoa(os.Getpid()) + "\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	var got []string
	reg := NewRegistry()
	reg.Register("show", "", Func(func(_ context.Context, p *Proc) int { got = p.Environ(); return 0 }))
	s3 := New(Options{Registry: reg, Env: []string{"B=2", "A=1"}})
	s3.Eval(context.Background(), "C=3 show")
	if strings.Join(got, ",") != "A=1,B=2,C=3" {
		t.Errorf("Environ = %v", got)
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	r.Register("b", "bee", Func(func(context.Context, *Proc) int { return 0 }))
	r.Register("a", "ay", nil)
	es := r.Entries()
	if len(es) != 2 || es[0].Name != "a" || es[1].Summary != "bee" {
		t.Errorf("Entries = %+v", es)
	}
	r.Unregister("a")
	if _, ok := r.Lookup("a"); ok {
		t.Error("a still registered")
	}
	var out strings.Builder
	r.Register("nil", "", nil)
	s := New(Options{Registry: r, Stdout: &out})
	if st := s.Eval(context.Background(), "nil"); st != 2 || !strings.Contains(out.String(), "sh: nil: panic: nil command") {
		t.Errorf("nil command: %d %q", st, out.String())
	}
	if s.Registry() != r {
		t.Error("Registry()")
	}
}

func TestProcHelpers(t *testing.T) {
	var p Proc
	if p.Name() != "" {
		t.Error("Name of no args")
	}
	p.Exit(1) // no exit function: no effect, no panic
}
