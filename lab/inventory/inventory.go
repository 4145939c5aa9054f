// Package inventory is the lab's list of machines: name, MAC addresses,
// architecture, firmware, lab segment, tags, power backend, console and
// declared facts, loaded from YAML and checked like the build
// configuration (every problem at once, each naming file:line, the key
// and the fix). Credentials never appear in it: power entries name an
// environment variable or a file only the user can read.
//
// Facts are what a matrix selects machines by besides names and tags
// (`nic: 8086:10fb`, `nvme: true`). The inventory may declare them; the
// facts a booted image reports are stored per machine by the engine and
// take precedence (Machine.Facts merges both).
package inventory

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/lab/console"
	"github.com/rlgo/redleaf/lab/labyaml"
	"github.com/rlgo/redleaf/lab/power"
)

// Example is an inventory with every key; configs/lab/inventory.yaml is
// this text (a test keeps them equal).
const Example = `# rlbuild lab run --inventory configs/lab/inventory.yaml --matrix CI/matrix.yaml
lab: lab1                       # the lab segment of machines that name none
labs:                           # lab segments: one agent and netboot network each
  lab1:
    interface: br0              # the boot network the agent's netboot server serves
    address: 10.0.0.1/24        # the server's address on it (default: the interface's)
    http_port: 8080
machines:
  - name: rack1-n1
    macs: [0c:c4:7a:00:00:01]   # the NIC that netboots first
    arch: amd64                 # amd64 or arm64
    firmware: uefi              # uefi or bios
    lab: lab1
    tags: [x520, rack1]
    power:
      type: redfish             # redfish, ipmi, pdudaemon, command or qemu
      address: https://10.0.1.11
      user: admin
      password_env: RACK1_BMC_PASSWORD   # or password_file: (mode 0600)
      retries: 3
      timeout: 60s
    console:
      type: tcp                 # qemu, sol (IPMI), tcp (ser2net) or serial
      address: 10.0.1.2:3001
    facts:                      # declared; what the booted image reports wins
      nic: [8086:10fb]
      nvme: true
  - name: rack1-n2
    macs: [0c:c4:7a:00:00:02]
    arch: amd64
    firmware: bios
    tags: [rack1]
    power:
      type: ipmi
      address: 10.0.1.12:623
      user: admin
      password_file: ~/.config/rlbuild/bmc-password
    console:
      type: sol                 # Serial over LAN through the power entry's BMC
    timeouts:                   # this machine's slow firmware
      power: 2m
`

// Inventory is a loaded inventory file.
type Inventory struct {
	// Path is the file it was loaded from.
	Path string `yaml:"-"`
	// Lab is the lab segment of machines that do not name one
	// (default "default").
	Lab string `yaml:"lab"`
	// Labs configures the lab segments' boot networks.
	Labs map[string]*Lab `yaml:"labs"`
	// Machines in file order.
	Machines []*Machine `yaml:"machines"`

	byName map[string]*Machine
}

// Lab is one lab segment: a boot network with one agent.
type Lab struct {
	// Interface is the boot network's interface on the agent's host.
	Interface string `yaml:"interface"`
	// Address is the netboot server's address and prefix on it.
	Address string `yaml:"address"`
	// HTTPPort is the netboot server's HTTP port (default 8080).
	HTTPPort int `yaml:"http_port"`
}

// Machine is one machine.
type Machine struct {
	Name     string   `yaml:"name"`
	MACs     []string `yaml:"macs"`
	Arch     string   `yaml:"arch"`
	Firmware string   `yaml:"firmware"`
	Lab      string   `yaml:"lab"`
	Tags     []string `yaml:"tags"`
	Power    Power    `yaml:"power"`
	Console  Console  `yaml:"console"`
	// Declared are the facts the inventory declares.
	Declared map[string]Fact `yaml:"facts"`
	// Timeouts override the matrix's phase timeouts for this machine.
	Timeouts map[string]time.Duration `yaml:"timeouts"`
	// VM describes the QEMU VM of a type-qemu machine (`rlbuild lab vm`).
	VM *VM `yaml:"vm"`
}

