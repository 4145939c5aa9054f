// Package power switches lab machines on and off and sets their next boot
// to the network, through the machine's BMC or PDU: Redfish (gofish),
// IPMI over RMCP+ (go-ipmi), pdudaemon's HTTP API, local commands, or QMP
// for a QEMU VM. Every action is confirmed by reading the power state back
// (where the backend can be read: pdudaemon cannot, see Confirms), with
// bounded retries and backoff, and every failure is a *Error whose Err
// says what kind it is (ErrAuth, ErrUnreachable, ErrRejected,
// ErrUnconfirmed), so the lab runner can tell an infrastructure failure
// from anything else and does not retry what retrying cannot fix.
package power

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// State is a machine's power state.
type State string

// The power states.
const (
	On      State = "on"
	Off     State = "off"
	Unknown State = "unknown"
)

// Action is what Set does.
type Action string

// The actions.
const (
	ActionOn    Action = "on"
	ActionOff   Action = "off"
	ActionCycle Action = "cycle" // off (confirmed), then on (confirmed)
)

// ParseAction returns s as an Action.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case ActionOn, ActionOff, ActionCycle:
		return a, nil
	}
	return "", fmt.Errorf("power action %q: want on, off or cycle", s)
}

// Backend powers one machine.
type Backend interface {
	// Set performs a, confirmed by reading the state back, with bounded
	// retries; its error is a *Error.
	Set(ctx context.Context, a Action) error
	// State reads the power state; Unknown (and no error) where the
	// backend cannot read it (pdudaemon).
	State(ctx context.Context) (State, error)
	// BootPXEOnce makes the next boot a network boot, once; an error
	// wrapping errors.ErrUnsupported where the backend cannot (pdudaemon,
	// command).
	BootPXEOnce(ctx context.Context) error
	Close() error
}

// Sentinel errors, wrapped by *Error.Err, for errors.Is.
var (
	// ErrAuth: the BMC refused the credentials. Not retried: real BMCs
	// lock accounts after a few failures.
	ErrAuth = errors.New("credentials refused")
	// ErrUnreachable: the BMC, PDU, command or QEMU could not be reached.
	ErrUnreachable = errors.New("not reachable")
	// ErrRejected: the BMC answered but refused or failed the request.
	ErrRejected = errors.New("request rejected")
	// ErrUnconfirmed: the action was accepted but the state read back
	// never became the one asked for within the timeout.
	ErrUnconfirmed = errors.New("state not confirmed")
)

// Error is a failed power operation.
type Error struct {
	Op      string // "on", "off", "cycle", "state", "boot-pxe", "open"
	Machine string // the machine's name (Spec.Machine), may be empty
	Backend string // Spec.Type
	Err     error
}

func (e *Error) Error() string {
	m := e.Machine
	if m == "" {
		m = "machine"
	}
	return fmt.Sprintf("power %s %s (%s): %v", e.Op, m, e.Backend, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Open returns the backend of s (validated first).
func Open(ctx context.Context, s Spec) (Backend, error) {
	s = s.withDefaults()
	if err := s.Validate(); err != nil {
		return nil, &Error{Op: "open", Machine: s.Machine, Backend: s.Type, Err: err}
	}
	pass, err := s.Password()
	if err != nil {
		return nil, &Error{Op: "open", Machine: s.Machine, Backend: s.Type, Err: err}
	}
	var d driver
	switch s.Type {
	case "redfish":
		d, err = openRedfish(ctx, s, pass)
	case "ipmi":
		d, err = openIPMI(s, pass)
	case "pdudaemon":
		d, err = openPDU(s)
	case "command":
		d = &command{s: s}
	case "qemu":
		d, err = openQEMU(ctx, s)
	}
	if err != nil {
		return nil, &Error{Op: "open", Machine: s.Machine, Backend: s.Type, Err: err}
	}
	return &backend{s: s, d: d}, nil
}

// Confirms reports whether b's Set confirms by reading the state back.
// pdudaemon cannot be read (its API has no state), nor can a command
// backend without a status command: for them a successful Set means the
// request was accepted, and the caller must take the machine's next sign
// of life (a DHCP request, a boot event) as the confirmation.
func Confirms(b Backend) bool {
	bb, ok := b.(*backend)
	return ok && bb.d.readable()
}

// Password reads the credential from the environment or a file that only
// its owner can read.
func (s Spec) Password() (string, error) {
	switch {
	case s.PasswordEnv != "":
		p, ok := os.LookupEnv(s.PasswordEnv)
		if !ok || p == "" {
			return "", fmt.Errorf("password_env: environment variable %s is not set: export it with the %s password", s.PasswordEnv, s.Type)
		}
		return p, nil
	case s.PasswordFile != "":
		fi, err := os.Stat(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password_file: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("password_file: %s is readable by others (mode %v): chmod 600 %s", s.PasswordFile, fi.Mode().Perm(), s.PasswordFile)
		}
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password_file: %w", err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", fmt.Errorf("password_file: %s is empty", s.PasswordFile)
		}
		return p, nil
	}
	return "", nil
}

// driver is what a backend type does; backend adds confirmation and
// retries on top.
type driver interface {
	on(ctx context.Context) error
	off(ctx context.Context) error
	// cycle is a single cycle request, for drivers that cannot read the
	// state back (pdudaemon's reboot); others return errors.ErrUnsupported.
	cycle(ctx context.Context) error
	state(ctx context.Context) (State, error)
	bootPXE(ctx context.Context) error
	readable() bool
	close() error
}

type backend struct {
	s Spec
	d driver
}

func (b *backend) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return &Error{Op: op, Machine: b.s.Machine, Backend: b.s.Type, Err: err}
}

