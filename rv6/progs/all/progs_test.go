package all_test

import (
	"strings"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/loader"

	"github.com/rlgo/redleaf/rv6/progs/all"
	"github.com/rlgo/redleaf/rv6/rv6test"
)

// TestRegistered checks that every program of rv6/progs is registered
// with the loader, and nothing else but the harness's own.
func TestRegistered(t *testing.T) {
	got := map[string]bool{}
	for _, p := range loader.Programs() {
		got[p] = true
	}
	for _, p := range all.Programs {
		if !got[p] {
			t.Errorf("program %s is not registered", p)
		}
		delete(got, p)
	}
	for p := range got {
		if !strings.HasPrefix(p, "rv6test-") {
			t.Errorf("program %s is registered but not in all.Programs", p)
		}
	}
}

// A progCase runs one program on a fresh system, after putting files in
// place and running setup commands.
type progCase struct {
	name     string
	files    map[string]string // path -> contents; a path ending in "/" is a directory
	setup    [][]string        // commands run first, each must succeed
	argv     []string
	input    string
	stdin    bool     // type input (even if empty) and an end of input
	want     string   // the whole console output, unless contains is set
	contains []string // substrings of the output
	status   int
	after    [][]string // commands run after, each must succeed...
	afterOut []string   // ...with these outputs
}

func runCases(t *testing.T, cases []progCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20})
			for path, data := range c.files {
				if strings.HasSuffix(path, "/") {
					s.MustRun(t, "mkdir", "-p", path)
					continue
				}
				if i := strings.LastIndexByte(path, '/'); i > 0 {
					s.MustRun(t, "mkdir", "-p", path[:i])
				}
				s.WriteFile(t, path, data)
			}
			for _, cmd := range c.setup {
				s.MustRun(t, cmd[0], cmd[1:]...)
			}
			var out string
			var st idl.WaitStatus
			if c.input != "" || c.stdin {
				out, st = s.RunInput(t, c.input, c.argv[0], c.argv[1:]...)
			} else {
				out, st = s.Run(t, c.argv[0], c.argv[1:]...)
			}
			if !st.Exited || int(st.Status) != c.status {
				t.Errorf("%q: %+v, want exit status %d\n%s", c.argv, st, c.status, out)
			}
			if c.contains != nil {
				for _, sub := range c.contains {
					if !strings.Contains(out, sub) {
						t.Errorf("%q: output %q does not contain %q", c.argv, out, sub)
					}
				}
			} else if out != c.want {
				t.Errorf("%q:\n got %q\nwant %q", c.argv, out, c.want)
			}
			for i, cmd := range c.after {
				got := s.MustRun(t, cmd[0], cmd[1:]...)
				if i < len(c.afterOut) && got != c.afterOut[i] {
					t.Errorf("after, %q:\n got %q\nwant %q", cmd, got, c.afterOut[i])
				}
			}
		})
	}
}

func args(s string) []string { return strings.Fields(s) }

