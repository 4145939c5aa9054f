// Package profile is the lab's netboot configuration: the YAML file that
// says how the server runs (interface, DHCP mode and pool) and which
// machine boots what (profiles per MAC, a default, a deny-unknown
// switch, once-only boots), and the runtime state on top of it (the next
// boot set through the API, once-only boots used up), which is kept in
// the server's state directory. Example is a complete file.
//
// The file is reloaded when it changes (Watch); only the boot
// assignments (default, deny_unknown, profiles, machines) take effect
// without a restart. Errors name the file, line and key, and say what
// would fix them, like the build configuration's.
package profile

import (
	"bytes"
	"fmt"
	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/internal/suggest"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/netboot/ipxe"
)

// Local is the boot target that means "boot from local disk": no
// network boot.
const Local = "local"

// Example is a lab file with every key, for `rlbuild netboot serve
// --config`. Relative paths are relative to the file.
const Example = `# rlbuild netboot serve --config lab.yaml
server:
  interface: br0            # the boot network (required)
  address: 10.0.0.1         # default: the interface's first IPv4 address
  http_port: 8080           # iPXE scripts, kernels, initrds, the API
  tftp: true                # iPXE binaries for PXE ROMs on port 69
  state_dir: netboot-state  # leases and boot state
  ipxe_dir: /usr/lib/ipxe   # Debian's ipxe package
  ipv6_ra: true             # spare iPXE its 16 s IPv6 wait
  operator_token_file: netboot-state/operator-token  # mode 0600; API calls that change boots need it
dhcp:
  mode: full                # full, proxy (beside another DHCP server) or off
  pool: 10.0.0.100-10.0.0.199   # default: the upper half of the subnet
  router: 10.0.0.254
  dns: [10.0.0.53]
  domain_name: lab.example
  lease_time: 1h
  relays:                   # subnets behind DHCP relay agents (giaddr)
    - subnet: 10.9.0.0/24
      pool: 10.9.0.10-10.9.0.200
      router: 10.9.0.1
      agents: [10.0.0.254]  # relay agents' addresses (default: any sender on port 67)
default: qemu               # machines not listed: a profile or local
deny_unknown: false         # true: ignore machines not listed
profiles:
  qemu:
    artifacts: ../out/qemu  # what ` + "`rlbuild image`" + ` wrote
    cmdline: rl.debug       # appended to the build's command line
    ipxe: snponly           # snponly (firmware NIC driver) or ipxe
machines:
  52:54:00:12:34:56:
    profile: qemu
    once: true              # one boot, then ` + "`then`" + `
    then: local             # local or default
    ip: 10.0.0.50           # reserved address (full DHCP)
    hostname: node1
`

// File is a parsed lab file.
type File struct {
	// Path is the file's path ("" for a configuration built in code).
	Path string

	Server Server
	DHCP   DHCP

	// Default is the boot target of machines not listed: a profile
	// name or Local. Empty means Local.
	Default string
	// DenyUnknown makes the server ignore machines not listed.
	DenyUnknown bool
	// Profiles by name.
	Profiles map[string]*Profile
	// Machines by MAC (net.HardwareAddr.String() form).
	Machines map[string]*Machine
}

// Server is how the server runs.
type Server struct {
	// Interface is the boot network's interface.
	Interface string
	// Address is the server's address on it; default: the interface's
	// first IPv4 address.
	Address netip.Addr
	// HTTPPort is the HTTP server's port (default 8080).
	HTTPPort int
	// TFTP serves iPXE over TFTP on port 69 (default true).
	TFTP bool
	// StateDir holds leases and boot state (default: netboot-state
	// next to the file).
	StateDir string
	// IPXEDir holds the iPXE binaries (default /usr/lib/ipxe, from
	// Debian's ipxe package).
	IPXEDir string
	// NoIPv6RA turns off the empty IPv6 router advertisements that
	// spare iPXE a 16 s wait on networks without IPv6 (package ndp).
	NoIPv6RA bool
	// OperatorTokenFile holds the operator's token for the API calls
	// that change what machines boot (package netboot/operator); it must
	// be readable by its owner only. Default: operator-token in the
	// state directory, created on the first start.
	OperatorTokenFile string
}

// DHCP configures the DHCP server.
type DHCP struct {
	// Mode is "full", "proxy" or "off" (default full).
	Mode string
	// PoolStart and PoolEnd bound the pool on the interface's subnet;
	// default: the upper half of the subnet.
	PoolStart, PoolEnd netip.Addr
	Router             netip.Addr
	DNS                []netip.Addr
	DomainName         string
	// LeaseTime defaults to 1 h.
	LeaseTime time.Duration
	// Relays are subnets behind DHCP relay agents.
	Relays []Relay
}

