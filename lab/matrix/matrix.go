// Package matrix is the test matrix (CI/matrix.yaml): images x machines x
// suites, with phase timeouts and the retry, rerun, quarantine and boot
// gate policy. Suites are files of their own (CI/suites/NAME.yaml): the
// on-target steps the booted image runs, and the facts a machine needs
// for them. Files are checked like the build configuration: every
// problem at once, each naming file:line, the key and the fix.
package matrix

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rlgo/redleaf/bootparam"
	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/labyaml"
)

// Example is a matrix with every key; the README shows it and a test
// keeps them equal.
const Example = `# rlbuild lab run --inventory configs/lab/qemu-lab.yaml --matrix CI/matrix.yaml
name: ci
images:                      # built artifacts directories, pinned by their manifest's digest
  - name: small
    artifacts: ../out/lab-small
  - name: nvme
    artifacts: ../out/lab-nvme
machines:                    # a list of selectors; a machine matching any is in
  - tags: [qemu]             # every tag listed
  - names: [rack1-n1]
  - facts: {nvme: true}      # facts declared or reported (nic: 8086:10fb, ...)
suites: [boot, usertests]    # CI/suites/NAME.yaml
suite_dir: suites            # default: suites/ beside this file
timeouts:                    # per phase of a cell; each retry gets them in full
  lease: 10m
  power: 1m
  dhcp: 2m
  loader: 2m
  booted: 5m
  suite: 10m
  results: 1m
retries: 2                   # an infrastructure error: again on another machine of the class
reruns: 2                    # a failed suite: again on other machines (flaky or failed)
quarantine:
  after: 3                   # infrastructure errors in a row (a power failure: at once)
  health_passes: 2           # passing health checks to come back
  health_image: small
  health_suite: boot
boot_gate: 2                 # an image that fails to boot on 2 machines: its other cells cancelled
`

// Matrix is a loaded matrix.
type Matrix struct {
	Path     string            `yaml:"-"`
	Name     string            `yaml:"name"`
	Images   []*Image          `yaml:"images"`
	Machines []Selector        `yaml:"machines"`
	Suites   []string          `yaml:"suites"`
	SuiteDir string            `yaml:"suite_dir"`
	Timeouts map[string]string `yaml:"timeouts"`
	Retries  *int              `yaml:"retries"`
	Reruns   *int              `yaml:"reruns"`
	Quar     Quarantine        `yaml:"quarantine"`
	BootGate *int              `yaml:"boot_gate"`

	// Phase timeouts, parsed, with defaults filled in.
	Timeout map[string]time.Duration `yaml:"-"`
	// SuiteDefs are the loaded suites by name.
	SuiteDefs map[string]*Suite `yaml:"-"`
}

// Image is one image of the matrix.
type Image struct {
	Name string `yaml:"name"`
	// Config is a build configuration that `rlbuild lab run` builds
	// first (as `rlbuild image` does) into Artifacts, or into the
	// configuration's own output directory.
	Config    string `yaml:"config"`
	Artifacts string `yaml:"artifacts"`
	// Digest pins the build: the SHA-256 of its manifest.json, which
	// lists every artifact's SHA-256. Set by Pin (or given in the file
	// to insist on one build).
	Digest string `yaml:"digest"`
	// Manifest is the pinned build (after Pin).
	Manifest *manifest.Manifest `yaml:"-"`
}

// Selector picks machines: all of its names, tags and facts must match.
type Selector struct {
	Names []string                  `yaml:"names"`
	Tags  []string                  `yaml:"tags"`
	Facts map[string]inventory.Fact `yaml:"facts"`
}

// Quarantine is the machine-health policy.
type Quarantine struct {
	After        int    `yaml:"after"`
	HealthPasses int    `yaml:"health_passes"`
	HealthImage  string `yaml:"health_image"`
	HealthSuite  string `yaml:"health_suite"`
}

