package syntax

import (
	"strconv"
	"strings"
)

// Pos is a position in the source: line and column (in bytes), from 1.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }

// PartKind is the kind of a word part.
type PartKind uint8

const (
	// Lit is literal text. Quoted literal text came from '...', "..." or
	// a backslash escape.
	Lit PartKind = iota
	// Param is a parameter expansion: $name, ${name}, $?, $$, $#, $0-$9.
	// Text is the name ("?", "HOME", "1").
	Param
)

// Part is a piece of a word.
type Part struct {
	Kind   PartKind
	Text   string
	Quoted bool
}

// Word is a shell word: adjacent parts with no blank between them.
// Expansion turns it into zero or more fields.
type Word struct {
	Parts []Part
	Pos   Pos
}

// Literal returns the word's text if it has no parameter expansion.
func (w Word) Literal() (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		if p.Kind != Lit {
			return "", false
		}
		b.WriteString(p.Text)
	}
	return b.String(), true
}

// Assign is a NAME=value prefix of a command.
type Assign struct {
	Name  string
	Value Word
}

// RedirOp is a redirection operator.
type RedirOp uint8

const (
	RedirIn     RedirOp = iota // [n]< file
	RedirOut                   // [n]> file
	RedirAppend                // [n]>> file
	RedirDupIn                 // [n]<& fd
	RedirDupOut                // [n]>& fd
)

var redirOps = [...]string{RedirIn: "<", RedirOut: ">", RedirAppend: ">>", RedirDupIn: "<&", RedirDupOut: ">&"}

func (op RedirOp) String() string { return redirOps[op] }

// Redir is a redirection: Fd Op Target, e.g. 2>&1 or >file.
type Redir struct {
	Fd     int // 0 for <, <&; 1 for >, >>, >& unless given
	Op     RedirOp
	Target Word
}

// Cmd is a simple command: assignments, words and redirections.
type Cmd struct {
	Assigns []Assign
	Args    []Word
	Redirs  []Redir
	Pos     Pos
}

// Pipeline is one or more commands joined by |.
type Pipeline struct {
	Cmds []*Cmd
}

// AndOrOp joins pipelines: && or ||.
type AndOrOp uint8

const (
	AndThen AndOrOp = iota // &&
	OrElse                 // ||
)

func (op AndOrOp) String() string {
	if op == OrElse {
		return "||"
	}
	return "&&"
}

// AndOr is a pipeline followed by zero or more "&& pipeline" / "||
// pipeline".
type AndOr struct {
	First *Pipeline
	Rest  []AndOrPart
}

// AndOrPart is one "&& pipeline" or "|| pipeline".
type AndOrPart struct {
	Op       AndOrOp
	Pipeline *Pipeline
}

// Stmt is an and-or list terminated by ;, & or a newline.
type Stmt struct {
	AndOr      *AndOr
	Background bool // terminated by &
}

// List is a parsed program: statements in order.
type List struct {
	Stmts []*Stmt
}

// String formats the list in canonical shell syntax, which parses back to
// an equivalent list.
func (l *List) String() string {
	var b strings.Builder
	for i, s := range l.Stmts {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(s.AndOr.String())
		if s.Background {
			b.WriteString(" &")
		} else if i < len(l.Stmts)-1 {
			b.WriteString(";")
		}
	}
	return b.String()
}

func (a *AndOr) String() string {
	var b strings.Builder
	b.WriteString(a.First.String())
	for _, r := range a.Rest {
		b.WriteString(" " + r.Op.String() + " ")
		b.WriteString(r.Pipeline.String())
	}
	return b.String()
}

func (p *Pipeline) String() string {
	s := make([]string, len(p.Cmds))
	for i, c := range p.Cmds {
		s[i] = c.String()
	}
	return strings.Join(s, " | ")
}

func (c *Cmd) String() string {
	var s []string
	for _, a := range c.Assigns {
		v := a.Value.String()
		if v == `""` {
			v = ""
		}
		s = append(s, a.Name+"="+v)
	}
	for _, w := range c.Args {
		s = append(s, w.String())
	}
	for _, r := range c.Redirs {
		s = append(s, r.String())
	}
	return strings.Join(s, " ")
}

func (r Redir) String() string {
	def := 1
	if r.Op == RedirIn || r.Op == RedirDupIn {
		def = 0
	}
	fd := ""
	if r.Fd != def {
		fd = strconv.Itoa(r.Fd)
	}
	return fd + r.Op.String() + r.Target.String()
}

// String formats the word in shell syntax that parses back to a word with
// the same expansion. An empty word is "".
func (w Word) String() string {
	if len(w.Parts) == 0 {
		return `""`
	}
	var b strings.Builder
	for i, p := range w.Parts {
		switch {
		case p.Kind == Param && p.Quoted:
			b.WriteString(`"${` + p.Text + `}"`)
		case p.Kind == Param:
			b.WriteString("${" + p.Text + "}")
		case p.Quoted:
			b.WriteByte('"')
			for j := 0; j < len(p.Text); j++ {
				if strings.IndexByte("\\\"$`", p.Text[j]) >= 0 {
					b.WriteByte('\\')
				}
				b.WriteByte(p.Text[j])
			}
			b.WriteByte('"')
		default:
			for j := 0; j < len(p.Text); j++ {
				c := p.Text[j]
				var next byte // what follows c in the source
				if j+1 < len(p.Text) {
					next = p.Text[j+1]
				} else if i+1 < len(w.Parts) && w.Parts[i+1].Kind == Param && !w.Parts[i+1].Quoted {
					next = '{'
				}
				switch {
				case c == '\n':
					b.WriteString("\"\n\"")
					continue
				case isBlank(c) || isOpChar(c) || strings.IndexByte("\\'\"`", c) >= 0,
					c == '#' && i == 0 && j == 0,
					c == '$' && (next == '{' || next == '(' || isNameStart(next) || isSpecialParam(next)):
					b.WriteByte('\\')
				}
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// String formats the statement: its and-or list, with " &" when it runs in
// the background.
func (s *Stmt) String() string {
	if s.Background {
		return s.AndOr.String() + " &"
	}
	return s.AndOr.String()
}

// Quote returns s as one shell word that expands to s: s itself when it
// needs no quoting, else s in single quotes (a single quote inside s
// closes the quotes, is escaped with a backslash, and reopens them).
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isNameChar(c) && strings.IndexByte("./:,+=@%-^~", c) < 0 {
			plain = false
			break
		}
	}
	if plain && s[0] != '~' {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
