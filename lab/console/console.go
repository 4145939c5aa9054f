// Package console attaches to lab machines' consoles: a QEMU VM's serial
// socket, IPMI Serial-over-LAN, a TCP serial server (ser2net) or a local
// serial device. Every byte read is also written to a log (a file per
// cell), whatever happens after, so a failure in the infrastructure still
// leaves its evidence; and tripwires (a kernel panic, a Go fatal error,
// an NVMe timeout, patterns of one's own) end a cell early with the line
// that matched. Matching and typing go through the one console matcher,
// package console at the top of the module (NewMatcher).
package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/lab/power"
)

// Spec is a machine's console entry in the inventory (YAML).
type Spec struct {
	Type    string `yaml:"type"`    // qemu | sol | tcp | serial
	Address string `yaml:"address"` // qemu: serial socket path; tcp: host:port; serial: /dev/ttyUSB0; sol: (the machine's ipmi power entry)
	Baud    int    `yaml:"baud"`    // serial: line speed (default 115200)
}

// Types lists the console types.
var Types = []string{"qemu", "sol", "tcp", "serial"}

// Validate checks s; its error is a config.Errors naming each key as
// "console.KEY".
func (s Spec) Validate() error {
	var errs config.Errors
	bad := func(key, msg, fix string) {
		errs = append(errs, &config.Error{Key: "console." + key, Msg: msg, Fix: fix})
	}
	switch s.Type {
	case "qemu":
		if s.Address == "" {
			bad("address", "missing", "set it to the VM's serial socket path (qemu.Config.SerialSocket)")
		}
	case "tcp":
		if _, port, err := net.SplitHostPort(s.Address); err != nil || port == "" {
			bad("address", fmt.Sprintf("%q is not host:port", s.Address), "set it to the ser2net port of the machine's serial line, e.g. console1.lab:3001")
		}
	case "serial":
		if !strings.HasPrefix(s.Address, "/dev/") {
			bad("address", fmt.Sprintf("%q is not a device", s.Address), "set it to the serial device, e.g. /dev/ttyUSB0")
		}
		if s.Baud != 0 {
			if _, ok := bauds[s.Baud]; !ok {
				bad("baud", fmt.Sprintf("%d is not a supported speed", s.Baud), "use one of 9600, 19200, 38400, 57600, 115200 (default), 230400, 460800, 921600")
			}
		}
	case "sol":
		if s.Address != "" {
			bad("address", "SOL uses the machine's IPMI BMC", "leave address out; set power.type: ipmi")
		}
	case "":
		bad("type", "missing", "set it to one of "+strings.Join(Types, ", "))
	default:
		bad("type", fmt.Sprintf("unknown console %q", s.Type), "use one of "+strings.Join(Types, ", "))
	}
	if s.Baud != 0 && s.Type != "serial" {
		bad("baud", "only a serial console has a speed", "leave baud out")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Conn is an attached console.
type Conn interface {
	io.ReadWriteCloser
}

// Error is a console that could not be attached or that failed.
type Error struct {
	Op      string // "open", "read"
	Machine string
	Type    string
	Err     error
}

func (e *Error) Error() string {
	m := e.Machine
	if m == "" {
		m = "machine"
	}
	return fmt.Sprintf("console %s %s (%s): %v", e.Op, m, e.Type, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Open attaches to the console of s (pw is the machine's power entry, for
// SOL's BMC and credentials; its Machine names the machine in errors).
// Every byte read is also written to log, before the reader sees it.
func Open(ctx context.Context, s Spec, pw power.Spec, log io.Writer) (Conn, error) {
	fail := func(err error) (Conn, error) {
		return nil, &Error{Op: "open", Machine: pw.Machine, Type: s.Type, Err: err}
	}
	if err := s.Validate(); err != nil {
		return fail(err)
	}
	var c io.ReadWriteCloser
	var err error
	switch s.Type {
	case "qemu":
		c, err = dial(ctx, "unix", s.Address)
	case "tcp":
		c, err = dial(ctx, "tcp", s.Address)
	case "serial":
		c, err = openSerial(s.Address, s.Baud)
	case "sol":
		c, err = openSOL(ctx, pw)
	}
	if err != nil {
		return fail(err)
	}
	if log == nil {
		log = io.Discard
	}
	return &logged{c: c, log: log}, nil
}

func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// logged copies every byte read to the log. A failing log (full disk)
// does not stop the console; its first error is returned by Close.
type logged struct {
	c   io.ReadWriteCloser
	mu  sync.Mutex
	log io.Writer
	err error
}

func (l *logged) Read(p []byte) (int, error) {
	n, err := l.c.Read(p)
	if n > 0 {
		l.mu.Lock()
		if l.err == nil {
			if _, werr := l.log.Write(p[:n]); werr != nil {
				l.err = fmt.Errorf("console log: %w", werr)
			}
		}
		l.mu.Unlock()
	}
	return n, err
}

func (l *logged) Write(p []byte) (int, error) { return l.c.Write(p) }

func (l *logged) Close() error {
	err := l.c.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return errors.Join(err, l.err)
}
