package sh

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics or hangs; what it accepts prints (String)
// to source that parses again, to the same canonical form; expansion of
// every word works. Run: go test -fuzz=FuzzParse ./rv6/sh
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"echo hi", "echo 'a b' \"c $d\" e\\ f", "a; b && c || d | e", "X=1 Y=\"$X\" cmd >f 2>&1 <g >>h",
		"echo ${x}y $? $$ $# $0 $1", "a &", "echo \"unterminated", "echo 'x", "echo \\", "${", "${}", "$(x)",
		"`x`", "(a)", "a )", "cat <<EOF", ";;", "a\\\nb", "\"a\\\nb\"", "# comment\necho x # y", "2>x 3<y 4>&- <&0",
		"\r\n\t", "\x00\xff", "é \\é '日本'", "a=b=c", "\"\"$x", "a\"\"b", "''", "echo $ $% a$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		l, err := Parse(src)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Parse took %v", d)
		}
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", src, err, err)
			}
			return
		}
		s1 := l.String()
		l2, err := Parse(s1)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", src, s1, err)
		}
		if d1, d2 := dump(l), dump(l2); d1 != d2 {
			t.Fatalf("%q and its String %q differ:\n%s\n%s", src, s1, d1, d2)
		}
	})
}

// dump describes what l does: its structure and the expansion of every
// word (with values that contain blanks, to check field splitting).
func dump(l *List) string {
	look := func(name string) string { return " v " + name + "  " }
	var b strings.Builder
	words := func(ws []Word) {
		for _, w := range ws {
			fmt.Fprintf(&b, " %q", expandFields(w, look))
		}
	}
	for _, st := range l.Stmts {
		fmt.Fprintf(&b, "stmt bg=%v:", st.Background)
		pls := []*Pipeline{st.AndOr.First}
		for _, r := range st.AndOr.Rest {
			fmt.Fprintf(&b, " %v", r.Op)
			pls = append(pls, r.Pipeline)
		}
		for _, pl := range pls {
			b.WriteString("\n pipeline:")
			for _, c := range pl.Cmds {
				b.WriteString("\n  cmd:")
				for _, a := range c.Assigns {
					fmt.Fprintf(&b, " %s=%q", a.Name, expandString(a.Value, look))
				}
				words(c.Args)
				for _, r := range c.Redirs {
					fmt.Fprintf(&b, " %d%v%q", r.Fd, r.Op, expandString(r.Target, look))
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// FuzzShell runs fuzzed input through the interpreter with the builtins:
// no panic may escape, and the shell always ends.
func FuzzShell(f *testing.F) {
	for _, s := range []string{"echo hi\n", "exit 3\n", "false; echo $?\r\n", "help\n", "uname -a | echo\n", "x", "echo a >&2 | echo b\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		if strings.ContainsAny(input, "<>") {
			return // no files from fuzz input
		}
		var out lockedBuffer
		s := New(Options{Stdin: strings.NewReader(input), Stdout: &out})
		s.Run(context.Background())
	})
}