// VM is how `rlbuild lab vm` starts a machine of the lab in a box.
type VM struct {
	MemoryMiB int `yaml:"memory_mib"`
	// NVMeMiB attaches an NVMe disk of this size (0: none).
	NVMeMiB int `yaml:"nvme_mib"`
	// Redfish and IPMI are the virtual BMC's listen addresses (host:port);
	// empty: that protocol is off.
	Redfish string `yaml:"redfish"`
	IPMI    string `yaml:"ipmi"`
}

// VMSocket stands for the QMP or serial socket of a VM the agent starts
// (a machine with a vm: entry and no socket path of its own).
const VMSocket = "(the VM's socket)"

// Power is a machine's power entry: lab/power's Spec, with its
// validation; the inventory sets its Machine and Firmware.
type Power = power.Spec

// Console is a machine's console entry: lab/console's Spec.
type Console = console.Spec

// Fact is a fact's value: a string, a bool, a number or a list of
// strings, kept as strings.
type Fact []string

// UnmarshalYAML takes a scalar or a list of scalars.
func (f *Fact) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*f = Fact{n.Value}
		return nil
	case yaml.SequenceNode:
		out := Fact{}
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("a fact is a value or a list of values")
			}
			out = append(out, item.Value)
		}
		*f = out
		return nil
	}
	return fmt.Errorf("a fact is a value or a list of values")
}

// String is the fact as written: one value, or a list in brackets.
func (f Fact) String() string {
	if len(f) == 1 {
		return f[0]
	}
	return "[" + strings.Join(f, ", ") + "]"
}

