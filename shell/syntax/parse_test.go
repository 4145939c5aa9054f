package syntax

import (
	"reflect"
	"strings"
	"testing"
)

func lit(s string) Part    { return Part{Kind: Lit, Text: s} }
func qlit(s string) Part   { return Part{Kind: Lit, Text: s, Quoted: true} }
func param(s string) Part  { return Part{Kind: Param, Text: s} }
func qparam(s string) Part { return Part{Kind: Param, Text: s, Quoted: true} }
func w(parts ...Part) Word { return Word{Parts: parts} }
func lw(s string) Word     { return w(lit(s)) }

// simple builds a one-statement list of one simple command of words.
func simple(words ...Word) *List {
	return &List{Stmts: []*Stmt{{AndOr: &AndOr{First: &Pipeline{Cmds: []*Cmd{{Args: words}}}}}}}
}

// stripPos clears the positions so that ASTs compare by structure.
func stripPos(l *List) *List {
	for _, st := range l.Stmts {
		pls := []*Pipeline{st.AndOr.First}
		for _, r := range st.AndOr.Rest {
			pls = append(pls, r.Pipeline)
		}
		for _, pl := range pls {
			for _, c := range pl.Cmds {
				c.Pos = Pos{}
				for i := range c.Args {
					c.Args[i].Pos = Pos{}
				}
				for i := range c.Assigns {
					c.Assigns[i].Value.Pos = Pos{}
				}
				for i := range c.Redirs {
					c.Redirs[i].Target.Pos = Pos{}
				}
			}
		}
	}
	return l
}

func TestParseWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *List
	}{
		{"echo hi", simple(lw("echo"), lw("hi"))},
		{"  echo\t  hi  ", simple(lw("echo"), lw("hi"))},
		{"echo 'a b' \"c d\"", simple(lw("echo"), w(qlit("a b")), w(qlit("c d")))},
		{`echo a'b'"c"d`, simple(lw("echo"), w(lit("a"), qlit("bc"), lit("d")))},
		{`echo '' ""`, simple(lw("echo"), w(qlit("")), w(qlit("")))},
		{`echo a\ b \$x \\ \'`, simple(lw("echo"), w(lit("a"), qlit(" "), lit("b")), w(qlit("$"), lit("x")), w(qlit(`\`)), w(qlit("'")))},
		{`echo '$x \n "q"'`, simple(lw("echo"), w(qlit(`$x \n "q"`)))},
		{`echo "a\"b\\c\$d\e"`, simple(lw("echo"), w(qlit(`a"b\c$d\e`)))},
		{"echo a\\\nb", simple(lw("echo"), lw("ab"))},
		{"echo \"a\\\nb\"", simple(lw("echo"), w(qlit("ab")))},
		{`echo \é`, simple(lw("echo"), w(qlit("é")))},
		{"echo $x ${y}z $? $$ $# $0 $12", simple(lw("echo"), w(param("x")), w(param("y"), lit("z")), w(param("?")), w(param("$")), w(param("#")), w(param("0")), w(param("1"), lit("2")))},
		{`echo "$x-${y}" "$?"`, simple(lw("echo"), w(qparam("x"), qlit("-"), qparam("y")), w(qparam("?")))},
		{`echo $ a$ "$" $%`, simple(lw("echo"), lw("$"), lw("a$"), w(qlit("$")), lw("$%"))},
		{`echo ""$x`, simple(lw("echo"), w(param("x"), qlit("")))},
		{`echo a""b`, simple(lw("echo"), lw("ab"))},
		{"echo ${10}", simple(lw("echo"), w(param("10")))},
		{"echo a#b # a comment", simple(lw("echo"), lw("a#b"))},
		{"echo é日本", simple(lw("echo"), lw("é日本"))},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(stripPos(got), tc.want) {
			t.Errorf("Parse(%q) =\n%#v\nwant\n%#v", tc.in, got.Stmts[0].AndOr.First.Cmds[0], tc.want.Stmts[0].AndOr.First.Cmds[0])
		}
	}
}

// TestParseStructure checks the statement structure through the
// canonical String form.
func TestParseStructure(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   \n\n  # only a comment\n", ""},
		{"a;b", "a; b"},
		{"a ; b ;", "a; b"},
		{"a\nb\n\nc", "a; b; c"},
		{"a && b || c", "a && b || c"},
		{"a &&\n b", "a && b"},
		{"a | b | c", "a | b | c"},
		{"a |\n b", "a | b"},
		{"a & b", "a & b"},
		{"a > f < g >> h 2>&1 2> e 0<&- 12>x", "a >f <g >>h 2>&1 2>e <&- 12>x"},
		{"a >'my file' 2>\"$f\"", `a >"my file" 2>"${f}"`},
		{"echo 2>f 2 >g", "echo 2 2>f >g"},
		{"X=1 Y= Z='a b' cmd arg", `X=1 Y= Z="a b" cmd arg`},
		{"X=1", "X=1"},
		{"cmd X=1", "cmd X=1"},
		{`"X"=1 a\=b`, `"X"=1 a"="b`},
		{"X=$y${z}w", "X=${y}${z}w"},
		{"a;b&&c|d", "a; b && c | d"},
		{">f", ">f"},
		{"a && b &", "a && b &"},
		{"a & b & c", "a & b & c"},
		{"a&b", "a & b"},
		{"a&&b||c&", "a && b || c &"},
		{"sleep 1 &\njobs", "sleep 1 & jobs"},
		{"cat <in >out 2>&1", "cat <in >out 2>&1"},
		{"cat >>log 2>>err", "cat >>log 2>>err"},
		{"cmd 2>&1 | wc", "cmd 2>&1 | wc"},
		{"cmd >&2", "cmd >&2"},
		{"cmd 1>f 0<g", "cmd >f <g"},
		{"echo $$ ${HOME}/x $?", "echo ${$} ${HOME}/x ${?}"},
		{"echo hi # comment ; not a command", "echo hi"},
		{"# all comment\necho a # b\n# c\necho d", "echo a; echo d"},
		{"A=1 B=2", "A=1 B=2"},
		{"A=1 env >f", "A=1 env >f"},
		{"A='x y' B=\"$A\"", `A="x y" B="${A}"`},
		{"echo A=1", "echo A=1"},
		{"1A=x", "1A=x"},
		{"a|b&&c;d&", "a | b && c; d &"},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if s := got.String(); s != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, s, tc.want)
		}
	}
}

