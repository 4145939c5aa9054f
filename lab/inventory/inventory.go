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
	"github.com/rlgo/redleaf/lab/labyaml"
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
      type: sol                 # qemu, sol, tcp (ser2net) or serial
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
      type: tcp
      address: 10.0.1.2:3001    # ser2net
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

// Power is a machine's power entry (package lab/power's Spec).
type Power struct {
	Type         string        `yaml:"type"`
	Address      string        `yaml:"address"`
	User         string        `yaml:"user"`
	PasswordEnv  string        `yaml:"password_env"`
	PasswordFile string        `yaml:"password_file"`
	System       string        `yaml:"system"`
	PDU          string        `yaml:"pdu"`
	Port         string        `yaml:"port"`
	OnCmd        []string      `yaml:"on"`
	OffCmd       []string      `yaml:"off"`
	StatusCmd    []string      `yaml:"status"`
	Retries      int           `yaml:"retries"`
	Timeout      time.Duration `yaml:"timeout"`
}

// Console is a machine's console entry (package lab/console's Spec).
type Console struct {
	Type    string `yaml:"type"`
	Address string `yaml:"address"`
	Baud    int    `yaml:"baud"`
}

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
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	factKey  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	powerTys = []string{"redfish", "ipmi", "pdudaemon", "command", "qemu"}
	consTys  = []string{"qemu", "sol", "tcp", "serial"}
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
		checkPower(fail, k+".power", &m.Power, dir)
		checkConsole(fail, k+".console", &m.Console, m.Power.Type)
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

func checkPower(fail func(key, msg, fix string), k string, p *Power, dir string) {
	if p.Type == "" {
		fail(k+".type", "missing", "use one of "+strings.Join(powerTys, ", "))
		return
	}
	if !contains(powerTys, p.Type) {
		fail(k+".type", fmt.Sprintf("%q is not a power backend", p.Type), "use one of "+strings.Join(powerTys, ", "))
		return
	}
	switch p.Type {
	case "redfish", "pdudaemon":
		if !strings.HasPrefix(p.Address, "http://") && !strings.HasPrefix(p.Address, "https://") {
			fail(k+".address", fmt.Sprintf("%q is not a URL", p.Address), "write the BMC's or pdudaemon's URL, e.g. https://10.0.1.11")
		}
	case "ipmi":
		if _, _, err := net.SplitHostPort(p.Address); err != nil {
			fail(k+".address", fmt.Sprintf("%q is not host:port", p.Address), "write e.g. 10.0.1.12:623")
		}
	case "qemu":
		if p.Address == "" {
			fail(k+".address", "missing", "name the VM's QMP socket")
		}
	case "command":
		if len(p.OnCmd) == 0 || len(p.OffCmd) == 0 || len(p.StatusCmd) == 0 {
			fail(k, "the command backend needs on, off and status", "give each as an argv list")
		}
	}
	if p.Type == "pdudaemon" && (p.PDU == "" || p.Port == "") {
		fail(k, "pdudaemon needs pdu and port", "name the PDU as pdudaemon knows it and the outlet")
	}
	if p.PasswordEnv != "" && p.PasswordFile != "" {
		fail(k+".password_file", "both password_env and password_file are set", "keep one")
	}
	if strings.HasPrefix(p.PasswordFile, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p.PasswordFile = filepath.Join(home, p.PasswordFile[2:])
		}
	} else if p.PasswordFile != "" && !filepath.IsAbs(p.PasswordFile) {
		p.PasswordFile = filepath.Join(dir, p.PasswordFile)
	}
	if p.Retries < 0 || p.Retries > 20 {
		fail(k+".retries", fmt.Sprintf("%d is out of range", p.Retries), "use 0-20")
	}
	if p.Timeout < 0 {
		fail(k+".timeout", "must be positive", "write e.g. 60s")
	}
}

func checkConsole(fail func(key, msg, fix string), k string, c *Console, power string) {
	if c.Type == "" {
		return // no console: only the netboot server's events are evidence
	}
	if !contains(consTys, c.Type) {
		fail(k+".type", fmt.Sprintf("%q is not a console type", c.Type), "use one of "+strings.Join(consTys, ", "))
		return
	}
	switch c.Type {
	case "sol":
		if power != "ipmi" {
			fail(k+".type", "IPMI SOL needs an ipmi power entry", "set power.type: ipmi, or use another console")
		}
	case "tcp":
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			fail(k+".address", fmt.Sprintf("%q is not host:port", c.Address), "write ser2net's address, e.g. 10.0.1.2:3001")
		}
	case "qemu", "serial":
		if c.Address == "" {
			fail(k+".address", "missing", "name the serial socket or device")
		}
	}
	if c.Baud < 0 {
		fail(k+".baud", "must be positive", "e.g. 115200")
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