// Relay is a subnet whose requests arrive through a relay agent.
type Relay struct {
	Subnet             netip.Prefix
	PoolStart, PoolEnd netip.Addr
	Router             netip.Addr
	DNS                []netip.Addr
	// Agents, if set, are the addresses the subnet's relay agents send
	// from; other senders may not claim the subnet.
	Agents []netip.Addr
}

// Profile is a bootable image and how to boot it.
type Profile struct {
	Name string
	// Artifacts is the artifacts directory (absolute).
	Artifacts string
	// Manifest is the build in Artifacts.
	Manifest *manifest.Manifest
	// Cmdline is appended to the build's kernel command line.
	Cmdline string
	// IPXE is the iPXE flavour for firmware that gets iPXE first:
	// "snponly" (default: snponly.efi and undionly.kpxe, which drive
	// the NIC through the firmware; iPXE's own ixgbe driver fails on
	// some 82599/X550 NICs under UEFI) or "ipxe" (ipxe.efi and
	// ipxe.pxe, with iPXE's own drivers).
	IPXE string
}

// Machine is one machine's entry.
type Machine struct {
	MAC net.HardwareAddr
	// Profile is the boot target: a profile name or Local; empty means
	// the default.
	Profile string
	// Once makes Profile a one-time boot; afterwards the machine boots
	// Then.
	Once bool
	// Then is "local" (default) or "default".
	Then string
	// IP is the machine's reserved address in full DHCP mode.
	IP       netip.Addr
	Hostname string
}

// key identifies the entry's boot assignment: a once-only boot that was
// used up is armed again when the entry changes.
func (m *Machine) key() string {
	return fmt.Sprintf("%s|%v|%s", m.Profile, m.Once, m.Then)
}

// Error is one problem in a lab file: the one error type of every
// config-like input (the build config, lab files, the lab's inventory and
// matrix), with the file and line as its Origin.
type Error = config.Error

// Errors is every problem found in a file, in line order.
type Errors = config.Errors

// Load reads and checks a lab file. Relative paths in it are relative to
// its directory. Every problem is reported, each with its line.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("netboot configuration: %w", err)
	}
	return Parse(b, path)
}