// Phases in the order a cell goes through them.
var Phases = []string{"lease", "power", "dhcp", "loader", "booted", "suite", "results"}

// DefaultTimeouts are the phase timeouts a matrix does not set.
var DefaultTimeouts = map[string]time.Duration{
	"lease": 10 * time.Minute, "power": time.Minute, "dhcp": 2 * time.Minute, "loader": 2 * time.Minute,
	"booted": 5 * time.Minute, "suite": 10 * time.Minute, "results": time.Minute,
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Load reads and checks a matrix and its suites.
func Load(path string) (*Matrix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{Origin: path, Msg: "cannot read the matrix: " + err.Error(), Fix: "pass an existing file with --matrix (CI/matrix.yaml)"}
	}
	return Parse(b, path)
}

// Parse checks a matrix's contents; path names it and anchors relative
// paths (artifacts, suite_dir).
func Parse(b []byte, path string) (*Matrix, error) {
	m := &Matrix{}
	lines, err := labyaml.Decode(path, b, m)
	if err != nil {
		return nil, err
	}
	m.Path = path
	if errs := m.check(lines, filepath.Dir(path)); len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// RetryLimit is how often an infrastructure error is retried.
func (m *Matrix) RetryLimit() int { return intOr(m.Retries, 2) }

// RerunLimit is how often a failed suite is rerun.
func (m *Matrix) RerunLimit() int { return intOr(m.Reruns, 2) }

// BootGateLimit is how many machines an image may fail to boot on.
func (m *Matrix) BootGateLimit() int { return intOr(m.BootGate, 2) }

func (m *Matrix) check(l labyaml.Lines, dir string) config.Errors {
	var errs config.Errors
	fail := func(key, msg, fix string) { errs = append(errs, l.Err(key, msg, fix)) }
	if m.Name == "" {
		m.Name = strings.TrimSuffix(filepath.Base(m.Path), filepath.Ext(m.Path))
	}
	if !nameRe.MatchString(m.Name) {
		fail("name", fmt.Sprintf("%q is not a matrix name", m.Name), "use lower-case letters, digits, - and _")
	}
	if len(m.Images) == 0 {
		fail("images", "no images", "list at least one built artifacts directory")
	}
	seen := map[string]bool{}
	for i, img := range m.Images {
		k := fmt.Sprintf("images[%d]", i)
		if img == nil {
			fail(k, "empty entry", "give name and artifacts")
			m.Images[i] = &Image{}
			continue
		}
		switch {
		case img.Name == "":
			fail(k+".name", "missing", "name the image")
		case !nameRe.MatchString(img.Name):
			fail(k+".name", fmt.Sprintf("%q is not an image name", img.Name), "use lower-case letters, digits, - and _")
		case seen[img.Name]:
			fail(k+".name", fmt.Sprintf("%q is listed twice", img.Name), "give each image its own name")
		}
		seen[img.Name] = true
		if img.Config != "" && !filepath.IsAbs(img.Config) {
			img.Config = filepath.Join(dir, img.Config)
		}
		if img.Artifacts == "" && img.Config == "" {
			fail(k+".artifacts", "missing", "name the artifacts directory `rlbuild image` wrote (e.g. ../out/qemu), or a config: to build")
		} else if img.Artifacts != "" && !filepath.IsAbs(img.Artifacts) {
			img.Artifacts = filepath.Join(dir, img.Artifacts)
		}
		if img.Digest != "" && !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(img.Digest) {
			fail(k+".digest", fmt.Sprintf("%q is not a digest", img.Digest), "write sha256: and 64 hex digits, as `rlbuild lab run` reports")
		}
	}
	if len(m.Machines) == 0 {
		fail("machines", "no machine selectors", "select machines by tags, names or facts, e.g. - tags: [qemu]")
	}
	for i, s := range m.Machines {
		if len(s.Names) == 0 && len(s.Tags) == 0 && len(s.Facts) == 0 {
			fail(fmt.Sprintf("machines[%d]", i), "an empty selector would select every machine", "give names, tags or facts")
		}
	}
	if len(m.Suites) == 0 {
		fail("suites", "no suites", "name suites of CI/suites/, e.g. [boot, usertests]")
	}
	if m.SuiteDir == "" {
		m.SuiteDir = "suites"
	}
	if !filepath.IsAbs(m.SuiteDir) {
		m.SuiteDir = filepath.Join(dir, m.SuiteDir)
	}
	m.SuiteDefs = map[string]*Suite{}
	for i, name := range m.Suites {
		k := fmt.Sprintf("suites[%d]", i)
		if !nameRe.MatchString(name) {
			fail(k, fmt.Sprintf("%q is not a suite name", name), "use the name of a file in "+m.SuiteDir+" without .yaml")
			continue
		}
		if m.SuiteDefs[name] != nil {
			fail(k, fmt.Sprintf("%q is listed twice", name), "keep one")
			continue
		}
		s, err := LoadSuite(filepath.Join(m.SuiteDir, name+".yaml"))
		if err != nil {
			if ce, ok := err.(*config.Error); ok {
				fail(k, ce.Msg, ce.Fix)
			} else if es, ok := err.(config.Errors); ok {
				errs = append(errs, es...)
			} else {
				fail(k, err.Error(), "")
			}
			continue
		}
		m.SuiteDefs[name] = s
	}
	m.Timeout = map[string]time.Duration{}
	for k, v := range DefaultTimeouts {
		m.Timeout[k] = v
	}
	for name, v := range m.Timeouts {
		k := "timeouts." + name
		if _, ok := DefaultTimeouts[name]; !ok {
			fail(k, "not a phase", "phases: "+strings.Join(Phases, ", "))
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fail(k, fmt.Sprintf("%q is not a positive duration", v), "write e.g. 90s or 5m")
			continue
		}
		m.Timeout[name] = d
	}
	for key, p := range map[string]*int{"retries": m.Retries, "reruns": m.Reruns, "boot_gate": m.BootGate} {
		if p != nil && (*p < 0 || *p > 20) {
			fail(key, fmt.Sprintf("%d is out of range", *p), "use 0-20")
		}
	}
	q := &m.Quar
	if q.After == 0 {
		q.After = 3
	}
	if q.HealthPasses == 0 {
		q.HealthPasses = 2
	}
	if q.After < 1 || q.After > 100 {
		fail("quarantine.after", fmt.Sprintf("%d is out of range", q.After), "use 1-100")
	}
	if q.HealthPasses < 1 || q.HealthPasses > 100 {
		fail("quarantine.health_passes", fmt.Sprintf("%d is out of range", q.HealthPasses), "use 1-100")
	}
	if q.HealthImage == "" && len(m.Images) > 0 && m.Images[0] != nil {
		q.HealthImage = m.Images[0].Name
	}
	if !seen[q.HealthImage] {
		fail("quarantine.health_image", fmt.Sprintf("no image %q", q.HealthImage), "name one of the matrix's images")
	}
	if q.HealthSuite == "" && len(m.Suites) > 0 {
		q.HealthSuite = m.Suites[0]
	}
	if q.HealthSuite != "" && m.SuiteDefs[q.HealthSuite] == nil && !contains(m.Suites, q.HealthSuite) {
		if s, err := LoadSuite(filepath.Join(m.SuiteDir, q.HealthSuite+".yaml")); err == nil {
			m.SuiteDefs[q.HealthSuite] = s
		} else {
			fail("quarantine.health_suite", fmt.Sprintf("no suite %q: %v", q.HealthSuite, err), "name a suite of "+m.SuiteDir)
		}
	}
	return errs
}

// Build builds the images that name a config (build returns the
// artifacts directory it wrote; out is the image's artifacts, "" for the
// config's own output directory).
func (m *Matrix) Build(build func(config, out string) (string, error)) error {
	for _, img := range m.Images {
		if img.Config == "" {
			continue
		}
		dir, err := build(img.Config, img.Artifacts)
		if err != nil {
			return fmt.Errorf("%s: image %s: building %s: %w", m.Path, img.Name, img.Config, err)
		}
		img.Artifacts = dir
	}
	return nil
}

// Pin loads each image's manifest, verifies its artifacts and records
// its digest; an image with a digest in the file must still have it.
func (m *Matrix) Pin() error {
	for _, img := range m.Images {
		man, digest, err := LoadPinned(img.Artifacts)
		if err != nil {
			return fmt.Errorf("%s: image %s: %w", m.Path, img.Name, err)
		}
		if img.Digest != "" && img.Digest != digest {
			return fmt.Errorf("%s: image %s: %s is %s now, not %s as the matrix pins: rebuild the pinned build or update the digest", m.Path, img.Name, img.Artifacts, digest, img.Digest)
		}
		img.Digest, img.Manifest = digest, man
	}
	return nil
}

// LoadPinned loads the manifest in dir, checks every artifact against
// it, and returns its digest.
func LoadPinned(dir string) (*manifest.Manifest, string, error) {
	man, err := manifest.Load(dir)
	if err != nil {
		return nil, "", fmt.Errorf("%w (build it with rlbuild image)", err)
	}
	if err := man.Verify(); err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(filepath.Join(man.Dir(), "manifest.json"))
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return man, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Image returns the image named name.
func (m *Matrix) Image(name string) *Image {
	for _, img := range m.Images {
		if img.Name == name {
			return img
		}
	}
	return nil
}

// Select returns the inventory's machines the matrix selects, in
// inventory order. facts gives each machine's reported facts.
func (m *Matrix) Select(inv *inventory.Inventory, facts func(name string) map[string]inventory.Fact) []*inventory.Machine {
	var out []*inventory.Machine
	for _, mc := range inv.Machines {
		f := mc.Facts(facts(mc.Name))
		for _, s := range m.Machines {
			if s.Matches(mc, f) {
				out = append(out, mc)
				break
			}
		}
	}
	return out
}

// Matches reports whether the machine, with facts f, is selected.
func (s Selector) Matches(mc *inventory.Machine, f map[string]inventory.Fact) bool {
	if len(s.Names) > 0 && !contains(s.Names, mc.Name) {
		return false
	}
	for _, t := range s.Tags {
		if !mc.HasTag(t) {
			return false
		}
	}
	return FactsMatch(s.Facts, f)
}

// FactsMatch reports whether facts f satisfy want: every wanted value is
// among the machine's values; "false" is satisfied by an absent fact.
func FactsMatch(want, f map[string]inventory.Fact) bool {
	for k, w := range want {
		have := f[k]
		for _, v := range w {
			if v == "false" && len(have) == 0 {
				continue
			}
			if !have.Has(v) {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Suite is one on-target suite (CI/suites/NAME.yaml).
type Suite struct {
	Name        string `yaml:"-"`
	Description string `yaml:"description"`
	// Requires are facts a machine must have; elsewhere the cell is
	// skipped.
	Requires map[string]inventory.Fact `yaml:"requires"`
	// Steps run in order on the target, each an Rv6 shell command line.
	Steps []Step `yaml:"steps"`
	// Cmdline is added to the kernel command line (e.g. rl.root=nvme).
	Cmdline string `yaml:"cmdline"`
	// Fsck checks the Rv6 file system on the machine's NVMe disk from
	// the host once the machine is off (the VMs of the lab in a box),
	// as a last step named fsck.
	Fsck bool `yaml:"fsck"`
	// Timeout overrides the matrix's suite timeout.
	Timeout time.Duration `yaml:"timeout"`
}

// Step is one command of a suite.
type Step struct {
	Name string `yaml:"name"`
	Run  string `yaml:"run"`
}

// SuiteExample is a suite with every key.
const SuiteExample = `# CI/suites/nvme.yaml
description: the NVMe domain verifies and measures the disk
requires: {nvme: true}       # machines without: the cell is skipped
cmdline: rl.root=nvme        # added to the kernel command line
fsck: true                   # then the Rv6 file system on the NVMe disk is checked from the host
timeout: 10m                 # default: the matrix's suite timeout
steps:
  - name: write-read
    run: echo nvme-ok > /probe && cat /probe
  - name: benchnvme
    run: benchnvme
`

// maxCmdline bounds what a suite adds to the kernel command line
// (Linux's limit on x86 is 2048 bytes, with the build's own and the
// netboot server's parameters on it too).
const maxCmdline = 1024

// LoadSuite reads and checks a suite file.
func LoadSuite(path string) (*Suite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{Origin: path, Msg: "no such suite: " + err.Error(), Fix: "add " + path + " or remove the suite from the matrix"}
	}
	s := &Suite{}
	lines, err := labyaml.Decode(path, b, s)
	if err != nil {
		return nil, err
	}
	s.Name = strings.TrimSuffix(filepath.Base(path), ".yaml")
	var errs config.Errors
	fail := func(key, msg, fix string) { errs = append(errs, lines.Err(key, msg, fix)) }
	if len(s.Steps) == 0 {
		fail("steps", "no steps", "list the commands the target runs, e.g. - {name: usertests, run: usertests}")
	}
	names := map[string]bool{}
	for i, st := range s.Steps {
		k := fmt.Sprintf("steps[%d]", i)
		if !nameRe.MatchString(st.Name) {
			fail(k+".name", fmt.Sprintf("%q is not a step name", st.Name), "use lower-case letters, digits, - and _")
		} else if names[st.Name] {
			fail(k+".name", fmt.Sprintf("%q is used twice", st.Name), "give each step its own name")
		}
		names[st.Name] = true
		if strings.TrimSpace(st.Run) == "" {
			fail(k+".run", "missing", "give the Rv6 shell command line to run")
		}
		if strings.ContainsAny(st.Run, "\n\x00") {
			fail(k+".run", "one line only", "join commands with ; or &&")
		}
	}
	if s.Timeout < 0 {
		fail("timeout", "must be positive", "write e.g. 10m")
	}
	if strings.Contains(s.Cmdline, bootparam.Suite) || strings.Contains(s.Cmdline, bootparam.Token) {
		fail("cmdline", bootparam.Suite+" and "+bootparam.Token+" are set by the lab runner", "remove them")
	}
	if len(s.KernelArgs()) > maxCmdline {
		fail("steps", fmt.Sprintf("the suite takes %d bytes of the kernel command line, more than %d", len(s.KernelArgs()), maxCmdline), "use fewer or shorter steps (a script in the image's Rv6 file system is one short step)")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// KernelArgs is what the suite adds to the kernel command line: its
// name, its steps (rl.suite.steps=name=command,..., each part
// percent-encoded) and its own parameters. The target's suite runner
// (kernel/suite) reads them back.
func (s *Suite) KernelArgs() string {
	var parts []string
	for _, st := range s.Steps {
		parts = append(parts, url.QueryEscape(st.Name)+"="+url.QueryEscape(st.Run))
	}
	args := bootparam.Suite + "=" + s.Name + " " + bootparam.SuiteSteps + "=" + strings.Join(parts, ",")
	if s.Cmdline != "" {
		args += " " + s.Cmdline
	}
	return args
}

// SortedSuites returns the matrix's suites in file order.
func (m *Matrix) SortedSuites() []*Suite {
	out := make([]*Suite, 0, len(m.Suites))
	for _, n := range m.Suites {
		if s := m.SuiteDefs[n]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// FactNames lists every fact name the matrix selects or requires by.
func (m *Matrix) FactNames() []string {
	set := map[string]bool{}
	for _, s := range m.Machines {
		for k := range s.Facts {
			set[k] = true
		}
	}
	for _, s := range m.SuiteDefs {
		for k := range s.Requires {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
