package sh

import (
	"bytes"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/rlgo/redleaf/shell"
)

// errInterrupt is readLine's error for Ctrl-C: the line is discarded.
var errInterrupt = shell.ErrInterrupt

// An editor reads lines from a terminal in raw mode: it gets every byte as
// typed, echoes and edits the line itself, and recalls the history. It is
// a pure function of its input bytes and writes everything to out, so that
// it can be tested without a terminal.
//
// Keys: printable characters insert at the cursor; Backspace (DEL or ^H)
// erases before it, ^D or Delete under it; Left/Right (and ^B/^F) move,
// Home/End (and ^A/^E) jump; ^U erases to the start of the line, ^K to its
// end, ^W the word before the cursor; Up/Down (and ^P/^N) walk the history;
// ^L clears the screen; Enter (CR or LF) ends the line; ^C discards it
// (errInterrupt); ^D on an empty line is the end of input (io.EOF).
type editor struct {
	in   io.ByteReader
	out  io.Writer
	hist *shell.History

	skipLF bool // the last line ended with CR: a LF right after it belongs to it

	// The line being edited.
	prompt string
	buf    []rune
	pos    int // the cursor, an index into buf
	draft  []rune
	hpos   int // the history line shown; len(hist.lines): the draft
}

func newEditor(in io.ByteReader, out io.Writer, hist *shell.History) *editor {
	return &editor{in: in, out: out, hist: hist}
}

// readLine prints prompt and returns the line typed, without its end. At
// the end of input it returns what was typed, if anything, then io.EOF.
func (e *editor) readLine(prompt string) (string, error) {
	e.prompt, e.buf, e.pos, e.draft, e.hpos = prompt, nil, 0, nil, len(e.hist.Lines)
	io.WriteString(e.out, prompt)
	for {
		c, err := e.in.ReadByte()
		if err != nil {
			if len(e.buf) > 0 && err == io.EOF {
				io.WriteString(e.out, "\r\n")
				return string(e.buf), nil
			}
			return "", err
		}
		if e.skipLF {
			e.skipLF = false
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\r', '\n':
			e.skipLF = c == '\r'
			io.WriteString(e.out, "\r\n")
			return string(e.buf), nil
		case ctrl('C'):
			io.WriteString(e.out, "^C\r\n")
			return "", errInterrupt
		case ctrl('D'):
			if len(e.buf) == 0 {
				io.WriteString(e.out, "\r\n")
				return "", io.EOF
			}
			e.deleteAt()
		case 0x7f, ctrl('H'):
			if e.pos > 0 {
				e.pos--
				e.deleteAt()
			}
		case ctrl('A'):
			e.moveTo(0)
		case ctrl('E'):
			e.moveTo(len(e.buf))
		case ctrl('B'):
			e.moveTo(e.pos - 1)
		case ctrl('F'):
			e.moveTo(e.pos + 1)
		case ctrl('U'):
			e.buf = append(e.buf[:0], e.buf[e.pos:]...)
			e.pos = 0
			e.refresh()
		case ctrl('K'):
			e.buf = e.buf[:e.pos]
			e.refresh()
		case ctrl('W'):
			e.eraseWord()
		case ctrl('P'):
			e.recall(-1)
		case ctrl('N'):
			e.recall(+1)
		case ctrl('L'):
			io.WriteString(e.out, "\x1b[H\x1b[2J")
			e.refresh()
		case 0x1b:
			if err := e.escape(); err != nil {
				return "", err
			}
		default:
			if c < 0x20 {
				continue // other control characters (Tab among them) do nothing
			}
			r, err := e.decode(c)
			if err != nil {
				return "", err
			}
			if r != utf8.RuneError {
				e.insert(r)
			}
		}
	}
}

func ctrl(c byte) byte { return c & 0x1f }

