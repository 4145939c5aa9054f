package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Step is one step of a console script, as `rlbuild boot --script` and the
// lab runner run them.
type Step struct {
	// Kind is "expect", "send" or "sleep".
	Kind string
	// Arg is the regular expression to wait for (expect), the text to
	// type (send) or the duration to pause (sleep, e.g. "2s").
	Arg string
	// Timeout bounds an expect step; 0 means Run's default timeout.
	Timeout time.Duration
}

// The kinds of steps.
const (
	KindExpect = "expect"
	KindSend   = "send"
	KindSleep  = "sleep"
)

// stepForms is what error messages offer as the accepted forms.
const stepForms = "want expect=REGEX, expect@TIMEOUT=REGEX (e.g. expect@90s=login:), send=TEXT or sleep=DURATION (e.g. sleep=2s)"

// String returns the step in the form ParseStep reads.
func (s Step) String() string {
	if s.Timeout != 0 {
		return fmt.Sprintf("%s@%v=%s", s.Kind, s.Timeout, s.Arg)
	}
	return s.Kind + "=" + s.Arg
}

// ParseStep parses one step:
//
//	expect=REGEX          wait for REGEX (Go syntax) with the default timeout
//	expect@90s=REGEX      wait for REGEX for at most 90s
//	send=TEXT             type TEXT followed by the line ending
//	sleep=2s              pause
//
// Everything after the first '=' is the argument, spaces included, so
// `expect=\$ ` waits for a shell prompt with its trailing space.
func ParseStep(s string) (Step, error) {
	head, arg, ok := strings.Cut(s, "=")
	if !ok {
		return Step{}, fmt.Errorf("step %q has no '=': %s", s, stepForms)
	}
	kind, timeout, hasTimeout := strings.Cut(strings.TrimSpace(head), "@")
	kind, timeout = strings.TrimSpace(kind), strings.TrimSpace(timeout)
	st := Step{Kind: kind, Arg: arg}
	switch kind {
	case KindExpect:
		if hasTimeout {
			d, err := time.ParseDuration(timeout)
			if err != nil {
				return Step{}, fmt.Errorf("step %q: bad timeout %q (want a duration like 90s or 2m): %s", s, timeout, stepForms)
			}
			if d <= 0 {
				return Step{}, fmt.Errorf("step %q: timeout %q must be positive", s, timeout)
			}
			st.Timeout = d
		}
		if arg == "" {
			return Step{}, fmt.Errorf("step %q: empty regular expression (it would match at once)", s)
		}
		if _, err := regexp.Compile(arg); err != nil {
			return Step{}, fmt.Errorf("step %q: invalid regular expression %q: %v", s, arg, err)
		}
	case KindSend, KindSleep:
		if hasTimeout {
			return Step{}, fmt.Errorf("step %q: only expect steps take a timeout (@DURATION); %s", s, stepForms)
		}
		if kind == KindSleep {
			if _, err := sleepDuration(arg); err != nil {
				return Step{}, fmt.Errorf("step %q: %v", s, err)
			}
		}
	default:
		return Step{}, fmt.Errorf("step %q: unknown kind %q: %s", s, kind, stepForms)
	}
	return st, nil
}

func sleepDuration(arg string) (time.Duration, error) {
	d, err := time.ParseDuration(arg)
	if err != nil {
		return 0, fmt.Errorf("bad sleep duration %q (want a duration like 2s or 500ms)", arg)
	}
	if d < 0 {
		return 0, fmt.Errorf("sleep duration %q is negative", arg)
	}
	return d, nil
}

// ParseScript reads a script: one step per line (see ParseStep), skipping
// blank lines and lines starting with '#'. Leading blanks are ignored,
// trailing ones are part of the step. name (usually the file name) prefixes
// errors as "name:line: ...".
func ParseScript(r io.Reader, name string) ([]Step, error) {
	var steps []Step
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(strings.TrimSuffix(sc.Text(), "\r"), " \t")
		if line == "" || strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		st, err := ParseStep(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		steps = append(steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return steps, nil
}

// Run runs steps in order. An expect step without its own timeout waits at
// most defaultTimeout (no limit but ctx's when defaultTimeout <= 0). The
// error names the failing step's number (from 1) and text and wraps the
// step's error, so errors.Is(err, ErrTimeout) still works.
func (c *Console) Run(ctx context.Context, steps []Step, defaultTimeout time.Duration) error {
	for i, st := range steps {
		if err := c.runStep(ctx, st, defaultTimeout); err != nil {
			return fmt.Errorf("script step %d (%s): %w", i+1, st, err)
		}
	}
	return nil
}

func (c *Console) runStep(ctx context.Context, st Step, defaultTimeout time.Duration) error {
	switch st.Kind {
	case KindExpect:
		re, err := regexp.Compile(st.Arg)
		if err != nil {
			return fmt.Errorf("invalid regular expression: %v", err)
		}
		timeout := st.Timeout
		if timeout == 0 {
			timeout = defaultTimeout
		}
		if timeout <= 0 {
			_, err = c.Expect(ctx, re)
			return err
		}
		report := timeout
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
			report = 0 // ctx ends first: report the time actually waited
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err = c.expect(ctx, re, report)
		return err
	case KindSend:
		return c.SendLine(st.Arg)
	case KindSleep:
		d, err := sleepDuration(st.Arg)
		if err != nil {
			return err
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
		return errors.New("unknown kind: " + stepForms)
	}
}
