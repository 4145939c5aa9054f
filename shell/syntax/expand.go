package syntax

import "strings"

func isIFS(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }

// ExpandFields expands w into fields: literal text is kept, parameters are
// substituted, and the values of unquoted parameters are split at blanks
// (space, tab, newline: the default IFS). A word whose parts are all
// unquoted and expand to nothing gives no field; a quoted part always
// makes a field ("" gives one empty field). There is no globbing.
func ExpandFields(w Word, lookup func(string) string) []string {
	var fields []string
	var cur strings.Builder
	have := false
	flush := func() {
		if have {
			fields = append(fields, cur.String())
			cur.Reset()
			have = false
		}
	}
	for _, p := range w.Parts {
		if p.Kind == Lit {
			cur.WriteString(p.Text)
			if p.Quoted || p.Text != "" {
				have = true
			}
			continue
		}
		val := lookup(p.Text)
		if p.Quoted {
			cur.WriteString(val)
			have = true
			continue
		}
		if val == "" {
			continue
		}
		if isIFS(rune(val[0])) {
			flush()
		}
		for i, piece := range strings.FieldsFunc(val, isIFS) {
			if i > 0 {
				flush()
			}
			cur.WriteString(piece)
			have = true
		}
		if isIFS(rune(val[len(val)-1])) {
			flush()
		}
	}
	flush()
	return fields
}

// ExpandString expands w without field splitting (for assignments and
// redirection targets).
func ExpandString(w Word, lookup func(string) string) string {
	var b strings.Builder
	for _, p := range w.Parts {
		if p.Kind == Lit {
			b.WriteString(p.Text)
		} else {
			b.WriteString(lookup(p.Text))
		}
	}
	return b.String()
}