// decode reads the rest of the UTF-8 sequence that starts with c.
// utf8.RuneError: not a valid sequence (dropped).
func (e *editor) decode(c byte) (rune, error) {
	if c < utf8.RuneSelf {
		return rune(c), nil
	}
	n := 0
	switch {
	case c&0xe0 == 0xc0:
		n = 2
	case c&0xf0 == 0xe0:
		n = 3
	case c&0xf8 == 0xf0:
		n = 4
	default:
		return utf8.RuneError, nil
	}
	seq := []byte{c}
	for len(seq) < n {
		b, err := e.in.ReadByte()
		if err != nil {
			return 0, err
		}
		seq = append(seq, b)
	}
	r, _ := utf8.DecodeRune(seq)
	return r, nil
}

// escape handles the escape sequence after ESC: the cursor keys (ESC [ A
// or ESC O A), Home, End and Delete (ESC [ 1 ~, ESC [ 4 ~, ESC [ 3 ~, ESC
// [ H, ESC [ F, ...). Others are read to their end and ignored.
func (e *editor) escape() error {
	c, err := e.in.ReadByte()
	if err != nil {
		return err
	}
	if c != '[' && c != 'O' {
		return nil // Alt-key: nothing
	}
	var param []byte
	for {
		c, err = e.in.ReadByte()
		if err != nil {
			return err
		}
		if c >= 0x40 && c <= 0x7e {
			break // the final byte
		}
		if len(param) < 16 {
			param = append(param, c)
		}
	}
	first, _, _ := bytes.Cut(param, []byte(";"))
	switch c {
	case 'A':
		e.recall(-1)
	case 'B':
		e.recall(+1)
	case 'C':
		e.moveTo(e.pos + 1)
	case 'D':
		e.moveTo(e.pos - 1)
	case 'H':
		e.moveTo(0)
	case 'F':
		e.moveTo(len(e.buf))
	case '~':
		switch string(first) {
		case "1", "7":
			e.moveTo(0)
		case "4", "8":
			e.moveTo(len(e.buf))
		case "3":
			e.deleteAt()
		}
	}
	return nil
}

// insert inserts r at the cursor.
func (e *editor) insert(r rune) {
	e.buf = append(e.buf, 0)
	copy(e.buf[e.pos+1:], e.buf[e.pos:])
	e.buf[e.pos] = r
	e.pos++
	if e.pos == len(e.buf) {
		io.WriteString(e.out, string(r)) // typing at the end: just echo
		return
	}
	e.refresh()
}

// deleteAt deletes the character under the cursor.
func (e *editor) deleteAt() {
	if e.pos >= len(e.buf) {
		return
	}
	e.buf = append(e.buf[:e.pos], e.buf[e.pos+1:]...)
	e.refresh()
}

// eraseWord erases the blanks before the cursor and the word before them.
func (e *editor) eraseWord() {
	i := e.pos
	for i > 0 && unicode.IsSpace(e.buf[i-1]) {
		i--
	}
	for i > 0 && !unicode.IsSpace(e.buf[i-1]) {
		i--
	}
	e.buf = append(e.buf[:i], e.buf[e.pos:]...)
	e.pos = i
	e.refresh()
}

func (e *editor) moveTo(pos int) {
	pos = max(0, min(pos, len(e.buf)))
	if pos != e.pos {
		e.pos = pos
		e.refresh()
	}
}

// recall shows the history line d away from the one shown (-1: older),
// keeping the line being typed as the draft after the newest.
func (e *editor) recall(d int) {
	n := e.hpos + d
	if n < 0 || n > len(e.hist.Lines) {
		return
	}
	if e.hpos == len(e.hist.Lines) {
		e.draft = append(e.draft[:0], e.buf...)
	}
	e.hpos = n
	if n == len(e.hist.Lines) {
		e.buf = append([]rune(nil), e.draft...)
	} else {
		e.buf = []rune(e.hist.Lines[n])
	}
	e.pos = len(e.buf)
	e.refresh()
}

// refresh redraws the line: back to its start, the prompt and the text,
// erase the rest of the screen line, and the cursor back into place.
func (e *editor) refresh() {
	var b bytes.Buffer
	b.WriteString("\r")
	b.WriteString(e.prompt)
	b.WriteString(string(e.buf))
	b.WriteString("\x1b[K")
	if n := len(e.buf) - e.pos; n > 0 {
		b.WriteString("\x1b[" + strconv.Itoa(n) + "D")
	}
	e.out.Write(b.Bytes())
}
