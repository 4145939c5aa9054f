package console

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sync"

	rlconsole "github.com/rlgo/redleaf/console"
)

// DefaultTripwires are the lines that end a cell early: the machine will
// not get anywhere after them.
func DefaultTripwires() []string {
	return []string{
		`Kernel panic - not syncing`,
		`^fatal error: `,              // the Go runtime's unrecoverable errors
		`^goroutine \d+ \[running\]:`, // the trace of an unrecovered Go panic
		`(?i)nvme.*timeout`,
		`BUG: (soft|hard) lockup|BUG: unable to handle`,
		`Out of memory: Killed process`,
	}
}

// CompileTripwires compiles patterns; an invalid one is an error naming it.
func CompileTripwires(patterns []string) ([]*regexp.Regexp, error) {
	res := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("tripwire %q is not a regular expression: %v", p, err)
		}
		res = append(res, re)
	}
	return res, nil
}

// maxLine bounds a line as tripwires see it: a machine that never ends
// its line is checked every maxLine bytes.
const maxLine = 16 << 10

// LineWatcher is an io.Writer that cuts what it is given into lines
// (without CRs) and calls onMatch with each line a pattern matches.
type LineWatcher struct {
	patterns []*regexp.Regexp
	onMatch  func(line string)

	mu   sync.Mutex
	line []byte
}

// NewLineWatcher returns a LineWatcher.
func NewLineWatcher(patterns []*regexp.Regexp, onMatch func(line string)) *LineWatcher {
	return &LineWatcher{patterns: patterns, onMatch: onMatch}
}

func (w *LineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range p {
		switch {
		case b == '\r':
		case b == '\n' || len(w.line) >= maxLine:
			w.check()
			if b != '\n' {
				w.line = append(w.line, b)
			}
		default:
			w.line = append(w.line, b)
		}
	}
	return len(p), nil
}

// Flush checks the unfinished last line.
func (w *LineWatcher) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.check()
}

func (w *LineWatcher) check() {
	if len(w.line) == 0 {
		return
	}
	line := string(bytes.ToValidUTF8(w.line, []byte("\uFFFD")))
	w.line = w.line[:0]
	for _, re := range w.patterns {
		if re.MatchString(line) {
			w.onMatch(line)
			return
		}
	}
}

// Watch reads r to its end and calls onMatch with every line a pattern
// matches.
func Watch(r io.Reader, patterns []*regexp.Regexp, onMatch func(line string)) error {
	w := NewLineWatcher(patterns, onMatch)
	_, err := io.Copy(w, r)
	w.Flush()
	return err
}

// NewMatcher wires an attached console to the one console matcher
// (expect/send), with the tripwires watching everything it reads.
func NewMatcher(c Conn, patterns []*regexp.Regexp, onTrip func(line string), opts ...rlconsole.Option) *rlconsole.Console {
	w := NewLineWatcher(patterns, onTrip)
	opts = append([]rlconsole.Option{rlconsole.WithTranscript(w), rlconsole.WithHistoryLimit(1 << 20)}, opts...)
	return rlconsole.New(c, c, opts...)
}
