package power

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// command runs local commands: the power scripts of Beaker and LAVA's
// device dictionaries. A command that exits non-zero is rejected; one
// that cannot start is unreachable.
type command struct {
	s Spec
}

// maxOutput bounds what a command's output is kept of.
const maxOutput = 64 << 10

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *command) run(ctx context.Context, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			return text, fmt.Errorf("%w: %q %v: %s", ErrRejected, strings.Join(argv, " "), err, quoteTail(text))
		}
		return text, fmt.Errorf("%w: %q: %w", ErrUnreachable, strings.Join(argv, " "), err)
	}
	return text, nil
}

func quoteTail(s string) string {
	if len(s) > 500 {
		s = "..." + s[len(s)-500:]
	}
	if s == "" {
		return "(no output)"
	}
	return fmt.Sprintf("%q", s)
}

func (c *command) on(ctx context.Context) error {
	_, err := c.run(ctx, c.s.OnCmd)
	return err
}

func (c *command) off(ctx context.Context) error {
	_, err := c.run(ctx, c.s.OffCmd)
	return err
}

// cycle, for a command backend that cannot read its state: off, then on.
func (c *command) cycle(ctx context.Context) error {
	if err := c.off(ctx); err != nil {
		return err
	}
	return c.on(ctx)
}

func (c *command) readable() bool { return len(c.s.StatusCmd) > 0 }
func (c *command) close() error   { return nil }

func (c *command) bootPXE(context.Context) error {
	return fmt.Errorf("the command backend cannot set the next boot: %w (configure the machine to boot from the network first)", errors.ErrUnsupported)
}

var onOff = regexp.MustCompile(`(?i)\b(on|off)\b`)

// state runs the status command: its output must name exactly one of on
// and off as a word.
func (c *command) state(ctx context.Context) (State, error) {
	if !c.readable() {
		return Unknown, nil
	}
	out, err := c.run(ctx, c.s.StatusCmd)
	if err != nil {
		return Unknown, err
	}
	var seen State
	for _, m := range onOff.FindAllString(out, -1) {
		st := State(strings.ToLower(m))
		if seen != "" && seen != st {
			seen = Unknown
			break
		}
		seen = st
	}
	if seen == "" || seen == Unknown {
		return Unknown, fmt.Errorf("%w: status command %q printed %s, which says neither on nor off as a single word", ErrRejected, strings.Join(c.s.StatusCmd, " "), quoteTail(out))
	}
	return seen, nil
}
