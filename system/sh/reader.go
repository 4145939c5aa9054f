package sh

import (
	"bufio"
	"errors"
	"io"
	"unicode/utf8"
)

// MaxLine is the longest line LineReader returns; the rest of a longer
// line is discarded.
const MaxLine = 64 << 10

// ErrLineTooLong is returned (with the truncated line) for a line longer
// than MaxLine.
var ErrLineTooLong = errors.New("line too long")

// LineReader reads command lines from a console or a stream.
//
// A line ends at "\n", "\r" or "\r\n" (a serial console sends "\r" for
// Enter; the Linux tty in canonical mode turns it into "\n" with ICRNL,
// but a raw line or a test harness may not). A "\n" right after a "\r" is
// part of the same line end and does not make an empty line, without
// waiting for the byte after a "\r".
//
// In canonical mode the tty does the line editing (erase, kill) itself
// and the shell never sees those bytes. For input that bypasses it (a raw
// terminal, a pipe), LineReader applies the same basic editing: DEL or BS
// erases the last character, ^U (NAK) erases the line, ^D (EOT) at the
// start of a line is end of input, NUL is dropped. It does not echo.
//
// LineReader is also an io.Reader, so commands can read the rest of the
// input through it after the shell has buffered some.
type LineReader struct {
	r      *bufio.Reader
	skipLF bool
}

// NewLineReader returns a LineReader reading from r.
func NewLineReader(r io.Reader) *LineReader {
	if lr, ok := r.(*LineReader); ok {
		return lr
	}
	return &LineReader{r: bufio.NewReader(r)}
}

// ReadLine returns the next line without its line end. At end of input
// it returns the last, unterminated line if there is one, then "" and
// io.EOF.
func (lr *LineReader) ReadLine() (string, error) {
	var buf []byte
	tooLong := false
	for {
		c, err := lr.r.ReadByte()
		if err != nil {
			if err == io.EOF && (len(buf) > 0 || tooLong) {
				return lr.done(buf, tooLong)
			}
			return string(buf), err
		}
		if lr.skipLF {
			lr.skipLF = false
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\r':
			lr.skipLF = true
			return lr.done(buf, tooLong)
		case '\n':
			return lr.done(buf, tooLong)
		case 0x7f, 0x08: // DEL, BS
			if len(buf) > 0 {
				_, n := utf8.DecodeLastRune(buf)
				buf = buf[:len(buf)-n]
			}
		case 0x15: // ^U
			buf = buf[:0]
		case 0x04: // ^D
			if len(buf) == 0 && !tooLong {
				return "", io.EOF
			}
		case 0:
		default:
			if len(buf) >= MaxLine {
				tooLong = true
				continue
			}
			buf = append(buf, c)
		}
	}
}

func (lr *LineReader) done(buf []byte, tooLong bool) (string, error) {
	if tooLong {
		return string(buf), ErrLineTooLong
	}
	return string(buf), nil
}

// Read reads raw input (buffered bytes first), for commands reading
// standard input.
func (lr *LineReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if lr.skipLF {
		lr.skipLF = false
		c, err := lr.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != '\n' {
			_ = lr.r.UnreadByte()
		}
	}
	return lr.r.Read(p)
}
