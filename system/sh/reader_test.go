package sh

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string) ([]string, error) {
	t.Helper()
	lr := NewLineReader(strings.NewReader(in))
	var lines []string
	for i := 0; i < 100; i++ {
		l, err := lr.ReadLine()
		if err != nil {
			if l != "" {
				t.Errorf("line %q returned with error %v", l, err)
			}
			return lines, err
		}
		lines = append(lines, l)
	}
	t.Fatal("no end of input")
	return nil, nil
}

func TestLineReader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a\nb\n", []string{"a", "b"}},
		{"a\r\nb\r\n", []string{"a", "b"}},
		{"a\rb\r", []string{"a", "b"}},
		{"a\n\nb", []string{"a", "", "b"}},
		{"a\r\r\nb", []string{"a", "", "b"}},
		{"a\n\rb", []string{"a", "", "b"}},
		{"last", []string{"last"}},
		{"ab\x7fc\n", []string{"ac"}},
		{"ab\b\bxy\n", []string{"xy"}},
		{"\x7f\x7fa\n", []string{"a"}},
		{"é\x7fe\n", []string{"e"}},
		{"garbage\x15ok\n", []string{"ok"}},
		{"a\x00b\n", []string{"ab"}},
		{"x\x04y\n", []string{"xy"}},
		{"one\n\x04two\n", []string{"one"}},
	} {
		got, err := readAll(t, tc.in)
		if err != io.EOF {
			t.Errorf("%q: error %v, want EOF", tc.in, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: lines %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLineReaderTooLong(t *testing.T) {
	in := strings.Repeat("x", MaxLine+10) + "\nnext\n"
	lr := NewLineReader(strings.NewReader(in))
	l, err := lr.ReadLine()
	if !errors.Is(err, ErrLineTooLong) || len(l) != MaxLine {
		t.Fatalf("got %d bytes, %v", len(l), err)
	}
	if l, err := lr.ReadLine(); l != "next" || err != nil {
		t.Errorf("after a long line: %q %v", l, err)
	}
	lr = NewLineReader(strings.NewReader(strings.Repeat("y", MaxLine+1)))
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("long last line: %v", err)
	}
}

// TestLineReaderCRDoesNotBlock: a line ending in "\r" is returned without
// reading the next byte (a console sends nothing more until the next key).
func TestLineReaderCRDoesNotBlock(t *testing.T) {
	pr, pw := io.Pipe()
	lr := NewLineReader(pr)
	go pw.Write([]byte("echo hi\r"))
	if l, err := lr.ReadLine(); l != "echo hi" || err != nil {
		t.Fatalf("%q %v", l, err)
	}
	go func() { pw.Write([]byte("\nnext\r")); pw.Close() }()
	if l, err := lr.ReadLine(); l != "next" || err != nil {
		t.Fatalf("%q %v", l, err)
	}
}

func TestLineReaderRead(t *testing.T) {
	lr := NewLineReader(strings.NewReader("cmd\r\nrest of\ninput"))
	if l, _ := lr.ReadLine(); l != "cmd" {
		t.Fatal(l)
	}
	b, err := io.ReadAll(lr)
	if string(b) != "rest of\ninput" || err != nil {
		t.Errorf("Read after a CR line: %q %v", b, err)
	}
	lr = NewLineReader(strings.NewReader("a\rb"))
	lr.ReadLine()
	if b, _ := io.ReadAll(lr); string(b) != "b" {
		t.Errorf("Read after a lone CR: %q", b)
	}
	lr = NewLineReader(strings.NewReader("a\r"))
	lr.ReadLine()
	if n, err := lr.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Errorf("Read at EOF after CR: %d %v", n, err)
	}
	if n, err := lr.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil): %d %v", n, err)
	}
	if NewLineReader(lr) != lr {
		t.Error("NewLineReader does not reuse a LineReader")
	}
}
