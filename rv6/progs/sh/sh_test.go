package sh_test

import (
	"regexp"
	"strings"
	"testing"
)

// One system runs every case of a table, one sh -c each: booting one per
// case would cost more than the cases.
func TestScripts(t *testing.T) {
	s := newSystem(t)
	for _, tc := range []struct {
		name, src, out string
		status         int
	}{
		{"echo", "echo hello world", "hello world\n", 0},
		{"pipeline", "echo one two | cat | cat", "one two\n", 0},
		{"pipeline into grep", "echo apple; echo banana | grep an", "apple\nbanana\n", 0},
		{"pipeline status is the last's", "echo x | grep y", "", 1},
		{"word count", "echo a b c | wc -w", "3\n", 0},
		{"redirect out and in", "echo hi >/f1; cat </f1", "hi\n", 0},
		{"truncate", "echo long line >/f2; echo s >/f2; cat /f2", "s\n", 0},
		{"append", "echo a >/f3; echo b >>/f3; echo c >>/f3; cat /f3", "a\nb\nc\n", 0},
		{"2>&1 into a file", "cat /nosuch >/f4 2>&1; echo $?; cat /f4", "1\ncat: /nosuch: no such file or directory\n", 0},
		{"2>&1 into a pipe", "cat /nosuch 2>&1 | grep -c nosuch", "1\n", 0},
		{"2> alone", "cat /nosuch 2>/f5; cat /f5", "cat: /nosuch: no such file or directory\n", 0},
		{"missing input file", "cat </nosuch; echo $?", "sh: /nosuch: no such file or directory\n1\n", 0},
		{">&- closes", "echo x >&-; echo $?", "echo: write error: bad file descriptor\n1\n", 0},
		{"&& and ||", "false && echo no; true && echo yes; false || echo or; true || echo no", "yes\nor\n", 0},
		{"&& || chain", "false && echo a || echo b && echo c", "b\nc\n", 0},
		{"$?", "false; echo $?; true; echo $?", "1\n0\n", 0},
		{"status of the script", "false", "", 1},
		{"quoting", `echo 'a  b' "c  $HOME" d\ \ e`, "a  b c  / d  e\n", 0},
		{"args are words", `testargs 'x y' "" z`, "1:[x y]\n2:[]\n3:[z]\n", 0},
		{"field splitting", `V='p  q'; testargs $V "$V"`, "1:[p]\n2:[q]\n3:[p  q]\n", 0},
		{"${VAR} and $$", `V=in; echo ${V}side; test_pid=$$; echo ${test_pid}x | grep -c '^[0-9][0-9]*x$'`, "inside\n1\n", 0},
		{"variables stay in the shell", "FOO=bar; echo [$FOO]; testenv | grep -c FOO", "[bar]\n0\n", 1},
		{"export", "FOO=bar; export FOO; testenv | grep FOO", "FOO=bar\n", 0},
		{"export NAME=value", "export A1=x B1=y; testenv | grep 1=", "A1=x\nB1=y\n", 0},
		{"prefix assignments", "BAZ=qux testenv | grep BAZ; echo [$BAZ]", "BAZ=qux\n[]\n", 0},
		{"unset", "export U=1; unset U; echo [$U]; testenv | grep -c U=", "[]\n0\n", 1},
		{"set lists variables", "Z9='a b'; set | grep Z9", "Z9='a b'\n", 0},
		{"comments", "echo a # not this\n# nor this\necho b", "a\nb\n", 0},
		{"exit", "echo a; exit 3; echo b", "a\n", 3},
		{"exit without status", "false; exit", "", 1},
		{"exit in a pipeline does not exit", "exit 4 | cat; echo still", "still\n", 0},
		{"cd and pwd", "mkdir /d; cd /d; pwd; cd; pwd; cd -", "/d\n/\n/d\n", 0},
		{"cd to nowhere", "cd /nowhere; echo $?", "sh: cd: /nowhere: no such file or directory\n1\n", 0},
		{"builtin output redirected", "pwd >/f6; cat /f6", "/\n", 0},
		{"builtin in a pipeline", "pwd | cat", "/\n", 0},
		{"unknown command", "nosuchcmd a; echo $?", "sh: nosuchcmd: command not found\n127\n", 0},
		{"unknown command in a pipeline", "nosuchcmd | cat; echo $?", "sh: nosuchcmd: command not found\n0\n", 0},
		{"unknown command, stderr redirected", "nosuchcmd 2>/f7; cat /f7", "sh: nosuchcmd: command not found\n", 0},
		{"monitor command", "domains | grep -c '^rv6 '; fails; echo $?", "1\n5\n", 0},
		{"syntax error", "echo a | | b", "sh: syntax error: unexpected '|' at 1:10\n", 2},
		{"unterminated quote", "echo 'a", "sh: syntax error: unterminated single quote at 1:6\n", 2},
		{"true and false", "true; echo $?; false; echo $?", "0\n1\n", 0},
	} {
		out, status := s.sh(tc.src)
		if out != tc.out || status != tc.status {
			t.Errorf("%s: sh -c %q:\n got %q, status %d\nwant %q, status %d", tc.name, tc.src, out, status, tc.out, tc.status)
		}
	}
}