func (b *backend) State(ctx context.Context) (State, error) {
	ctx, cancel := context.WithTimeout(ctx, b.s.Timeout)
	defer cancel()
	var st State
	err := b.retry(ctx, func(ctx context.Context) error {
		var err error
		st, err = b.d.state(ctx)
		return err
	})
	if err != nil {
		return Unknown, b.fail("state", err)
	}
	return st, nil
}

func (b *backend) BootPXEOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.s.Timeout)
	defer cancel()
	return b.fail("boot-pxe", b.retry(ctx, b.d.bootPXE))
}

func (b *backend) Close() error { return b.d.close() }

func (b *backend) Set(ctx context.Context, a Action) error {
	switch a {
	case ActionOn:
		return b.fail(string(a), b.set(ctx, On))
	case ActionOff:
		return b.fail(string(a), b.set(ctx, Off))
	case ActionCycle:
		if !b.d.readable() {
			ctx, cancel := context.WithTimeout(ctx, b.s.Timeout)
			defer cancel()
			return b.fail(string(a), b.retry(ctx, b.d.cycle))
		}
		if err := b.set(ctx, Off); err != nil {
			return b.fail(string(a), fmt.Errorf("powering off: %w", err))
		}
		if err := b.set(ctx, On); err != nil {
			return b.fail(string(a), fmt.Errorf("powering on: %w", err))
		}
		return nil
	}
	return b.fail(string(a), fmt.Errorf("%w: unknown action %q (on, off, cycle)", ErrRejected, a))
}

// set asks for want and polls the state until it reads want; each attempt
// gets an equal share of the timeout, retried on anything but ErrAuth.
func (b *backend) set(ctx context.Context, want State) error {
	ctx, cancel := context.WithTimeout(ctx, b.s.Timeout)
	defer cancel()
	do := b.d.on
	if want == Off {
		do = b.d.off
	}
	attempts := b.s.Retries + 1
	return b.retry(ctx, func(ctx context.Context) error {
		if err := do(ctx); err != nil {
			return err
		}
		if !b.d.readable() {
			return nil
		}
		// Confirm within this attempt's share of the time left.
		share := time.Until(deadline(ctx)) / time.Duration(attempts)
		cctx, cancel := context.WithTimeout(ctx, max(share, time.Second))
		defer cancel()
		return b.confirm(cctx, want)
	})
}

func deadline(ctx context.Context) time.Time {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Minute)
	}
	return dl
}

// confirm polls the state until it is want.
func (b *backend) confirm(ctx context.Context, want State) error {
	poll := 100 * time.Millisecond
	last := Unknown
	var lastErr error
	for {
		st, err := b.d.state(ctx)
		if err == nil && st == want {
			return nil
		}
		if errors.Is(err, ErrAuth) {
			return err
		}
		last, lastErr = st, err
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr != nil {
				return fmt.Errorf("%w: reading the state back: %w", ErrUnconfirmed, lastErr)
			}
			return fmt.Errorf("%w: the machine still reads %s, not %s", ErrUnconfirmed, last, want)
		case <-t.C:
		}
		poll = min(2*poll, 2*time.Second)
	}
}

// retry runs op up to Retries+1 times with exponential backoff (0.5 s,
// 1 s, 2 s... at most 8 s) while ctx lasts. Credentials refused are not
// retried.
func (b *backend) retry(ctx context.Context, op func(context.Context) error) error {
	backoff := 500 * time.Millisecond
	var err, informative error
	n := 0
	for i := 0; i <= b.s.Retries; i++ {
		n++
		if err = op(ctx); err == nil || errors.Is(err, ErrAuth) || errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		if ctx.Err() == nil {
			informative = err
		} else if informative != nil {
			// The time ran out in this attempt: the earlier attempt's
			// error says more.
			err = fmt.Errorf("%w; then the time (%v) ran out", informative, b.s.Timeout)
		}
		if i == b.s.Retries || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, 8*time.Second)
	}
	if n > 1 {
		return fmt.Errorf("%w (after %d attempts)", err, n)
	}
	return err
}
