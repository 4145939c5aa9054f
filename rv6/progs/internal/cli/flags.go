package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Flags are named options as Go's flag package spells them (-name VALUE,
// -name=VALUE, -flag for a bool), for the programs whose users know them
// from the kernel's commands (the flag package itself is not for domains:
// it reads os.Args).
type Flags struct {
	defs map[string]*flagDef
}

type flagDef struct {
	usage, def string
	bool       bool
	set        func(string) error
}

// NewFlags returns an empty set.
func NewFlags() *Flags { return &Flags{defs: map[string]*flagDef{}} }

func (f *Flags) add(name, usage, def string, isBool bool, set func(string) error) {
	f.defs[name] = &flagDef{usage: usage, def: def, bool: isBool, set: set}
}

// String defines a string flag.
func (f *Flags) String(name, def, usage string) *string {
	v := def
	f.add(name, usage, def, false, func(s string) error { v = s; return nil })
	return &v
}

// Bool defines a bool flag.
func (f *Flags) Bool(name string, def bool, usage string) *bool {
	v := def
	f.add(name, usage, strconv.FormatBool(def), true, func(s string) error {
		b, err := strconv.ParseBool(s)
		v = b
		return err
	})
	return &v
}

// Int defines an int flag.
func (f *Flags) Int(name string, def int, usage string) *int {
	v := def
	f.add(name, usage, strconv.Itoa(def), false, func(s string) error {
		n, err := strconv.Atoi(s)
		v = n
		return err
	})
	return &v
}

// Uint64 defines a uint64 flag.
func (f *Flags) Uint64(name string, def uint64, usage string) *uint64 {
	v := def
	f.add(name, usage, strconv.FormatUint(def, 10), false, func(s string) error {
		n, err := strconv.ParseUint(s, 0, 64)
		v = n
		return err
	})
	return &v
}

// Duration defines a duration flag.
func (f *Flags) Duration(name string, def time.Duration, usage string) *time.Duration {
	v := def
	f.add(name, usage, def.String(), false, func(s string) error {
		d, err := time.ParseDuration(s)
		v = d
		return err
	})
	return &v
}

// Parse parses the flags at the front of args (without the program's
// name) and returns the rest. "--" ends them, and so does the first
// argument that does not start with '-'.
func (f *Flags) Parse(args []string) ([]string, error) {
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return args[1:], nil
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		d := f.defs[name]
		if d == nil {
			return nil, fmt.Errorf("unknown flag -%s", name)
		}
		if !hasVal {
			if d.bool {
				val = "true"
			} else if len(args) == 0 {
				return nil, fmt.Errorf("flag -%s needs a value", name)
			} else {
				val, args = args[0], args[1:]
			}
		}
		if err := d.set(val); err != nil {
			return nil, fmt.Errorf("bad value %q for -%s: %v", val, name, ErrText(err))
		}
	}
	return args, nil
}

// ErrText is the innermost text of err (strconv's reason).
func ErrText(err error) string {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err.Error()
	}
	return err.Error()
}

// Defaults writes the flags with their meanings and defaults.
func (f *Flags) Defaults(w io.Writer) {
	names := make([]string, 0, len(f.defs))
	for n := range f.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := f.defs[n]
		fmt.Fprintf(w, "  -%s\n    \t%s (default %s)\n", n, d.usage, d.def)
	}
}

// ParseFlags parses p's arguments with f; on an error it reports it with
// the usage line and the flags, and returns false.
func ParseFlags(p interface {
	Errorf(string, ...any)
}, stderr io.Writer, f *Flags, args []string, line string) ([]string, bool) {
	rest, err := f.Parse(args)
	if err != nil {
		p.Errorf("%v", err)
		fmt.Fprintf(stderr, "usage: %s\n", line)
		f.Defaults(stderr)
		return nil, false
	}
	return rest, true
}