// A program that panics is reported, with its status, and the shell goes
// on.
func TestCrashingChild(t *testing.T) {
	s := newSystem(t)
	out, status := s.sh("crash boom; echo after $?; crash | cat; echo still here")
	if status != 0 {
		t.Errorf("status %d", status)
	}
	re := regexp.MustCompile(`^boom\nsh: crash: crashed: .*panicking on purpose.*\nafter 134\nsh: crash: crashed: .*\nstill here\n$`)
	if !re.MatchString(out) {
		t.Errorf("output %q does not match %s", out, re)
	}
}

func TestKilledChild(t *testing.T) {
	s := newSystem(t)
	out, _ := s.sh("sleep 30 & kill $!; wait $!; echo $?")
	want(t, "output", out, "sh: sleep 30: Killed\n137\n")
}

func TestScriptFile(t *testing.T) {
	s := newSystem(t)
	script := `# a script
echo "$0 has $# args: $1, $2"
for_status=$1
testargs "$@"
exit 7
echo not reached
`
	// Write the script through the shell itself, a line at a time.
	var src strings.Builder
	src.WriteString(": >/x.sh\n")
	for _, line := range strings.Split(strings.TrimSuffix(script, "\n"), "\n") {
		src.WriteString("echo '" + strings.ReplaceAll(line, "'", `'\''`) + "' >>/x.sh\n")
	}
	if out, st := s.sh(strings.Replace(src.String(), ": >/x.sh", "true >/x.sh", 1)); st != 0 || out != "" {
		t.Fatalf("writing the script: %q %d", out, st)
	}
	out, ws := s.run("", "sh", "/x.sh", "one", "two words")
	want(t, "output", out, "/x.sh has 2 args: one, two words\n1:[one two words]\n")
	if !ws.Exited || ws.Status != 7 {
		t.Errorf("status %+v, want exit 7", ws)
	}

	out, ws = s.run("", "sh", "/nosuch.sh")
	want(t, "missing script", out, "sh: /nosuch.sh: no such file or directory\n")
	if ws.Status != 127 {
		t.Errorf("missing script: status %d", ws.Status)
	}

	s.sh("echo 'echo ok; echo | | x' >/bad.sh")
	out, ws = s.run("", "sh", "/bad.sh")
	want(t, "script with a syntax error", out, "sh: /bad.sh: syntax error: unexpected '|' at 1:17\n")
	if ws.Status != 2 {
		t.Errorf("bad script: status %d", ws.Status)
	}

	out, _ = s.run("", "sh", "-c", `echo "$0 $1"`, "name", "arg")
	want(t, "sh -c with $0", out, "name arg\n")
}