func TestText(t *testing.T) {
	lines12 := ""
	for i := 1; i <= 12; i++ {
		lines12 += strings.Repeat("x", i) + "\n"
	}
	f := map[string]string{"/f": "alpha beta\ngamma\n", "/g": "one\nTwo\nthree\n", "/l": lines12}
	runCases(t, []progCase{
		{name: "echo", argv: args("echo hello  world"), want: "hello world\n"},
		{name: "echo-n", argv: args("echo -n x y"), want: "x y"},
		{name: "echo-empty", argv: args("echo"), want: "\n"},

		{name: "cat", files: f, argv: args("cat /f"), want: "alpha beta\ngamma\n"},
		{name: "cat-two", files: f, argv: args("cat /f /g"), want: "alpha beta\ngamma\none\nTwo\nthree\n"},
		{name: "cat-stdin", argv: args("cat"), input: "typed\nlines\n", want: "typed\nlines\n"},
		{name: "cat-dash", files: f, argv: args("cat /g - /g"), input: "mid\n", want: "one\nTwo\nthree\nmid\none\nTwo\nthree\n"},
		{name: "cat-missing", files: f, argv: args("cat /x /g"), want: "cat: /x: no such file or directory\none\nTwo\nthree\n", status: 1},
		{name: "cat-dir", files: map[string]string{"/d/": ""}, argv: args("cat /d"), contains: []string{"cat: /d: is a directory"}, status: 1},
		{name: "cat-badopt", argv: args("cat -z"), want: "cat: unknown option -z\nusage: cat [FILE...]\n", status: 2},

		{name: "wc", files: f, argv: args("wc /f"), want: "2 3 17 /f\n"},
		{name: "wc-l", files: f, argv: args("wc -l /f"), want: "2 /f\n"},
		{name: "wc-wc", files: f, argv: args("wc -w -c /f"), want: "3 17 /f\n"},
		{name: "wc-stdin", argv: args("wc"), input: "a b c\nd\n", want: "2 4 8\n"},
		{name: "wc-total", files: f, argv: args("wc -l /f /g"), want: "2 /f\n3 /g\n5 total\n"},
		{name: "wc-missing", argv: args("wc /x"), want: "wc: /x: no such file or directory\n", status: 1},

		{name: "grep", files: f, argv: args("grep e /g"), want: "one\nthree\n"},
		{name: "grep-v", files: f, argv: args("grep -v e /g"), want: "Two\n"},
		{name: "grep-c", files: f, argv: args("grep -c e /g"), want: "2\n"},
		{name: "grep-i", files: f, argv: args("grep -i ^t /g"), want: "Two\nthree\n"},
		{name: "grep-n", files: f, argv: args("grep -n t /g"), want: "3:three\n"},
		{name: "grep-regexp", files: f, argv: []string{"grep", "^g?a[lm]+", "/f"}, want: "alpha beta\ngamma\n"},
		{name: "grep-files", files: f, argv: args("grep -in t /f /g"), want: "/f:1:alpha beta\n/g:2:Two\n/g:3:three\n"},
		{name: "grep-stdin", argv: args("grep b"), input: "abc\nxyz\n", want: "abc\n"},
		{name: "grep-none", files: f, argv: args("grep zzz /g"), want: "", status: 1},
		{name: "grep-badre", argv: []string{"grep", "(", "/g"}, contains: []string{"grep: bad pattern"}, status: 2},
		{name: "grep-missing", argv: args("grep a /x"), want: "grep: /x: no such file or directory\n", status: 2},
		{name: "grep-usage", argv: args("grep"), want: "usage: grep [-vcin] PATTERN [FILE...]\n", status: 2},

		{name: "head", files: f, argv: args("head /l"), want: strings.Join(strings.SplitAfter(lines12, "\n")[:10], "")},
		{name: "head-n", files: f, argv: args("head -n 2 /l"), want: "x\nxx\n"},
		{name: "head-n0", files: f, argv: args("head -n0 /l"), want: ""},
		{name: "head-files", files: f, argv: args("head -n 1 /f /g"), want: "==> /f <==\nalpha beta\n\n==> /g <==\none\n"},
		{name: "head-stdin", argv: args("head -n 1"), input: "a\nb\n", want: "a\n"},
		{name: "head-bad", argv: args("head -n x"), want: "head: bad line count \"x\"\nusage: head [-n N] [FILE...]\n", status: 2},
		{name: "tail", files: f, argv: args("tail /l"), want: strings.Join(strings.SplitAfter(lines12, "\n")[2:], "")},
		{name: "tail-n", files: f, argv: args("tail -n 2 /g"), want: "Two\nthree\n"},
		{name: "tail-more", files: f, argv: args("tail -n 20 /g"), want: "one\nTwo\nthree\n"},
		{name: "tail-nonl", argv: args("tail -n 1"), input: "a\nb", want: "b"},
		{name: "tail-missing", argv: args("tail /x"), want: "tail: /x: no such file or directory\n", status: 1},
	})
}

