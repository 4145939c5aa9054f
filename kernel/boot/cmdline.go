package boot

import (
	"fmt"
	"os"
	"strings"

	"github.com/rlgo/redleaf/bootparam"
)

// CmdlinePath is where Linux exposes the kernel command line.
const CmdlinePath = "/proc/cmdline"

// Param is one kernel command line parameter: "key=value" or a bare flag
// "key" (HasValue false).
type Param struct {
	Key      string
	Value    string
	HasValue bool
}

func (p Param) String() string {
	if !p.HasValue {
		return p.Key
	}
	if strings.ContainsAny(p.Value, " \t") {
		return p.Key + `="` + p.Value + `"`
	}
	return p.Key + "=" + p.Value
}

// Cmdline is a parsed kernel command line.
type Cmdline struct {
	// Raw is the command line as read, without the trailing newline.
	Raw string
	// Params are the parameters in order. Parameters after a lone "--"
	// (the ones Linux hands to init as arguments) are included too.
	Params []Param
}

// ParseCmdline splits a kernel command line the way Linux does
// (lib/cmdline.c next_arg): parameters are separated by white space outside
// double quotes; the first '=' separates key and value; a double quote
// opening the parameter or the value, and one closing it, are removed
// (`"k=a b"` and `k="a b"` both give k = "a b"). It never fails.
func ParseCmdline(s string) *Cmdline {
	s = strings.TrimRight(s, "\x00\n")
	c := &Cmdline{Raw: s}
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		arg := s[i:]
		quoted := false
		if arg[0] == '"' {
			arg, quoted = arg[1:], true
			i++
		}
		inQuote, eq, n := quoted, -1, 0
		for ; n < len(arg); n++ {
			if isSpace(arg[n]) && !inQuote {
				break
			}
			if eq < 0 && arg[n] == '=' {
				eq = n
			}
			if arg[n] == '"' {
				inQuote = !inQuote
			}
		}
		i += n
		arg = arg[:n]
		if quoted || eq >= 0 && eq+1 < len(arg) && arg[eq+1] == '"' {
			arg = strings.TrimSuffix(arg, `"`)
		}
		p := Param{Key: arg}
		if eq >= 0 && eq < len(arg) {
			p = Param{Key: arg[:eq], Value: strings.TrimPrefix(arg[eq+1:], `"`), HasValue: true}
		}
		if p.Key == "" && !p.HasValue {
			continue // a lone pair of quotes
		}
		c.Params = append(c.Params, p)
	}
	return c
}

func isSpace(ch byte) bool {
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'
}

// ReadCmdline reads and parses /proc/cmdline.
func ReadCmdline() (*Cmdline, error) {
	b, err := os.ReadFile(CmdlinePath)
	if err != nil {
		return &Cmdline{}, fmt.Errorf("read kernel command line: %w", err)
	}
	return ParseCmdline(string(b)), nil
}

// Lookup returns the value of the last parameter named key (Linux lets a
// later parameter override an earlier one). For a bare flag it returns ""
// and true.
func (c *Cmdline) Lookup(key string) (string, bool) {
	if c == nil {
		return "", false
	}
	for i := len(c.Params) - 1; i >= 0; i-- {
		if c.Params[i].Key == key {
			return c.Params[i].Value, true
		}
	}
	return "", false
}

// Has reports whether key is present, as a flag or with a value.
func (c *Cmdline) Has(key string) bool {
	_, ok := c.Lookup(key)
	return ok
}

// Bool interprets key as a boolean: a bare flag is true; "1", "y", "yes",
// "on", "true" are true; "0", "n", "no", "off", "false" are false. A
// missing key gives def; an unrecognised value gives def and an error.
func (c *Cmdline) Bool(key string, def bool) (bool, error) {
	v, ok := c.Lookup(key)
	if !ok {
		return def, nil
	}
	b, ok := parseBool(v)
	if !ok {
		return def, fmt.Errorf("%s=%q: want 0 or 1", key, v)
	}
	return b, nil
}

func parseBool(v string) (val, ok bool) {
	switch strings.ToLower(v) {
	case "", "1", "y", "yes", "on", "true":
		return true, true
	case "0", "n", "no", "off", "false":
		return false, true
	}
	return false, false
}

// Prefix is the prefix of the kernel command line keys the domain kernel
// understands (package bootparam names them all). Other keys are ignored.
const Prefix = bootparam.Prefix

// Config is the domain kernel's configuration from the command line.
type Config struct {
	// OnFatal is what to do after a fatal error (rl.onfatal=
	// poweroff|reboot|halt, default poweroff).
	OnFatal Action
	// Shell starts the console shell (rl.shell=0 disables it).
	Shell bool
	// Debug enables verbose output (rl.debug or rl.debug=1).
	Debug bool
	// Root is where Rv6's root file system comes from (rl.root=
	// ramdisk|nvme|auto, default auto).
	Root Root
}

// Root chooses the device holding Rv6's root file system.
type Root string

// Roots.
const (
	// RootAuto: the NVMe namespace holding an Rv6 file system if there
	// is one, else the RAM disk (filled from RAMDiskImage if the
	// initramfs has it).
	RootAuto Root = "auto"
	// RootRAMDisk: the RAM disk.
	RootRAMDisk Root = "ramdisk"
	// RootNVMe: the first NVMe namespace.
	RootNVMe Root = "nvme"
)

// RAMDiskImage is where the initramfs holds the Rv6 file-system image
// that `rlbuild image` makes (rv6.fs.place: initramfs); the system loads
// it as the RAM disk's contents.
const RAMDiskImage = "/rv6/root.img"

// ParseRoot parses the value of rl.root.
func ParseRoot(s string) (Root, error) {
	switch r := Root(strings.ToLower(s)); r {
	case RootAuto, RootRAMDisk, RootNVMe:
		return r, nil
	}
	return RootAuto, fmt.Errorf("unknown root %q: want ramdisk, nvme or auto", s)
}

// DefaultConfig is the configuration with an empty command line.
func DefaultConfig() Config {
	return Config{OnFatal: ActionPoweroff, Shell: true, Root: RootAuto}
}

// ParseConfig extracts the rl.* keys from c. Invalid values are reported in
// the returned errors and replaced by their defaults; unknown keys are
// ignored.
func ParseConfig(c *Cmdline) (Config, []error) {
	cfg := DefaultConfig()
	var errs []error
	if v, ok := c.Lookup(bootparam.OnFatal); ok {
		a, err := ParseAction(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (using %s)", bootparam.OnFatal, err, cfg.OnFatal))
		} else {
			cfg.OnFatal = a
		}
	}
	var err error
	if cfg.Shell, err = c.Bool(bootparam.Shell, cfg.Shell); err != nil {
		errs = append(errs, err)
	}
	if cfg.Debug, err = c.Bool(bootparam.Debug, cfg.Debug); err != nil {
		errs = append(errs, err)
	}
	if v, ok := c.Lookup(bootparam.Root); ok {
		r, err := ParseRoot(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (using %s)", bootparam.Root, err, cfg.Root))
		} else {
			cfg.Root = r
		}
	}
	return cfg, errs
}