// Parse reads and checks a lab file's contents; path names it in errors
// and anchors its relative paths.
func Parse(b []byte, path string) (*File, error) {
	p := &parser{file: path, dir: filepath.Dir(path)}
	f := &File{Path: path, Profiles: map[string]*Profile{}, Machines: map[string]*Machine{}}
	f.Server.TFTP = true
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return nil, Errors{{Origin: path, Msg: "the file is empty", Fix: "see `rlbuild netboot serve --help` for an example"}}
		}
		return nil, Errors{{Origin: path, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "fix the syntax"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p.mapping(root, "", map[string]func(*yaml.Node, string){
		"server": func(n *yaml.Node, key string) {
			p.mapping(n, key, map[string]func(*yaml.Node, string){
				"interface":           func(n *yaml.Node, k string) { f.Server.Interface = p.str(n, k) },
				"address":             func(n *yaml.Node, k string) { f.Server.Address = p.addr(n, k) },
				"http_port":           func(n *yaml.Node, k string) { f.Server.HTTPPort = p.port(n, k) },
				"tftp":                func(n *yaml.Node, k string) { f.Server.TFTP = p.bool(n, k) },
				"state_dir":           func(n *yaml.Node, k string) { f.Server.StateDir = p.path(n, k) },
				"ipxe_dir":            func(n *yaml.Node, k string) { f.Server.IPXEDir = p.path(n, k) },
				"ipv6_ra":             func(n *yaml.Node, k string) { f.Server.NoIPv6RA = !p.bool(n, k) },
				"operator_token_file": func(n *yaml.Node, k string) { f.Server.OperatorTokenFile = p.path(n, k) },
			})
		},
		"dhcp": func(n *yaml.Node, key string) {
			p.mapping(n, key, map[string]func(*yaml.Node, string){
				"mode": func(n *yaml.Node, k string) {
					f.DHCP.Mode = p.oneOf(n, k, "full", "proxy", "off")
				},
				"pool":        func(n *yaml.Node, k string) { f.DHCP.PoolStart, f.DHCP.PoolEnd = p.pool(n, k) },
				"router":      func(n *yaml.Node, k string) { f.DHCP.Router = p.addr(n, k) },
				"dns":         func(n *yaml.Node, k string) { f.DHCP.DNS = p.addrs(n, k) },
				"domain_name": func(n *yaml.Node, k string) { f.DHCP.DomainName = p.str(n, k) },
				"lease_time":  func(n *yaml.Node, k string) { f.DHCP.LeaseTime = p.duration(n, k) },
				"relays": func(n *yaml.Node, k string) {
					if n.Kind != yaml.SequenceNode {
						p.fail(n, k, "must be a list of subnets", "write `- subnet: 10.9.0.0/24` entries")
						return
					}
					for i, item := range n.Content {
						var r Relay
						ik := fmt.Sprintf("%s[%d]", k, i)
						p.mapping(item, ik, map[string]func(*yaml.Node, string){
							"subnet": func(n *yaml.Node, k string) { r.Subnet = p.prefix(n, k) },
							"pool":   func(n *yaml.Node, k string) { r.PoolStart, r.PoolEnd = p.pool(n, k) },
							"router": func(n *yaml.Node, k string) { r.Router = p.addr(n, k) },
							"dns":    func(n *yaml.Node, k string) { r.DNS = p.addrs(n, k) },
							"agents": func(n *yaml.Node, k string) { r.Agents = p.addrs(n, k) },
						})
						if !r.Subnet.IsValid() {
							p.fail(item, ik+".subnet", "missing", "name the relayed subnet, e.g. 10.9.0.0/24")
						} else if !r.PoolStart.IsValid() {
							p.fail(item, ik+".pool", "missing", "give the relayed subnet's pool, e.g. 10.9.0.10-10.9.0.200")
						} else if !r.Subnet.Contains(r.PoolStart) || !r.Subnet.Contains(r.PoolEnd) {
							p.fail(item, ik+".pool", fmt.Sprintf("%v-%v is not inside %v", r.PoolStart, r.PoolEnd, r.Subnet), "")
						}
						f.DHCP.Relays = append(f.DHCP.Relays, r)
					}
				},
			})
		},
		"default":      func(n *yaml.Node, k string) { f.Default = p.str(n, k) },
		"deny_unknown": func(n *yaml.Node, k string) { f.DenyUnknown = p.bool(n, k) },
		"profiles": func(n *yaml.Node, key string) {
			p.each(n, key, func(name string, kn, vn *yaml.Node) {
				k := key + "." + name
				if name == Local {
					p.fail(kn, k, `"local" is the built-in target for booting from disk`, "rename the profile")
					return
				}
				if err := ipxe.CheckName(name); err != nil {
					p.fail(kn, key+"."+fmt.Sprintf("%q", name), err.Error(), "rename the profile")
					return
				}
				pr := &Profile{Name: name}
				p.mapping(vn, k, map[string]func(*yaml.Node, string){
					"artifacts": func(n *yaml.Node, k string) {
						pr.Artifacts = p.path(n, k)
						if pr.Artifacts == "" {
							return
						}
						m, err := manifest.Load(pr.Artifacts)
						if err != nil {
							p.fail(n, k, err.Error(), "")
							return
						}
						if err := checkBootable(m); err != nil {
							p.fail(n, k, fmt.Sprintf("%s: %v", m.Path(manifest.FileName), err), "rebuild the image with a command line of plain words (kernel.cmdline)")
							return
						}
						pr.Manifest = m
					},
					"cmdline": func(n *yaml.Node, k string) {
						pr.Cmdline = p.str(n, k)
						if err := ipxe.CheckCmdline(pr.Cmdline); err != nil {
							p.fail(n, k, err.Error(), "write the extra kernel arguments as one line of plain words")
						}
					},
					"ipxe": func(n *yaml.Node, k string) { pr.IPXE = p.oneOf(n, k, "snponly", "ipxe") },
				})
				if pr.Artifacts == "" && vn.Kind == yaml.MappingNode {
					p.fail(vn, k+".artifacts", "missing", "name the artifacts directory `rlbuild image` wrote, e.g. ../out/qemu")
				}
				if pr.IPXE == "" {
					pr.IPXE = "snponly"
				}
				f.Profiles[name] = pr
			})
		},
		"machines": func(n *yaml.Node, key string) {
			p.each(n, key, func(name string, kn, vn *yaml.Node) {
				k := key + "." + name
				hw, err := net.ParseMAC(name)
				if err != nil || len(hw) != 6 {
					p.fail(kn, k, fmt.Sprintf("%q is not a MAC address", name), "write it as 52:54:00:12:34:56")
					return
				}
				m := &Machine{MAC: hw}
				profileNode := kn
				p.mapping(vn, k, map[string]func(*yaml.Node, string){
					"profile":  func(n *yaml.Node, k string) { m.Profile = p.str(n, k); profileNode = n },
					"once":     func(n *yaml.Node, k string) { m.Once = p.bool(n, k) },
					"then":     func(n *yaml.Node, k string) { m.Then = p.oneOf(n, k, Local, "default") },
					"ip":       func(n *yaml.Node, k string) { m.IP = p.addr(n, k) },
					"hostname": func(n *yaml.Node, k string) { m.Hostname = p.str(n, k) },
				})
				if m.Then == "" {
					m.Then = Local
				}
				if _, dup := f.Machines[hw.String()]; dup {
					p.fail(kn, k, "listed twice (MAC addresses are compared in any notation)", "merge the entries")
				}
				f.Machines[hw.String()] = m
				p.later = append(p.later, func() {
					if m.Profile != "" && m.Profile != Local && f.Profiles[m.Profile] == nil {
						p.fail(profileNode, k+".profile", fmt.Sprintf("no profile %q", m.Profile), p.suggest(m.Profile, f.Profiles))
					}
				})
			})
		},
	})
	for _, fn := range p.later {
		fn()
	}
	if f.Default != "" && f.Default != Local && f.Profiles[f.Default] == nil {
		p.fail(p.defaultNode(root), "default", fmt.Sprintf("no profile %q", f.Default), p.suggest(f.Default, f.Profiles))
	}
	p.checkReservations(f, root)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].line < p.errs[j].line })
		errs := make(Errors, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e.err
		}
		return nil, errs
	}
	if f.Server.StateDir == "" && path != "" {
		f.Server.StateDir = filepath.Join(p.dir, "netboot-state")
	}
	return f, nil
}

