package power

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/config"
)

// Spec is a machine's power entry in the inventory (YAML), validated by
// Validate. Credentials are never in the inventory: the password comes
// from an environment variable or from a file only its owner can read.
type Spec struct {
	Type    string `yaml:"type"`    // redfish | ipmi | pdudaemon | command | qemu
	Address string `yaml:"address"` // URL (redfish, pdudaemon), host[:port] (ipmi, port 623), QMP socket path (qemu)
	User    string `yaml:"user"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
	// PasswordFile is a file holding the password (mode 0600 or stricter).
	PasswordFile string   `yaml:"password_file"`
	System       string   `yaml:"system"` // redfish system id (default: the only one)
	PDU          string   `yaml:"pdu"`    // pdudaemon hostname of the PDU
	Port         string   `yaml:"port"`   // pdudaemon outlet
	OnCmd        []string `yaml:"on"`     // command backend: argv to power on
	OffCmd       []string `yaml:"off"`    // command backend: argv to power off
	// StatusCmd is the command backend's argv whose output says on or
	// off (one of the words, e.g. ipmitool's "Chassis Power is on").
	// Without it the state cannot be read back (see Confirms).
	StatusCmd []string `yaml:"status"`
	// Retries bounds the retries of an action (0 means the default, 3;
	// -1 means none).
	Retries int           `yaml:"retries"`
	Timeout time.Duration `yaml:"timeout"` // per action incl. read-back confirmation (default 60s)
	// Insecure skips the verification of a Redfish BMC's TLS certificate
	// (BMCs mostly have self-signed ones).
	Insecure bool `yaml:"insecure"`

	// Machine is the machine's name, for errors; the inventory sets it.
	Machine string `yaml:"-"`
	// Firmware is the machine's firmware, "bios" or "uefi" (default), so
	// that a one-time network boot asks for the right kind (IPMI's EFI
	// boot flag, Redfish's BootSourceOverrideMode); the inventory sets it.
	Firmware string `yaml:"-"`
}

// Types lists the backend types.
var Types = []string{"redfish", "ipmi", "pdudaemon", "command", "qemu"}

const (
	defaultRetries = 3
	defaultTimeout = 60 * time.Second
	maxRetries     = 10
)

func (s Spec) withDefaults() Spec {
	switch s.Retries {
	case 0:
		s.Retries = defaultRetries
	case -1:
		s.Retries = 0
	}
	if s.Timeout == 0 {
		s.Timeout = defaultTimeout
	}
	return s
}

// Validate checks s; its error is a config.Errors naming each key (as
// "power.KEY"; the inventory adds the file and line) and its fix.
func (s Spec) Validate() error {
	var errs config.Errors
	bad := func(key, msg, fix string) {
		errs = append(errs, &config.Error{Key: "power." + key, Msg: msg, Fix: fix})
	}
	needAddr := func(what string) bool {
		if s.Address == "" {
			bad("address", "missing", "set it to "+what)
			return false
		}
		return true
	}
	checkURL := func(example string) {
		u, err := url.Parse(s.Address)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("address", fmt.Sprintf("%q is not an http(s) URL", s.Address), "write it like "+example)
		}
	}
	switch s.Type {
	case "redfish":
		if needAddr("the BMC's URL, e.g. https://bmc1.lab:443") {
			checkURL("https://bmc1.lab")
		}
	case "ipmi":
		if needAddr("the BMC's host[:port], e.g. bmc1.lab:623") {
			if _, _, err := IPMIHostPort(s.Address); err != nil {
				bad("address", err.Error(), "write it as host or host:port, e.g. bmc1.lab:623")
			}
		}
	case "pdudaemon":
		if needAddr("pdudaemon's URL, e.g. http://pdu-host:16421") {
			checkURL("http://pdu-host:16421")
		}
		if s.PDU == "" {
			bad("pdu", "missing", "set it to the PDU's hostname as pdudaemon's configuration names it")
		}
		if n, err := strconv.Atoi(s.Port); err != nil || n < 0 {
			bad("port", fmt.Sprintf("%q is not an outlet number", s.Port), "set it to the machine's outlet on the PDU, e.g. 3")
		}
	case "command":
		if len(s.OnCmd) == 0 || s.OnCmd[0] == "" {
			bad("on", "missing", "give the command that powers the machine on, as a list: [cmd, arg, ...]")
		}
		if len(s.OffCmd) == 0 || s.OffCmd[0] == "" {
			bad("off", "missing", "give the command that powers the machine off, as a list: [cmd, arg, ...]")
		}
		if len(s.StatusCmd) > 0 && s.StatusCmd[0] == "" {
			bad("status", "empty command", "give the command that prints on or off, or leave status out")
		}
	case "qemu":
		needAddr("the VM's QMP socket path")
	case "":
		bad("type", "missing", "set it to one of "+strings.Join(Types, ", "))
	default:
		bad("type", fmt.Sprintf("unknown backend %q", s.Type), "use one of "+strings.Join(Types, ", "))
	}
	if s.PasswordEnv != "" && s.PasswordFile != "" {
		bad("password_env", "both password_env and password_file are set", "keep one of them")
	}
	switch s.Type {
	case "redfish", "ipmi":
		if s.User == "" {
			bad("user", "missing", "set the BMC user name")
		}
		if s.PasswordEnv == "" && s.PasswordFile == "" {
			bad("password_env", "no credential", "set password_env (an environment variable's name) or password_file (a file readable only by you); passwords never go into the inventory")
		}
	}
	if s.Retries < -1 || s.Retries > maxRetries {
		bad("retries", fmt.Sprintf("%d is out of range", s.Retries), fmt.Sprintf("use 1 to %d, -1 for none, or leave it out for the default %d", maxRetries, defaultRetries))
	}
	if s.Timeout < 0 || (s.Timeout > 0 && s.Timeout < time.Second) {
		bad("timeout", fmt.Sprintf("%v is too short", s.Timeout), "use at least 1s (default 60s); it covers the action and its confirmation")
	}
	switch s.Firmware {
	case "", "bios", "uefi":
	default:
		bad("firmware", fmt.Sprintf("unknown firmware %q", s.Firmware), "use bios or uefi")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// IPMIHostPort splits an IPMI address, with 623 as the default port.
func IPMIHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return addr, 623, nil
		}
		return "", 0, fmt.Errorf("%q: %v", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port %q", addr, portStr)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q: no host", addr)
	}
	return host, port, nil
}
