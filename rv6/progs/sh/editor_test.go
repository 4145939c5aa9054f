package sh

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/shell"
)

// edit feeds keys to a new editor with history hist and returns the lines
// it read (until the end of the keys), what it wrote, and the error that
// ended it.
func edit(keys string, hist ...string) ([]string, string, error) {
	var out bytes.Buffer
	h := &shell.History{Lines: hist}
	e := newEditor(bufio.NewReader(strings.NewReader(keys)), &out, h)
	var lines []string
	for {
		line, err := e.readLine("$ ")
		if errors.Is(err, errInterrupt) {
			lines = append(lines, "<^C>")
			continue
		}
		if err != nil {
			return lines, out.String(), err
		}
		lines = append(lines, line)
	}
}

const (
	up    = "\x1b[A"
	down  = "\x1b[B"
	right = "\x1b[C"
	left  = "\x1b[D"
	home  = "\x1b[H"
	end   = "\x1b[F"
	del   = "\x1b[3~"
)

func TestEditorKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys string
		hist []string
		want []string
	}{
		{"plain", "echo hi\r", nil, []string{"echo hi"}},
		{"LF ends a line too", "a\nb\n", nil, []string{"a", "b"}},
		{"CRLF is one line end", "a\r\nb\r\n", nil, []string{"a", "b"}},
		{"empty lines", "\r\r", nil, []string{"", ""}},
		{"backspace (DEL)", "lss\x7f -l\r", nil, []string{"ls -l"}},
		{"backspace (^H)", "ab\x08c\r", nil, []string{"ac"}},
		{"backspace at the start", "\x7f\x7fx\r", nil, []string{"x"}},
		{"backspace a UTF-8 character", "caf\xc3\xa9\x7fe\r", nil, []string{"cafe"}},
		{"UTF-8 kept whole", "\xe6\x97\xa5\xe6\x9c\xac\r", nil, []string{"日本"}},
		{"left and insert", "ac" + left + "b\r", nil, []string{"abc"}},
		{"left stops at the start", "b" + left + left + left + "a\r", nil, []string{"ab"}},
		{"right stops at the end", "a" + right + right + "b\r", nil, []string{"ab"}},
		{"ESC O keys", "ac\x1bODb\r", nil, []string{"abc"}},
		{"ctrl-A and ctrl-E", "cho\x01e\x05 x\r", nil, []string{"echo x"}},
		{"Home and End", "bc" + home + "a" + end + "d\r", nil, []string{"abcd"}},
		{"Home and End as ~ keys", "bc\x1b[1~a\x1b[4~d\r", nil, []string{"abcd"}},
		{"ctrl-B and ctrl-F", "ac\x02b\x06d\r", nil, []string{"abcd"}},
		{"Delete", "abc" + home + del + "\r", nil, []string{"bc"}},
		{"ctrl-D deletes under the cursor", "abc" + left + "\x04\r", nil, []string{"ab"}},
		{"ctrl-U erases to the start", "foo bar" + left + left + "\x15x\r", nil, []string{"xar"}},
		{"ctrl-U erases the line", "garbage\x15ls\r", nil, []string{"ls"}},
		{"ctrl-K erases to the end", "abcdef" + left + left + "\x0b\r", nil, []string{"abcd"}},
		{"ctrl-W erases a word", "echo foo bar\x17baz\r", nil, []string{"echo foo baz"}},
		{"ctrl-W erases blanks and a word", "echo foo   \x17\x17x\r", nil, []string{"x"}},
		{"ctrl-W in the middle", "one two three" + left + left + left + left + left + left + "\x17\r", nil, []string{"one  three"}},
		{"ctrl-C discards the line", "rm -rf\x03ls\r", nil, []string{"<^C>", "ls"}},
		{"tab and other controls do nothing", "a\tb\x07\x00c\r", nil, []string{"abc"}},
		{"unknown escapes do nothing", "a\x1b[5~\x1bxb\x1b[1;5Cc\r", nil, []string{"abc"}},
		{"up recalls the newest", up + "\r", []string{"first", "second"}, []string{"second"}},
		{"up twice", up + up + "\r", []string{"first", "second"}, []string{"first"}},
		{"up stops at the oldest", up + up + up + up + "\r", []string{"first", "second"}, []string{"first"}},
		{"up and down", up + up + down + "\r", []string{"first", "second"}, []string{"second"}},
		{"down back to the draft", "dra" + up + down + "ft\r", []string{"old"}, []string{"draft"}},
		{"down past the draft stays", "x" + down + down + "\r", []string{"old"}, []string{"x"}},
		{"edit a recalled line", up + "\x7f\x7f\x7fnew\r", []string{"echo old"}, []string{"echo new"}},
		{"ctrl-P and ctrl-N", "\x10\x10\x0e\r", []string{"a", "b"}, []string{"b"}},
		{"unterminated last line", "echo x", nil, []string{"echo x"}},
	} {
		lines, _, err := edit(tc.keys, tc.hist...)
		if err != io.EOF {
			t.Errorf("%s: error %v, want io.EOF at the end of the keys", tc.name, err)
		}
		if strings.Join(lines, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: %q gives %q, want %q", tc.name, tc.keys, lines, tc.want)
		}
	}
}

func TestEditorCtrlDEndsInput(t *testing.T) {
	lines, out, err := edit("ls\r\x04never\r")
	if err != io.EOF || len(lines) != 1 || lines[0] != "ls" {
		t.Errorf("lines %q, err %v", lines, err)
	}
	if !strings.HasSuffix(out, "$ \r\n") {
		t.Errorf("output %q: ^D should leave the prompt's line", out)
	}
}

// The editor echoes what is typed (raw mode has no echo of its own) and
// redraws the line after an edit in its middle.
func TestEditorEcho(t *testing.T) {
	// Each output ends with the prompt of the next line, which meets the
	// end of the keys.
	_, out, _ := edit("hi\r")
	if out != "$ hi\r\n$ " {
		t.Errorf("typing at the end: output %q", out)
	}
	_, out, _ = edit("ac" + left + "b\r")
	want := "$ ac" + "\r$ ac\x1b[K\x1b[1D" + "\r$ abc\x1b[K\x1b[1D" + "\r\n$ "
	if out != want {
		t.Errorf("insert in the middle: output\n%q, want\n%q", out, want)
	}
	_, out, _ = edit("x\x03")
	if out != "$ x^C\r\n$ " {
		t.Errorf("^C: output %q", out)
	}
}

func TestReadPlainLine(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("one\r\ntwo\n\nlast"))
	var got []string
	for {
		line, err := readPlainLine(r)
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		got = append(got, line)
	}
	if strings.Join(got, "|") != "one|two||last" {
		t.Errorf("lines %q", got)
	}
}