// checkBootable checks what of a manifest goes into an iPXE script: the
// kernel's and initrd's names and the command line.
func checkBootable(m *manifest.Manifest) error {
	for _, f := range []string{m.Kernel, m.Initrd} {
		if err := ipxe.CheckWord(f); err != nil {
			return fmt.Errorf("file name: %w", err)
		}
	}
	return ipxe.CheckCmdline(m.Cmdline)
}

func (p *parser) defaultNode(root *yaml.Node) *yaml.Node {
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "default" {
				return root.Content[i+1]
			}
		}
	}
	return root
}

// checkReservations refuses an address reserved for two machines.
func (p *parser) checkReservations(f *File, root *yaml.Node) {
	seen := map[netip.Addr]string{}
	macs := make([]string, 0, len(f.Machines))
	for mac := range f.Machines {
		macs = append(macs, mac)
	}
	sort.Strings(macs)
	for _, mac := range macs {
		m := f.Machines[mac]
		if !m.IP.IsValid() {
			continue
		}
		if other, ok := seen[m.IP]; ok {
			p.errs = append(p.errs, lineError{0, &Error{Origin: p.file, Key: "machines." + mac + ".ip",
				Msg: fmt.Sprintf("%v is also reserved for %s", m.IP, other), Fix: "give each machine its own address"}})
		}
		seen[m.IP] = mac
	}
}

// parser collects errors with their lines while walking the document.
type parser struct {
	file  string
	dir   string
	errs  []lineError
	later []func()
}

// lineError is an error with its line, for sorting (0: no line).
type lineError struct {
	line int
	err  *Error
}

func (p *parser) fail(n *yaml.Node, key, msg, fix string) {
	origin := p.file
	if n.Line > 0 {
		origin = fmt.Sprintf("%s:%d", p.file, n.Line)
	}
	p.errs = append(p.errs, lineError{n.Line, &Error{Origin: origin, Key: key, Msg: msg, Fix: fix}})
}

// mapping walks a mapping node, calling the handler of each known key
// and reporting unknown keys with the nearest known one.
func (p *parser) mapping(n *yaml.Node, key string, handlers map[string]func(*yaml.Node, string)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		where := key
		if where == "" {
			where = "the top level"
		}
		p.fail(n, key, where+" must be a mapping of keys to values", "")
		return
	}
	known := make([]string, 0, len(handlers))
	for k := range handlers {
		known = append(known, k)
	}
	sort.Strings(known)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		full := kn.Value
		if key != "" {
			full = key + "." + kn.Value
		}
		if seen[kn.Value] {
			p.fail(kn, full, "set twice", "keep one")
			continue
		}
		seen[kn.Value] = true
		h, ok := handlers[kn.Value]
		if !ok {
			fix := "known keys here: " + strings.Join(known, ", ")
			if c := suggest.Closest(kn.Value, known); c != "" {
				fix = fmt.Sprintf("did you mean %q?", c)
			}
			p.fail(kn, full, "unknown key", fix)
			continue
		}
		h(vn, full)
	}
}