func TestBackgroundJobs(t *testing.T) {
	s := newSystem(t)
	out, st := s.sh("sleep 0.2 & echo started; jobs; wait; echo waited $?; jobs")
	want(t, "jobs and wait", out, "started\n[1] Running  sleep 0.2\nwaited 0\n")
	if st != 0 {
		t.Errorf("status %d", st)
	}
	out, _ = s.sh("sleep 0.1 | cat & false & wait %1; echo $?; wait %2; echo $?; wait %3")
	want(t, "wait %N", out, "0\n1\nsh: wait: %3: no such job\n")
	out, _ = s.sh("echo bg >/bg & fg; cat /bg")
	want(t, "fg", out, "echo bg >/bg\nbg\n")
	out, _ = s.sh("true && echo list >/l & wait; cat /l")
	want(t, "an and-or list in the background", out, "list\n")
}

// The interactive shell on the console: the prompt, the line editor,
// history, job notices, ^C and ^D.
func TestInteractive(t *testing.T) {
	s := newSystem(t)
	input := "echo hx\x7fi\r" + // backspace
		"ech\x01\x05o there\r" + // ctrl-A, ctrl-E
		"garbage\x03" + // ctrl-C
		"echo $?\r" +
		"\x1b[A\x1b[A\r" + // up, up: echo there
		"sleep 0 &\r" +
		"sleep 0.2\r" +
		"echo 'multi\rline'\r" + // a continuation line
		"nosuch\r" +
		"echo | | x\r" + // a syntax error: reported, the shell goes on
		"history\r" +
		"\x04" // ctrl-D: exit
	out, ws := s.run(input, "sh")
	if !ws.Exited || ws.Status != 0 {
		t.Errorf("ended with %+v, want status 0 (the last command's)", ws)
	}
	// What a person sees, the line editor's redrawing aside.
	plain := regexp.MustCompile("\r|\x1b\\[[0-9;]*[A-Za-z]").ReplaceAllString(out, "")
	for _, w := range []string{
		"$ echo hi\nhi\n",
		"there\n",
		"$ garbage^C\n$ echo $?\n130\n",
		"echo there\nthere\n",
		"[1] ", // [1] PID
		"[1] Done  sleep 0\n",
		"> line'\nmulti\nline\n",
		"sh: nosuch: command not found\n",
		"sh: syntax error: unexpected '|' at 1:8\n",
		"    1  echo hi\n    2  echo there\n    3  echo $?\n    4  echo there\n    5  sleep 0 &\n    6  sleep 0.2\n    7  echo 'multi\nline'\n    8  nosuch\n    9  echo | | x\n   10  history\n",
	} {
		if !strings.Contains(plain, w) {
			t.Errorf("the console shows\n%s\nwithout %q", plain, w)
		}
	}
	if strings.Count(plain, "$ ") < 10 {
		t.Errorf("prompts: %q", plain)
	}
}

// Input that is not the console is read plainly: no prompt, no echo.
func TestStdinNotConsole(t *testing.T) {
	s := newSystem(t)
	out, st := s.sh("echo 'echo from a file; false' >/cmds; sh </cmds; echo $?; echo 'echo piped' | sh")
	want(t, "output", out, "from a file\n1\npiped\n")
	out, _ = s.sh("echo 'echo a' >/c2; echo 'echo | | b' >>/c2; echo 'echo not run' >>/c2; sh </c2; echo $?")
	want(t, "a syntax error ends a shell reading a file", out, "a\nsh: syntax error: unexpected '|' at 1:8\n2\n")
	if st != 0 {
		t.Errorf("status %d", st)
	}
}

func TestHelp(t *testing.T) {
	s := newSystem(t)
	out, st := s.sh("help; help cd nosuch")
	if st != 1 {
		t.Errorf("status %d", st)
	}
	contains(t, "help", out, "Builtins:", "  cd ", "  jobs ", "Programs:", " cat ", " sh ", "kernel's monitor",
		"cd: change the working directory", "sh: help: nosuch: not a builtin")
}
