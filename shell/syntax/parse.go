package syntax

import "strings"

// SyntaxError is a parse error.
type SyntaxError struct {
	Pos Pos
	Msg string
	// Incomplete is set when more input could complete the program (an
	// unterminated quote, a trailing backslash, |, && or ||): an
	// interactive reader could prompt for a continuation line.
	Incomplete bool
}

// Error is "syntax error: MSG at LINE:COL"; the shell prefixes its name
// (and the script's).
func (e *SyntaxError) Error() string {
	return "syntax error: " + e.Msg + " at " + e.Pos.String()
}

// Parse parses src, which may hold several lines, into a List. An empty or
// blank src gives an empty List.
func Parse(src string) (*List, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	return p.list()
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.op == op
}

func (p *parser) skipNewlines() {
	for p.peek().kind == tNewline {
		p.next()
	}
}

func (p *parser) unexpected(t token, after string) error {
	if t.kind == tEOF && after != "" {
		return &SyntaxError{Pos: t.pos, Msg: "unexpected end of input after " + quoteOp(after), Incomplete: true}
	}
	msg := "unexpected " + t.describe()
	switch {
	case t.kind == tOp && t.op == "(":
		msg += " (subshells are not supported)"
	case t.kind == tOp && t.op == "<<":
		msg += " (here-documents are not supported)"
	}
	return &SyntaxError{Pos: t.pos, Msg: msg}
}

func (p *parser) list() (*List, error) {
	l := &List{}
	for {
		p.skipNewlines()
		if p.peek().kind == tEOF {
			return l, nil
		}
		ao, err := p.andOr()
		if err != nil {
			return nil, err
		}
		st := &Stmt{AndOr: ao}
		l.Stmts = append(l.Stmts, st)
		t := p.peek()
		switch {
		case t.kind == tOp && t.op == ";":
			p.next()
		case t.kind == tOp && t.op == "&":
			p.next()
			st.Background = true
		case t.kind == tNewline || t.kind == tEOF:
		default:
			return nil, p.unexpected(t, "")
		}
	}
}

func (p *parser) andOr() (*AndOr, error) {
	first, err := p.pipeline()
	if err != nil {
		return nil, err
	}
	ao := &AndOr{First: first}
	for p.isOp("&&") || p.isOp("||") {
		t := p.next()
		op := AndThen
		if t.op == "||" {
			op = OrElse
		}
		p.skipNewlines()
		if p.peek().kind == tEOF {
			return nil, p.unexpected(p.peek(), t.op)
		}
		pl, err := p.pipeline()
		if err != nil {
			return nil, err
		}
		ao.Rest = append(ao.Rest, AndOrPart{Op: op, Pipeline: pl})
	}
	return ao, nil
}

func (p *parser) pipeline() (*Pipeline, error) {
	c, err := p.cmd()
	if err != nil {
		return nil, err
	}
	pl := &Pipeline{Cmds: []*Cmd{c}}
	for p.isOp("|") {
		p.next()
		p.skipNewlines()
		if p.peek().kind == tEOF {
			return nil, p.unexpected(p.peek(), "|")
		}
		c, err := p.cmd()
		if err != nil {
			return nil, err
		}
		pl.Cmds = append(pl.Cmds, c)
	}
	return pl, nil
}

var redirOpOf = map[string]RedirOp{"<": RedirIn, ">": RedirOut, ">>": RedirAppend, "<&": RedirDupIn, ">&": RedirDupOut}

func (p *parser) cmd() (*Cmd, error) {
	c := &Cmd{Pos: p.peek().pos}
	for {
		t := p.peek()
		switch {
		case t.kind == tWord:
			p.next()
			if a, ok := assignment(t.word); ok && len(c.Args) == 0 {
				c.Assigns = append(c.Assigns, a)
			} else {
				c.Args = append(c.Args, t.word)
			}
			continue
		case t.kind == tIONumber:
			p.next()
			r, err := p.redir(t.num, true)
			if err != nil {
				return nil, err
			}
			c.Redirs = append(c.Redirs, r)
			continue
		case t.kind == tOp:
			if _, ok := redirOpOf[t.op]; ok {
				r, err := p.redir(-1, false)
				if err != nil {
					return nil, err
				}
				c.Redirs = append(c.Redirs, r)
				continue
			}
		}
		break
	}
	if len(c.Args) == 0 && len(c.Assigns) == 0 && len(c.Redirs) == 0 {
		return nil, p.unexpected(p.peek(), "")
	}
	return c, nil
}

func (p *parser) redir(fd int, haveFd bool) (Redir, error) {
	t := p.next()
	op, ok := redirOpOf[t.op]
	if t.kind != tOp || !ok {
		return Redir{}, p.unexpected(t, "")
	}
	if !haveFd {
		fd = 1
		if op == RedirIn || op == RedirDupIn {
			fd = 0
		}
	}
	target := p.peek()
	if target.kind != tWord {
		return Redir{}, &SyntaxError{Pos: target.pos, Msg: "expected a file name after " + quoteOp(t.op) + ", found " + target.describe()}
	}
	p.next()
	return Redir{Fd: fd, Op: op, Target: target.word}, nil
}

// assignment recognises NAME=value: the word must start with an unquoted
// literal "NAME=".
func assignment(w Word) (Assign, bool) {
	if len(w.Parts) == 0 || w.Parts[0].Kind != Lit || w.Parts[0].Quoted {
		return Assign{}, false
	}
	first := w.Parts[0].Text
	eq := strings.IndexByte(first, '=')
	if eq <= 0 || !IsName(first[:eq]) {
		return Assign{}, false
	}
	val := Word{Pos: w.Pos}
	if rest := first[eq+1:]; rest != "" {
		val.Parts = append(val.Parts, Part{Kind: Lit, Text: rest})
	}
	val.Parts = append(val.Parts, w.Parts[1:]...)
	return Assign{Name: first[:eq], Value: val}, true
}
