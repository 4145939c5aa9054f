package syntax

import (
	"reflect"
	"testing"
)

// vars is the lookup of the expansion tests.
func vars(name string) string {
	return map[string]string{
		"x":     "one",
		"sp":    "a  b\tc",
		"lead":  "  lead",
		"trail": "trail  ",
		"blank": "   ",
		"empty": "",
		"?":     "0",
		"$":     "42",
		"1":     "first arg",
	}[name]
}

func TestExpandFields(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{"$x", []string{"one"}},
		{`"$x"`, []string{"one"}},
		{"$sp", []string{"a", "b", "c"}},
		{`"$sp"`, []string{"a  b\tc"}},
		{"x$sp", []string{"xa", "b", "c"}},
		{"${sp}y", []string{"a", "b", "cy"}},
		{"p${lead}", []string{"p", "lead"}},
		{"${trail}s", []string{"trail", "s"}},
		{"$blank", nil},
		{"$empty", nil},
		{"$unset", nil},
		{`"$empty"`, []string{""}},
		{`""`, []string{""}},
		{`''`, []string{""}},
		{`""$empty`, []string{""}},
		{"a${blank}b", []string{"a", "b"}},
		{"$?", []string{"0"}},
		{"$$", []string{"42"}},
		{"pid$$.tmp", []string{"pid42.tmp"}},
		{"$1", []string{"first", "arg"}},
		{`"$1"`, []string{"first arg"}},
		{`'$x'`, []string{"$x"}},
		{`\$x`, []string{"$x"}},
		{`a\ b`, []string{"a b"}},
		{`"a\"b"`, []string{`a"b`}},
	} {
		l, err := Parse("cmd " + tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		w := l.Stmts[0].AndOr.First.Cmds[0].Args[1]
		if got := ExpandFields(w, vars); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ExpandFields(%s) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestExpandString(t *testing.T) {
	l, err := Parse(`V=$sp${x}"$1"'$x' cmd >out.$$`)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Stmts[0].AndOr.First.Cmds[0]
	if got := ExpandString(c.Assigns[0].Value, vars); got != "a  b\tconefirst arg$x" {
		t.Errorf("assignment expands to %q", got)
	}
	if got := ExpandString(c.Redirs[0].Target, vars); got != "out.42" {
		t.Errorf("redirection target expands to %q", got)
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/a/b-c_d.e:f", "/a/b-c_d.e:f"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$x", "'$x'"},
		{"~", "'~'"},
		{"a\nb", "'a\nb'"},
		{"é", "'é'"},
	} {
		got := Quote(tc.in)
		if got != tc.want {
			t.Errorf("Quote(%q) = %q, want %q", tc.in, got, tc.want)
		}
		l, err := Parse("cmd " + got)
		if err != nil {
			t.Errorf("Quote(%q) = %q does not parse: %v", tc.in, got, err)
			continue
		}
		if f := ExpandFields(l.Stmts[0].AndOr.First.Cmds[0].Args[1], vars); !reflect.DeepEqual(f, []string{tc.in}) {
			t.Errorf("Quote(%q) = %q expands to %q", tc.in, got, f)
		}
	}
}