func TestParseAssignAndRedir(t *testing.T) {
	l, err := Parse(`A=1 B="x $y" cmd 2>>log <in`)
	if err != nil {
		t.Fatal(err)
	}
	c := stripPos(l).Stmts[0].AndOr.First.Cmds[0]
	wantAssigns := []Assign{{"A", lw("1")}, {"B", w(qlit("x "), qparam("y"))}}
	if !reflect.DeepEqual(c.Assigns, wantAssigns) {
		t.Errorf("assigns %#v", c.Assigns)
	}
	wantRedirs := []Redir{{Fd: 2, Op: RedirAppend, Target: lw("log")}, {Fd: 0, Op: RedirIn, Target: lw("in")}}
	if !reflect.DeepEqual(c.Redirs, wantRedirs) {
		t.Errorf("redirs %#v", c.Redirs)
	}
	if !reflect.DeepEqual(c.Args, []Word{lw("cmd")}) {
		t.Errorf("args %#v", c.Args)
	}
}

func TestParsePositions(t *testing.T) {
	l, err := Parse("a\n  bc  'd'")
	if err != nil {
		t.Fatal(err)
	}
	c := l.Stmts[1].AndOr.First.Cmds[0]
	if c.Pos != (Pos{2, 3}) || c.Args[1].Pos != (Pos{2, 7}) {
		t.Errorf("positions %v %v", c.Pos, c.Args[1].Pos)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in         string
		msg        string
		pos        Pos
		incomplete bool
	}{
		{";", "unexpected ';'", Pos{1, 1}, false},
		{"a;;b", "unexpected ';;'", Pos{1, 2}, false},
		{"a ; ; b", "unexpected ';'", Pos{1, 5}, false},
		{"| a", "unexpected '|'", Pos{1, 1}, false},
		{"echo a || | b", "unexpected '|'", Pos{1, 11}, false},
		{"a | | b", "unexpected '|'", Pos{1, 5}, false},
		{"a |", "unexpected end of input after '|'", Pos{1, 4}, true},
		{"a |\n\n", "unexpected end of input after '|'", Pos{3, 1}, true},
		{"a &&", "unexpected end of input after '&&'", Pos{1, 5}, true},
		{"a ||", "unexpected end of input after '||'", Pos{1, 5}, true},
		{"a || ;", "unexpected ';'", Pos{1, 6}, false},
		{"&& a", "unexpected '&&'", Pos{1, 1}, false},
		{"a &;", "unexpected ';'", Pos{1, 4}, false},
		{"a & & b", "unexpected '&'", Pos{1, 5}, false},
		{"&", "unexpected '&'", Pos{1, 1}, false},
		{"a && & b", "unexpected '&'", Pos{1, 6}, false},
		{"echo >", "expected a file name after '>', found end of input", Pos{1, 7}, false},
		{"echo > ;", "expected a file name after '>', found ';'", Pos{1, 8}, false},
		{"echo 2>", "expected a file name after '>', found end of input", Pos{1, 8}, false},
		{"echo >> | x", "expected a file name after '>>', found '|'", Pos{1, 9}, false},
		{"echo < > f", "expected a file name after '<', found '>'", Pos{1, 8}, false},
		{"echo 2>& 1>x", "expected a file name after '>&', found '1'", Pos{1, 10}, false},
		{"echo 'abc", "unterminated single quote", Pos{1, 6}, true},
		{"echo 'abc\ndef", "unterminated single quote", Pos{1, 6}, true},
		{`echo "abc`, "unterminated double quote", Pos{1, 6}, true},
		{`echo "abc\`, "unterminated double quote", Pos{1, 6}, true},
		{`echo abc\`, "backslash at end of input", Pos{1, 9}, true},
		{"echo ${x", "unterminated ${", Pos{1, 6}, true},
		{"echo ${x\n}", "unterminated ${", Pos{1, 6}, false},
		{"echo ${}", "bad substitution: ${}", Pos{1, 6}, false},
		{"echo ${a-b}", "bad substitution", Pos{1, 6}, false},
		{"echo ${1a}", "bad substitution", Pos{1, 6}, false},
		{"echo $(ls)", "command substitution $(...) is not supported", Pos{1, 6}, false},
		{"echo `ls`", "command substitution (`...`) is not supported", Pos{1, 6}, false},
		{`echo "a` + "`", "command substitution", Pos{1, 8}, false},
		{"(a)", "unexpected '(' (subshells are not supported)", Pos{1, 1}, false},
		{"a )", "unexpected ')'", Pos{1, 3}, false},
		{"cat <<EOF", "unexpected '<<' (here-documents are not supported)", Pos{1, 5}, false},
		{"a\n;", "unexpected ';'", Pos{2, 1}, false},
		{"echo ok\n  echo x |& y", "unexpected '&'", Pos{2, 11}, false},
	} {
		_, err := Parse(tc.in)
		se, ok := err.(*SyntaxError)
		if !ok {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tc.in, err)
			continue
		}
		if !strings.Contains(se.Msg, tc.msg) || se.Pos != tc.pos || se.Incomplete != tc.incomplete {
			t.Errorf("Parse(%q): %q at %v (incomplete %v); want %q at %v (incomplete %v)",
				tc.in, se.Msg, se.Pos, se.Incomplete, tc.msg, tc.pos, tc.incomplete)
		}
		if want := "syntax error: " + se.Msg + " at " + tc.pos.String(); err.Error() != want {
			t.Errorf("error text %q, want %q", err, want)
		}
	}
}

// The message a person sees, in full.
func TestSyntaxErrorText(t *testing.T) {
	_, err := Parse("echo | | x")
	if err == nil || err.Error() != "syntax error: unexpected '|' at 1:8" {
		t.Errorf("got %v", err)
	}
}

func TestWordString(t *testing.T) {
	for _, tc := range []struct {
		w    Word
		want string
	}{
		{Word{}, `""`},
		{lw("plain"), "plain"},
		{lw("a b;c|d&e<f>g(h)i#j'k\"l$m`n\\o"), `a\ b\;c\|d\&e\<f\>g\(h\)i#j\'k\"l\$m` + "\\`" + `n\\o`},
		{lw("#a#"), `\#a#`},
		{lw("$%$"), `$%$`},
		{w(lit("a$"), param("x"), lit("$"), qparam("y")), `a\$${x}$"${y}"`},
		{w(param("x"), qlit("")), `${x}""`},
		{w(qlit(`q"$` + "`" + `\`)), `"q\"\$` + "\\`" + `\\"`},
		{w(param("x"), qparam("y")), `${x}"${y}"`},
	} {
		if got := tc.w.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		// It parses back to a word that expands the same.
		l, err := Parse("echo " + tc.w.String())
		if err != nil {
			t.Errorf("reparse %q: %v", tc.w.String(), err)
			continue
		}
		back := l.Stmts[0].AndOr.First.Cmds[0].Args[1]
		look := func(name string) string { return "<" + name + ">" }
		want := ExpandFields(tc.w, look)
		if len(tc.w.Parts) == 0 {
			want = []string{""}
		}
		if got := ExpandFields(back, look); !reflect.DeepEqual(got, want) {
			t.Errorf("reparse %q expands to %q, want %q", tc.w.String(), got, want)
		}
	}
	if s, ok := w(lit("a"), qlit("b")).Literal(); !ok || s != "ab" {
		t.Error("Literal")
	}
	if _, ok := w(param("a")).Literal(); ok {
		t.Error("Literal of a parameter")
	}
}

func TestParseBackground(t *testing.T) {
	l, err := Parse("sleep 5 & echo x; a && b &")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range l.Stmts {
		got = append(got, st.String())
	}
	want := []string{"sleep 5 &", "echo x", "a && b &"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements %q, want %q", got, want)
	}
}

// Assignments are NAME=value words before the command name only.
func TestParseAssignments(t *testing.T) {
	l, err := Parse("A=1 B=x=y cmd C=3")
	if err != nil {
		t.Fatal(err)
	}
	c := stripPos(l).Stmts[0].AndOr.First.Cmds[0]
	if !reflect.DeepEqual(c.Assigns, []Assign{{"A", lw("1")}, {"B", lw("x=y")}}) {
		t.Errorf("assigns %#v", c.Assigns)
	}
	if !reflect.DeepEqual(c.Args, []Word{lw("cmd"), lw("C=3")}) {
		t.Errorf("args %#v", c.Args)
	}
	l, err = Parse("E= F")
	if err != nil {
		t.Fatal(err)
	}
	c = stripPos(l).Stmts[0].AndOr.First.Cmds[0]
	if len(c.Assigns) != 1 || c.Assigns[0].Name != "E" || len(c.Assigns[0].Value.Parts) != 0 || !reflect.DeepEqual(c.Args, []Word{lw("F")}) {
		t.Errorf("E= F: %#v", c)
	}
}

func TestParseRedirFds(t *testing.T) {
	l, err := Parse("cmd 2>&1 >out 7<in 2>&- 3>>x")
	if err != nil {
		t.Fatal(err)
	}
	c := stripPos(l).Stmts[0].AndOr.First.Cmds[0]
	want := []Redir{
		{Fd: 2, Op: RedirDupOut, Target: lw("1")},
		{Fd: 1, Op: RedirOut, Target: lw("out")},
		{Fd: 7, Op: RedirIn, Target: lw("in")},
		{Fd: 2, Op: RedirDupOut, Target: lw("-")},
		{Fd: 3, Op: RedirAppend, Target: lw("x")},
	}
	if !reflect.DeepEqual(c.Redirs, want) {
		t.Errorf("redirs %#v", c.Redirs)
	}
}