// Has reports whether the fact holds the value v (a member of a list).
func (f Fact) Has(v string) bool {
	for _, x := range f {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// Phases a machine's timeouts may name (package lab/cell).
var timeoutPhases = []string{"lease", "power", "dhcp", "loader", "booted", "suite", "results"}

var (
	nameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	factKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// Load reads and checks an inventory file.
func Load(path string) (*Inventory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{Origin: path, Msg: "cannot read the inventory: " + err.Error(), Fix: "pass an existing file with --inventory (configs/lab/qemu-lab.yaml is the lab in a box)"}
	}
	return Parse(b, path)
}

// Parse checks an inventory's contents; path names it in errors and
// anchors relative paths.
func Parse(b []byte, path string) (*Inventory, error) {
	inv := &Inventory{}
	lines, err := labyaml.Decode(path, b, inv)
	if err != nil {
		return nil, err
	}
	inv.Path = path
	if errs := inv.check(lines, filepath.Dir(path)); len(errs) > 0 {
		return nil, errs
	}
	return inv, nil
}

func (inv *Inventory) check(l labyaml.Lines, dir string) config.Errors {
	var errs config.Errors
	fail := func(key, msg, fix string) { errs = append(errs, l.Err(key, msg, fix)) }
	if inv.Lab == "" {
		inv.Lab = "default"
	} else if !nameRe.MatchString(inv.Lab) {
		fail("lab", fmt.Sprintf("%q is not a lab name", inv.Lab), "use lower-case letters, digits, - and _")
	}
	for name, lab := range inv.Labs {
		k := "labs." + name
		if !nameRe.MatchString(name) {
			fail(k, fmt.Sprintf("%q is not a lab name", name), "use lower-case letters, digits, - and _")
		}
		if lab == nil {
			inv.Labs[name] = &Lab{}
			continue
		}
		if lab.HTTPPort < 0 || lab.HTTPPort > 65535 {
			fail(k+".http_port", fmt.Sprintf("%d is not a port", lab.HTTPPort), "use 1-65535")
		}
	}
	if len(inv.Machines) == 0 {
		fail("machines", "no machines", "list the lab's machines under machines:")
	}
	inv.byName = map[string]*Machine{}
	macs := map[string]string{}
	for i, m := range inv.Machines {
		k := fmt.Sprintf("machines[%d]", i)
		if m == nil {
			fail(k, "empty entry", "remove it or give the machine's keys")
			inv.Machines[i] = &Machine{}
			continue
		}
		switch {
		case m.Name == "":
			fail(k+".name", "missing", "name the machine (lower-case letters, digits, - and _)")
		case !nameRe.MatchString(m.Name):
			fail(k+".name", fmt.Sprintf("%q is not a machine name", m.Name), "use lower-case letters, digits, - and _ (at most 63)")
		case inv.byName[m.Name] != nil:
			fail(k+".name", fmt.Sprintf("%q is listed twice", m.Name), "give each machine its own name")
		default:
			inv.byName[m.Name] = m
		}
		if len(m.MACs) == 0 {
			fail(k+".macs", "missing", "list the MAC address of the NIC that netboots, e.g. [52:54:00:12:34:56]")
		}
		for j, s := range m.MACs {
			hw, err := net.ParseMAC(s)
			if err != nil || len(hw) != 6 {
				fail(fmt.Sprintf("%s.macs[%d]", k, j), fmt.Sprintf("%q is not a MAC address", s), "write it as 52:54:00:12:34:56")
				continue
			}
			m.MACs[j] = hw.String()
			if other, ok := macs[hw.String()]; ok {
				fail(fmt.Sprintf("%s.macs[%d]", k, j), fmt.Sprintf("%s is also %s's", hw, other), "each NIC belongs to one machine")
			}
			macs[hw.String()] = m.Name
		}
		switch m.Arch {
		case "":
			m.Arch = "amd64"
		case "amd64", "arm64":
		default:
			fail(k+".arch", fmt.Sprintf("%q is not supported", m.Arch), "use amd64 or arm64")
		}
		switch m.Firmware {
		case "":
			m.Firmware = "uefi"
		case "uefi":
		case "bios":
			if m.Arch != "amd64" {
				fail(k+".firmware", "bios firmware is for amd64 machines", "use uefi")
			}
		default:
			fail(k+".firmware", fmt.Sprintf("%q is not a firmware", m.Firmware), "use uefi or bios")
		}
		if m.Lab == "" {
			m.Lab = inv.Lab
		} else if !nameRe.MatchString(m.Lab) {
			fail(k+".lab", fmt.Sprintf("%q is not a lab name", m.Lab), "use lower-case letters, digits, - and _")
		}
		if len(inv.Labs) > 0 && inv.Labs[m.Lab] == nil {
			fail(k+".lab", fmt.Sprintf("no lab %q under labs:", m.Lab), "add it to labs: or pick one of "+strings.Join(sortedKeys(inv.Labs), ", "))
		}
		for j, t := range m.Tags {
			if !nameRe.MatchString(t) {
				fail(fmt.Sprintf("%s.tags[%d]", k, j), fmt.Sprintf("%q is not a tag", t), "use lower-case letters, digits, - and _")
			}
		}
		checkPower(fail, k, m, dir)
		checkConsole(fail, k, m, dir)
		for name := range m.Declared {
			if !factKey.MatchString(name) {
				fail(k+".facts."+name, fmt.Sprintf("%q is not a fact name", name), "use lower-case letters, digits and _")
			}
		}
		for name, d := range m.Timeouts {
			if !contains(timeoutPhases, name) {
				fail(k+".timeouts."+name, "not a phase", "phases: "+strings.Join(timeoutPhases, ", "))
			} else if d <= 0 {
				fail(k+".timeouts."+name, "must be positive", "write e.g. 2m")
			}
		}
		if m.VM != nil {
			if m.Power.Type != "qemu" && m.VM.Redfish == "" && m.VM.IPMI == "" {
				fail(k+".vm", "a vm: entry is for machines `rlbuild lab vm` starts", "set power.type: qemu, or vm.redfish / vm.ipmi for its virtual BMC")
			}
			if m.VM.MemoryMiB != 0 && m.VM.MemoryMiB < 128 {
				fail(k+".vm.memory_mib", "at least 128", "")
			}
			if m.VM.NVMeMiB < 0 {
				fail(k+".vm.nvme_mib", "must not be negative", "")
			}
		}
	}
	return errs
}

// checkPower validates a power entry with lab/power's rules, naming
// the inventory's line, and resolves a relative password file.
func checkPower(fail func(key, msg, fix string), k string, m *Machine, dir string) {
	p := &m.Power
	p.Machine, p.Firmware = m.Name, m.Firmware
	if strings.HasPrefix(p.PasswordFile, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p.PasswordFile = filepath.Join(home, p.PasswordFile[2:])
		}
	} else if p.PasswordFile != "" && !filepath.IsAbs(p.PasswordFile) {
		p.PasswordFile = filepath.Join(dir, p.PasswordFile)
	}
	if p.Type == "qemu" && p.Address == "" && m.VM != nil {
		p.Address = VMSocket // the agent starts the VM and knows its socket
	}
	if p.Type == "qemu" && p.Address != "" && p.Address != VMSocket && !filepath.IsAbs(p.Address) {
		p.Address = filepath.Join(dir, p.Address)
	}
	sub(fail, k, "power.", p.Validate())
}

// checkConsole validates a console entry with lab/console's rules.
func checkConsole(fail func(key, msg, fix string), k string, m *Machine, dir string) {
	c := &m.Console
	if c.Type == "" && c.Address == "" && c.Baud == 0 {
		return // no console: the netboot server's events are the evidence
	}
	if c.Type == "qemu" && c.Address == "" && m.VM != nil {
		c.Address = VMSocket
	}
	if c.Type == "qemu" && c.Address != "" && c.Address != VMSocket && !filepath.IsAbs(c.Address) {
		c.Address = filepath.Join(dir, c.Address)
	}
	if c.Type == "sol" && m.Power.Type != "ipmi" {
		fail(k+".console.type", "IPMI SOL needs an ipmi power entry", "set power.type: ipmi, or use another console")
	}
	sub(fail, k, "console.", c.Validate())
}

// sub reports a Spec's config.Errors under the machine's key.
func sub(fail func(key, msg, fix string), k, prefix string, err error) {
	if err == nil {
		return
	}
	var es config.Errors
	if !errors.As(err, &es) {
		fail(strings.TrimSuffix(k+"."+prefix, "."), err.Error(), "")
		return
	}
	for _, e := range es {
		fail(k+"."+e.Key, e.Msg, e.Fix)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Machine returns the machine named name.
func (inv *Inventory) Machine(name string) *Machine { return inv.byName[name] }

// Names returns the machines' names in file order.
func (inv *Inventory) Names() []string {
	out := make([]string, len(inv.Machines))
	for i, m := range inv.Machines {
		out[i] = m.Name
	}
	return out
}

// InLab returns the machines of one lab segment.
func (inv *Inventory) InLab(lab string) []*Machine {
	var out []*Machine
	for _, m := range inv.Machines {
		if m.Lab == lab {
			out = append(out, m)
		}
	}
	return out
}

// LabNames returns the lab segments machines are in, sorted.
func (inv *Inventory) LabNames() []string {
	set := map[string]bool{}
	for _, m := range inv.Machines {
		set[m.Lab] = true
	}
	return sortedKeys(set)
}

// HasTag reports whether the machine has tag t.
func (m *Machine) HasTag(t string) bool { return contains(m.Tags, t) }

// Facts returns the machine's facts: declared ones, overridden by the
// reported ones, plus arch and firmware.
func (m *Machine) Facts(reported map[string]Fact) map[string]Fact {
	out := map[string]Fact{"arch": {m.Arch}, "firmware": {m.Firmware}}
	for k, v := range m.Declared {
		out[k] = v
	}
	for k, v := range reported {
		out[k] = v
	}
	return out
}

// Class is the machines a cell may run on interchangeably: the same
// arch, firmware and facts. Retries of infrastructure errors go to
// another machine of the same class.
func (m *Machine) Class() string {
	keys := sortedKeys(m.Declared)
	parts := []string{m.Arch, m.Firmware}
	for _, k := range keys {
		parts = append(parts, k+"="+m.Declared[k].String())
	}
	return strings.Join(parts, ",")
}