func TestFiles(t *testing.T) {
	f := map[string]string{"/a": "aaa\n", "/d/x": "xxx\n", "/d/sub/y": "yyy\n", "/e/": ""}
	runCases(t, []progCase{
		{name: "ls", files: f, argv: args("ls /"), want: "a\nd\ne\n"},
		{name: "ls-dir", files: f, argv: args("ls /d"), want: "sub\nx\n"},
		{name: "ls-a", files: map[string]string{"/.hidden": "", "/v": ""}, argv: args("ls -a /"), want: ".hidden\nv\n"},
		{name: "ls-hidden", files: map[string]string{"/.hidden": "", "/v": ""}, argv: args("ls /"), want: "v\n"},
		{name: "ls-file", files: f, argv: args("ls /a"), want: "/a\n"},
		{name: "ls-cwd", files: f, argv: args("ls"), want: "a\nd\ne\n"},
		{name: "ls-l", files: f, argv: args("ls -l /d"), contains: []string{"d ", " 2 4096 sub\n", "\n- ", " 1    4 x\n"}},
		{name: "ls-many", files: f, argv: args("ls /d /a /e"), want: "/a\n\n/d:\nsub\nx\n\n/e:\n"},
		{name: "ls-missing", argv: args("ls /x"), want: "ls: /x: no such file or directory\n", status: 1},

		{name: "mkdir", argv: args("mkdir /n /m"), want: "", after: [][]string{args("ls /")}, afterOut: []string{"m\nn\n"}},
		{name: "mkdir-p", argv: args("mkdir -p /p/q/r"), want: "", after: [][]string{args("ls /p/q")}, afterOut: []string{"r\n"}},
		{name: "mkdir-p-exists", files: f, argv: args("mkdir -p /d/sub"), want: ""},
		{name: "mkdir-p-file", files: f, argv: args("mkdir -p /a/b"), want: "mkdir: /a/b: not a directory\n", status: 1},
		{name: "mkdir-exists", files: f, argv: args("mkdir /d"), want: "mkdir: /d: file exists\n", status: 1},
		{name: "mkdir-noparent", argv: args("mkdir /x/y"), want: "mkdir: /x/y: no such file or directory\n", status: 1},
		{name: "mkdir-usage", argv: args("mkdir"), want: "usage: mkdir [-p] DIR...\n", status: 2},

		{name: "rmdir", files: f, argv: args("rmdir /e"), want: "", after: [][]string{args("ls /")}, afterOut: []string{"a\nd\n"}},
		{name: "rmdir-full", files: f, argv: args("rmdir /d"), want: "rmdir: /d: directory not empty\n", status: 1},
		{name: "rmdir-file", files: f, argv: args("rmdir /a"), want: "rmdir: /a: not a directory\n", status: 1},

		{name: "rm", files: f, argv: args("rm /a /d/x"), want: "", after: [][]string{args("ls / /d")}, afterOut: []string{"/:\nd\ne\n\n/d:\nsub\n"}},
		{name: "rm-missing", argv: args("rm /x"), want: "rm: /x: no such file or directory\n", status: 1},
		{name: "rm-f", argv: args("rm -f /x"), want: ""},
		{name: "rm-dir", files: f, argv: args("rm /d"), want: "rm: /d: is a directory\n", status: 1},
		{name: "rm-r", files: f, argv: args("rm -r /d /e"), want: "", after: [][]string{args("ls /")}, afterOut: []string{"a\n"}},
		{name: "rm-dot", files: f, argv: args("rm -rf /d/.."), want: "rm: /d/..: refusing to remove '.' or '..'\n", status: 1},
		{name: "rm-usage", argv: args("rm"), want: "usage: rm [-rf] FILE...\n", status: 2},

		{name: "ln", files: f, argv: args("ln /a /b"), want: "", after: [][]string{args("cat /b"), args("ls -l /a")}, afterOut: []string{"aaa\n"}},
		{name: "ln-dir", files: f, argv: args("ln /a /e"), want: "", after: [][]string{args("cat /e/a")}, afterOut: []string{"aaa\n"}},
		{name: "ln-exists", files: f, argv: args("ln /a /d/x"), want: "ln: /d/x: file exists\n", status: 1},
		{name: "ln-usage", argv: args("ln /a"), want: "usage: ln OLD NEW\n", status: 2},

		{name: "mv", files: f, argv: args("mv /a /b"), want: "", after: [][]string{args("ls /"), args("cat /b")}, afterOut: []string{"b\nd\ne\n", "aaa\n"}},
		{name: "mv-into", files: f, argv: args("mv /a /d/x /e"), want: "", after: [][]string{args("ls /e")}, afterOut: []string{"a\nx\n"}},
		{name: "mv-dir", files: f, argv: args("mv /d /e/d2"), want: "", after: [][]string{args("cat /e/d2/sub/y")}, afterOut: []string{"yyy\n"}},
		{name: "mv-missing", files: f, argv: args("mv /x /y"), want: "mv: /x: no such file or directory\n", status: 1},
		{name: "mv-notdir", files: f, argv: args("mv /a /d/x /z"), want: "mv: /z: not a directory\n", status: 1},

		{name: "cp", files: f, argv: args("cp /a /b"), want: "", after: [][]string{args("cat /b")}, afterOut: []string{"aaa\n"}},
		{name: "cp-over", files: f, argv: args("cp /a /d/x"), want: "", after: [][]string{args("cat /d/x")}, afterOut: []string{"aaa\n"}},
		{name: "cp-into", files: f, argv: args("cp /a /d/x /e"), want: "", after: [][]string{args("cat /e/a /e/x")}, afterOut: []string{"aaa\nxxx\n"}},
		{name: "cp-r", files: f, argv: args("cp -r /d /e"), want: "", after: [][]string{args("cat /e/d/sub/y")}, afterOut: []string{"yyy\n"}},
		{name: "cp-r-new", files: f, argv: args("cp -r /d /n"), want: "", after: [][]string{args("ls /n")}, afterOut: []string{"sub\nx\n"}},
		{name: "cp-r-self", files: f, argv: args("cp -r /d /d/sub"), want: "", after: [][]string{args("ls /d/sub/d")}, afterOut: []string{"sub\nx\n"}},
		{name: "cp-dir", files: f, argv: args("cp /d /n"), want: "cp: /d: is a directory (not copied; use -r)\n", status: 1},
		{name: "cp-same", files: f, argv: args("cp /a /a"), want: "cp: /a and /a are the same file\n", status: 1},
		{name: "cp-missing", argv: args("cp /x /y"), want: "cp: /x: no such file or directory\n", status: 1},

		{name: "touch", files: f, argv: args("touch /t /a"), want: "", after: [][]string{args("cat /t /a")}, afterOut: []string{"aaa\n"}},
		{name: "touch-nodir", argv: args("touch /x/y"), want: "touch: /x/y: no such file or directory\n", status: 1},

		{name: "stat", files: f, argv: args("stat /a /d"), contains: []string{"  File: /a\n  Type: file\n", " Links: 1\n  Size: 4\n", "  File: /d\n  Type: directory\n"}},
		{name: "stat-missing", argv: args("stat /x"), want: "stat: /x: no such file or directory\n", status: 1},
	})
}

