package syntax

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics or hangs; what it accepts prints (String)
// to source that parses again, to the same canonical form; expansion of
// every word works. Run: go test -fuzz=FuzzParse ./shell/syntax
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"echo hi", "echo 'a b' \"c $d\" e\\ f", "a; b && c || d | e", "X=1 Y=\"$X\" cmd >f 2>&1 <g >>h",
		"echo ${x}y $? $$ $# $0 $1", "a &", "echo \"unterminated", "echo 'x", "echo \\", "${", "${}", "$(x)",
		"`x`", "(a)", "a )", "cat <<EOF", ";;", "a\\\nb", "\"a\\\nb\"", "# comment\necho x # y", "2>x 3<y 4>&- <&0",
		"\r\n\t", "\x00\xff", "é \\é '日本'", "a=b=c", "\"\"$x", "a\"\"b", "''", "echo $ $% a$",
		"sleep 1 &\njobs; wait %1", "a && b &", "cat <in >out 2>&1 | wc -l >>log", "cmd 2>&- 7<x 3>>y",
		"A=1 B='x y' env", "X=1", "echo $$ $! ${HOME}/x \"${10}\"", "echo a | | b", "a |\n b", "a &&",
		"echo 'it'\\''s'", "#!/bin/sh\necho hi # there", "a;;", "a & & b", "echo ${a-b}", "9999999999999999999>x",
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
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", src, err, err)
			}
			if se.Pos.Line < 1 || se.Pos.Col < 1 || se.Msg == "" {
				t.Fatalf("Parse(%q): error %q at %v", src, se.Msg, se.Pos)
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
			fmt.Fprintf(&b, " %q", ExpandFields(w, look))
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
					fmt.Fprintf(&b, " %s=%q", a.Name, ExpandString(a.Value, look))
				}
				words(c.Args)
				for _, r := range c.Redirs {
					fmt.Fprintf(&b, " %d%v%q", r.Fd, r.Op, ExpandString(r.Target, look))
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
