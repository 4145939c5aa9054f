package syntax

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tWord
	tNewline
	tOp
	tIONumber
)

type token struct {
	kind tokKind
	op   string // for tOp
	word Word   // for tWord
	num  int    // for tIONumber
	pos  Pos
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tNewline:
		return "newline"
	case tOp:
		return quoteOp(t.op)
	case tIONumber:
		return quoteOp(strconv.Itoa(t.num))
	}
	return "word " + quoteOp(t.word.String())
}

// quoteOp quotes an operator or a word for a message: '|'.
func quoteOp(s string) string { return "'" + s + "'" }

type lexer struct {
	src       string
	i         int
	line, col int
	toks      []token
}

func isBlank(c byte) bool  { return c == ' ' || c == '\t' }
func isOpChar(c byte) bool { return strings.IndexByte("|&;<>()", c) >= 0 }
func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
func isNameChar(c byte) bool { return isNameStart(c) || '0' <= c && c <= '9' }
func isDigit(c byte) bool    { return '0' <= c && c <= '9' }

// isSpecialParam reports whether $c is a special parameter.
func isSpecialParam(c byte) bool { return strings.IndexByte("?$#!@*-", c) >= 0 || isDigit(c) }

// IsName reports whether s is a valid variable name.
func IsName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func lex(src string) ([]token, error) {
	lx := &lexer{src: src, line: 1, col: 1}
	for {
		t, err := lx.token()
		if err != nil {
			return nil, err
		}
		lx.toks = append(lx.toks, t)
		if t.kind == tEOF {
			return lx.toks, nil
		}
	}
}

func (lx *lexer) pos() Pos { return Pos{lx.line, lx.col} }

func (lx *lexer) eof() bool { return lx.i >= len(lx.src) }

func (lx *lexer) peek() byte {
	if lx.i >= len(lx.src) {
		return 0
	}
	return lx.src[lx.i]
}

func (lx *lexer) peekAt(n int) byte {
	if lx.i+n >= len(lx.src) {
		return 0
	}
	return lx.src[lx.i+n]
}

func (lx *lexer) advance() byte {
	c := lx.src[lx.i]
	lx.i++
	if c == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
	return c
}

func (lx *lexer) errorf(pos Pos, incomplete bool, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...), Incomplete: incomplete}
}

var ops = []string{"&&", "||", ";;", "<<", ">>", "<&", ">&", "|", "&", ";", "<", ">", "(", ")"}