func TestSystem(t *testing.T) {
	runCases(t, []progCase{
		{name: "ps", argv: args("ps"), contains: []string{"PID", "PPID", "STATE", "DOMAIN", "CMD", "ps\n"}},
		{name: "ps-usage", argv: args("ps x"), want: "usage: ps\n", status: 2},
		{name: "kill-nopid", argv: args("kill 999"), want: "kill: 999: no such process\n", status: 1},
		{name: "kill-domain", argv: args("kill nosuch"), contains: []string{"nosuch: killing a domain needs the admin capability"}, status: 1},
		{name: "kill-usage", argv: args("kill"), want: "usage: kill PID|DOMAIN...\n", status: 2},
		{name: "sleep", argv: args("sleep 0.01"), want: ""},
		{name: "sleep-bad", argv: args("sleep x"), want: "sleep: bad duration \"x\"\nusage: sleep SECONDS\n", status: 2},
		{name: "sleep-negative", argv: args("sleep -1"), contains: []string{"usage: sleep SECONDS"}, status: 2},
		{name: "uptime", argv: args("uptime"), contains: []string{"up ", ", 1 process\n"}},
		{name: "df", argv: args("df"), contains: []string{"DEVICE", "ramdisk", "buffer cache", "log commits"}},
		{name: "sync", argv: args("sync"), want: ""},
		{name: "lspci", argv: args("lspci"), want: rv6test.LspciOutput},
	})
}

// TestCrash: a program that panics is reported as failed, with its panic,
// and the system goes on.
func TestCrash(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20})
	out, st := s.Run(t, "crash", "about", "to", "crash")
	if st.Exited || st.Killed || !strings.Contains(st.Reason, "panicking on purpose") {
		t.Errorf("crash: %+v, want a failure reporting the panic", st)
	}
	if out != "about to crash\n" {
		t.Errorf("crash: output %q", out)
	}
	if out := s.MustRun(t, "echo", "still", "here"); out != "still here\n" {
		t.Errorf("after the crash: %q", out)
	}
}

// TestKillDomain kills a domain of the kernel by name through the
// monitor.
func TestKillDomain(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20})
	if _, err := s.M.Create("null"); err != nil {
		t.Skipf("no null domain kind to kill: %v", err)
	}
}
