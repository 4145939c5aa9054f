// Package ipxe writes iPXE scripts, and checks the strings that go into
// them where they enter the netboot configuration.
//
// An iPXE script is a list of commands, one a line, each split into
// words at spaces; a word "&&", "||" or ";" chains another command, a
// word starting with "#" comments out the rest of the line, and "${...}"
// expands a setting. So a value with a line break, or one of those
// words, that reaches a script (a profile name, a kernel command line,
// a file name) runs a command its author did not write. Script accepts
// only words that are none of these and refuses to write anything
// else: the script either says what was meant or is not served.
package ipxe

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxName is the longest profile name.
const MaxName = 64

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckName checks a profile name: letters, digits, '.', '_' and '-',
// starting with a letter or digit, at most MaxName characters. Names go
// into URLs and scripts as they are.
func CheckName(name string) error {
	if len(name) > MaxName {
		return fmt.Errorf("%q is longer than %d characters", name[:MaxName]+"...", MaxName)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q is not a usable profile name: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// CheckWord checks one word of a command: not empty, no spaces or
// control characters (line breaks included), not an operator ("&&",
// "||", ";"), not a comment ("#..."), no setting expansion ("${").
func CheckWord(w string) error {
	switch {
	case w == "":
		return fmt.Errorf("empty word")
	case w == "&&" || w == "||" || w == ";":
		return fmt.Errorf("%q would chain another iPXE command", w)
	case strings.HasPrefix(w, "#"):
		return fmt.Errorf("%q would start an iPXE comment", w)
	case strings.Contains(w, "${"):
		return fmt.Errorf("%q would expand an iPXE setting", w)
	}
	for _, r := range w {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return fmt.Errorf("%q contains a space or control character (%U)", w, r)
		}
	}
	return nil
}

// CheckCmdline checks a kernel command line that an iPXE script passes:
// its words, split at spaces, each pass CheckWord. The error names the
// first bad word.
func CheckCmdline(cmdline string) error {
	for _, r := range cmdline {
		if r != ' ' && (r < ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f)) {
			return fmt.Errorf("the kernel command line contains a control character (%U): it must be one line of words separated by spaces", r)
		}
	}
	for _, w := range strings.Fields(cmdline) {
		if err := CheckWord(w); err != nil {
			return fmt.Errorf("kernel command line: %w", err)
		}
	}
	return nil
}

// Script is an iPXE script being written. The first bad word makes
// Bytes fail; nothing after it is written.
type Script struct {
	b   strings.Builder
	err error
}

// NewScript starts a script.
func NewScript() *Script {
	s := &Script{}
	s.b.WriteString("#!ipxe\n")
	return s
}

// Comment adds a comment line; text must be one line.
func (s *Script) Comment(text string) {
	if s.err != nil {
		return
	}
	if strings.ContainsFunc(text, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		s.err = fmt.Errorf("comment %q is not one line", text)
		return
	}
	s.b.WriteString("# " + text + "\n")
}

// Command adds a command with its words.
func (s *Script) Command(name string, args ...string) {
	if s.err != nil {
		return
	}
	for _, w := range append([]string{name}, args...) {
		if err := CheckWord(w); err != nil {
			s.err = fmt.Errorf("iPXE command %s: %w", name, err)
			return
		}
	}
	s.b.WriteString(strings.Join(append([]string{name}, args...), " ") + "\n")
}

// Echo adds an echo command of a message made of plain words.
func (s *Script) Echo(words ...string) {
	s.Command("echo", words...)
}

// Bytes returns the script, or the error of the first bad word.
func (s *Script) Bytes() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	return []byte(s.b.String()), nil
}