func (lx *lexer) token() (token, error) {
	// Blanks, line continuations and comments.
	for !lx.eof() {
		c := lx.peek()
		if isBlank(c) {
			lx.advance()
		} else if c == '\\' && lx.peekAt(1) == '\n' {
			lx.advance()
			lx.advance()
		} else if c == '#' {
			for !lx.eof() && lx.peek() != '\n' {
				lx.advance()
			}
		} else {
			break
		}
	}
	pos := lx.pos()
	if lx.eof() {
		return token{kind: tEOF, pos: pos}, nil
	}
	c := lx.peek()
	if c == '\n' {
		lx.advance()
		return token{kind: tNewline, pos: pos}, nil
	}
	if isOpChar(c) {
		for _, op := range ops {
			if strings.HasPrefix(lx.src[lx.i:], op) {
				for range len(op) {
					lx.advance()
				}
				return token{kind: tOp, op: op, pos: pos}, nil
			}
		}
	}
	w, err := lx.word()
	if err != nil {
		return token{}, err
	}
	if s, ok := w.Literal(); ok && len(w.Parts) == 1 && !w.Parts[0].Quoted && len(s) <= 3 &&
		(lx.peek() == '<' || lx.peek() == '>') && allDigits(s) {
		n, _ := strconv.Atoi(s)
		return token{kind: tIONumber, num: n, pos: pos}, nil
	}
	return token{kind: tWord, word: w, pos: pos}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// wordBuilder collects the parts of a word; normalize tidies them.
type wordBuilder struct {
	w Word
}

func (b *wordBuilder) lit(s string, quoted bool) {
	b.w.Parts = append(b.w.Parts, Part{Kind: Lit, Text: s, Quoted: quoted})
}

func (b *wordBuilder) param(name string, quoted bool) {
	b.w.Parts = append(b.w.Parts, Part{Kind: Param, Text: name, Quoted: quoted})
}

// normalize merges adjacent literals of the same quoting and drops empty
// quoted literals (from "" or a pair of single quotes), except that a word
// made of quotes and unquoted parameters only keeps one empty quoted
// literal at the end: it must still expand to a field (an empty one if the
// parameters are empty), as ""$x does.
func (b *wordBuilder) normalize() Word {
	hadEmpty, keepsField := false, false
	var parts []Part
	for _, p := range b.w.Parts {
		if p.Kind == Lit && p.Quoted && p.Text == "" {
			hadEmpty = true
			continue
		}
		if p.Quoted || p.Kind == Lit {
			keepsField = true
		}
		if n := len(parts); n > 0 && p.Kind == Lit && parts[n-1].Kind == Lit && parts[n-1].Quoted == p.Quoted {
			parts[n-1].Text += p.Text
			continue
		}
		parts = append(parts, p)
	}
	if hadEmpty && !keepsField {
		parts = append(parts, Part{Kind: Lit, Quoted: true})
	}
	return Word{Parts: parts, Pos: b.w.Pos}
}

// word lexes one word. The caller made sure the next byte starts one.
func (lx *lexer) word() (Word, error) {
	b := &wordBuilder{w: Word{Pos: lx.pos()}}
	for !lx.eof() {
		c := lx.peek()
		if isBlank(c) || c == '\n' || isOpChar(c) {
			break
		}
		switch c {
		case '\\':
			pos := lx.pos()
			lx.advance()
			if lx.eof() {
				return Word{}, lx.errorf(pos, true, "backslash at end of input")
			}
			if lx.peek() == '\n' {
				lx.advance() // line continuation
				continue
			}
			_, n := utf8.DecodeRuneInString(lx.src[lx.i:])
			start := lx.i
			for range n {
				lx.advance()
			}
			b.lit(lx.src[start:lx.i], true)
		case '\'':
			pos := lx.pos()
			lx.advance()
			start := lx.i
			for !lx.eof() && lx.peek() != '\'' {
				lx.advance()
			}
			if lx.eof() {
				return Word{}, lx.errorf(pos, true, "unterminated single quote")
			}
			b.lit(lx.src[start:lx.i], true)
			lx.advance()
		case '"':
			if err := lx.doubleQuoted(b); err != nil {
				return Word{}, err
			}
		case '$':
			if err := lx.dollar(b, false); err != nil {
				return Word{}, err
			}
		case '`':
			return Word{}, lx.errorf(lx.pos(), false, "command substitution (`...`) is not supported")
		default:
			start := lx.i
			for !lx.eof() {
				c := lx.peek()
				if isBlank(c) || c == '\n' || isOpChar(c) || strings.IndexByte("\\'\"$`", c) >= 0 {
					break
				}
				lx.advance()
			}
			b.lit(lx.src[start:lx.i], false)
		}
	}
	return b.normalize(), nil
}

func (lx *lexer) doubleQuoted(b *wordBuilder) error {
	pos := lx.pos()
	lx.advance() // "
	b.lit("", true)
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			b.lit(text.String(), true)
			text.Reset()
		}
	}
	for {
		if lx.eof() {
			return lx.errorf(pos, true, "unterminated double quote")
		}
		c := lx.peek()
		switch c {
		case '"':
			lx.advance()
			flush()
			return nil
		case '\\':
			lx.advance()
			if lx.eof() {
				return lx.errorf(pos, true, "unterminated double quote")
			}
			switch n := lx.peek(); n {
			case '\n':
				lx.advance()
			case '$', '`', '"', '\\':
				text.WriteByte(lx.advance())
			default:
				text.WriteByte('\\')
			}
		case '$':
			flush()
			if err := lx.dollar(b, true); err != nil {
				return err
			}
		case '`':
			return lx.errorf(lx.pos(), false, "command substitution (`...`) is not supported")
		default:
			text.WriteByte(lx.advance())
		}
	}
}

// dollar lexes a $ at the current position: a parameter or a literal $.
func (lx *lexer) dollar(b *wordBuilder, quoted bool) error {
	pos := lx.pos()
	lx.advance() // $
	c := lx.peek()
	switch {
	case lx.eof():
		b.lit("$", quoted)
	case c == '{':
		lx.advance()
		start := lx.i
		for !lx.eof() && lx.peek() != '}' && lx.peek() != '\n' {
			lx.advance()
		}
		if lx.eof() || lx.peek() != '}' {
			return lx.errorf(pos, lx.eof(), "unterminated ${")
		}
		name := lx.src[start:lx.i]
		lx.advance() // }
		if !IsName(name) && !allDigits(name) && !(len(name) == 1 && isSpecialParam(name[0])) {
			return lx.errorf(pos, false, "bad substitution: ${%s}", name)
		}
		b.param(name, quoted)
	case c == '(':
		return lx.errorf(pos, false, "command substitution $(...) is not supported")
	case isNameStart(c):
		start := lx.i
		for !lx.eof() && isNameChar(lx.peek()) {
			lx.advance()
		}
		b.param(lx.src[start:lx.i], quoted)
	case isSpecialParam(c):
		lx.advance()
		b.param(string(c), quoted)
	default:
		b.lit("$", quoted)
	}
	return nil
}