// each walks a mapping of names to mappings (profiles, machines).
func (p *parser) each(n *yaml.Node, key string, fn func(name string, kn, vn *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, key, "must be a mapping of names to entries", "")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := n.Content[i]
		if seen[kn.Value] {
			p.fail(kn, key+"."+kn.Value, "listed twice", "merge the entries")
			continue
		}
		seen[kn.Value] = true
		fn(kn.Value, kn, n.Content[i+1])
	}
}

func (p *parser) scalar(n *yaml.Node, key, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, key, "must be "+what, "")
		return "", false
	}
	return n.Value, true
}

func (p *parser) str(n *yaml.Node, key string) string {
	s, _ := p.scalar(n, key, "a string")
	return s
}

func (p *parser) path(n *yaml.Node, key string) string {
	s, ok := p.scalar(n, key, "a path")
	if !ok || s == "" {
		return ""
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(p.dir, s)
	}
	return filepath.Clean(s)
}

func (p *parser) bool(n *yaml.Node, key string) bool {
	s, ok := p.scalar(n, key, "true or false")
	if !ok {
		return false
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		p.fail(n, key, fmt.Sprintf("%q is not true or false", s), "")
	}
	return v
}

func (p *parser) port(n *yaml.Node, key string) int {
	s, ok := p.scalar(n, key, "a port number")
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 65535 {
		p.fail(n, key, fmt.Sprintf("%q is not a port number", s), "use 1-65535")
		return 0
	}
	return v
}

func (p *parser) duration(n *yaml.Node, key string) time.Duration {
	s, ok := p.scalar(n, key, "a duration")
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute {
		p.fail(n, key, fmt.Sprintf("%q is not a duration of a minute or more", s), "write e.g. 1h or 30m")
		return 0
	}
	return d
}

func (p *parser) oneOf(n *yaml.Node, key string, choices ...string) string {
	s, ok := p.scalar(n, key, "one of "+strings.Join(choices, ", "))
	if !ok {
		return ""
	}
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	fix := "use one of " + strings.Join(choices, ", ")
	if c := suggest.Closest(s, choices); c != "" {
		fix = fmt.Sprintf("did you mean %q?", c)
	}
	p.fail(n, key, fmt.Sprintf("%q is not allowed", s), fix)
	return ""
}

func (p *parser) addr(n *yaml.Node, key string) netip.Addr {
	s, ok := p.scalar(n, key, "an IPv4 address")
	if !ok {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		p.fail(n, key, fmt.Sprintf("%q is not an IPv4 address", s), "write e.g. 10.0.0.1")
		return netip.Addr{}
	}
	return a
}

func (p *parser) addrs(n *yaml.Node, key string) []netip.Addr {
	if n.Kind == yaml.ScalarNode {
		if a := p.addr(n, key); a.IsValid() {
			return []netip.Addr{a}
		}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, key, "must be a list of IPv4 addresses", "")
		return nil
	}
	var out []netip.Addr
	for _, item := range n.Content {
		if a := p.addr(item, key); a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

func (p *parser) prefix(n *yaml.Node, key string) netip.Prefix {
	s, ok := p.scalar(n, key, "an IPv4 subnet")
	if !ok {
		return netip.Prefix{}
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil || !pr.Addr().Is4() {
		p.fail(n, key, fmt.Sprintf("%q is not an IPv4 subnet", s), "write e.g. 10.9.0.0/24")
		return netip.Prefix{}
	}
	return pr.Masked()
}

func (p *parser) pool(n *yaml.Node, key string) (netip.Addr, netip.Addr) {
	s, ok := p.scalar(n, key, "an address range")
	if !ok {
		return netip.Addr{}, netip.Addr{}
	}
	a, b, found := strings.Cut(s, "-")
	start, err1 := netip.ParseAddr(strings.TrimSpace(a))
	end, err2 := netip.ParseAddr(strings.TrimSpace(b))
	if !found || err1 != nil || err2 != nil || !start.Is4() || !end.Is4() || end.Less(start) {
		p.fail(n, key, fmt.Sprintf("%q is not an address range", s), "write FIRST-LAST, e.g. 10.0.0.100-10.0.0.199")
		return netip.Addr{}, netip.Addr{}
	}
	return start, end
}

func (p *parser) suggest(name string, profiles map[string]*Profile) string {
	names := []string{Local}
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	if c := suggest.Closest(name, names); c != "" {
		return fmt.Sprintf("did you mean %q?", c)
	}
	return "profiles: " + strings.Join(names, ", ")
}
