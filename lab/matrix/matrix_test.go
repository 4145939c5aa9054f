package matrix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/lab/inventory"
)

func writeSuites(t *testing.T, dir string, suites map[string]string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "suites"), 0o755)
	for name, body := range suites {
		os.WriteFile(filepath.Join(dir, "suites", name+".yaml"), []byte(body), 0o644)
	}
}

func TestExample(t *testing.T) {
	dir := t.TempDir()
	writeSuites(t, dir, map[string]string{"boot": "steps:\n  - {name: hello, run: echo hi}\n", "usertests": "steps:\n  - {name: usertests, run: usertests}\n"})
	path := filepath.Join(dir, "matrix.yaml")
	os.WriteFile(path, []byte(Example), 0o644)
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.RetryLimit() != 2 || m.RerunLimit() != 2 || m.BootGateLimit() != 2 || m.Quar.After != 3 || m.Timeout["booted"].Minutes() != 5 {
		t.Errorf("policy: %+v %v", m, m.Timeout)
	}
	if m.Images[0].Artifacts != filepath.Join(filepath.Dir(dir), "out", "lab-small") {
		t.Errorf("artifacts not relative to the matrix: %s", m.Images[0].Artifacts)
	}
	if got := m.SuiteDefs["boot"].KernelArgs(); got != "rl.suite=boot rl.suite.steps=hello=echo+hi" {
		t.Errorf("kernel args %q", got)
	}
}

func TestSuiteExample(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nvme.yaml")
	os.WriteFile(path, []byte(SuiteExample), 0o644)
	s, err := LoadSuite(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "nvme" || len(s.Steps) != 2 || !s.Requires["nvme"].Has("true") || !strings.HasSuffix(s.KernelArgs(), " rl.root=nvme") {
		t.Errorf("suite %+v args %q", s, s.KernelArgs())
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	writeSuites(t, dir, map[string]string{"ok": "steps: [{name: a, run: a}]\n", "bad": "steps:\n  - {name: A, run: ''}\n  - {name: x, run: x, cmd: y}\n"})
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "images: [{name: a, artifacts: x}]\nmachines: [{tags: [q]}]\nsuites: [ok]\nretires: 2\n", `matrix.yaml:4: retires: unknown key; did you mean "retries"?`},
		{"no images", "machines: [{tags: [q]}]\nsuites: [ok]\n", "images: no images"},
		{"empty selector", "images: [{name: a, artifacts: x}]\nmachines: [{}]\nsuites: [ok]\n", "matrix.yaml:2: machines[0]: an empty selector would select every machine"},
		{"missing suite", "images: [{name: a, artifacts: x}]\nmachines: [{tags: [q]}]\nsuites: [ok, nope]\n", "suites[1]: no such suite"},
		{"bad suite", "images: [{name: a, artifacts: x}]\nmachines: [{tags: [q]}]\nsuites: [bad]\n", "bad.yaml:3: steps[1].cmd: unknown key"},
		{"bad timeout", "images: [{name: a, artifacts: x}]\nmachines: [{tags: [q]}]\nsuites: [ok]\ntimeouts: {booted: soon, boot: 1m}\n", `timeouts.booted: "soon" is not a positive duration`},
		{"bad digest", "images: [{name: a, artifacts: x, digest: md5:1}]\nmachines: [{tags: [q]}]\nsuites: [ok]\n", `images[0].digest: "md5:1" is not a digest`},
		{"range", "images: [{name: a, artifacts: x}]\nmachines: [{tags: [q]}]\nsuites: [ok]\nreruns: 99\n", "reruns: 99 is out of range"},
		{"health image", "images: [{name: a, artifacts: x}]\nmachines: [{tags: [q]}]\nsuites: [ok]\nquarantine: {health_image: b}\n", `quarantine.health_image: no image "b"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), filepath.Join(dir, "matrix.yaml"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	inv, err := inventory.Parse([]byte(`machines:
  - {name: a, macs: ["52:54:00:00:00:01"], tags: [qemu], power: {type: qemu, address: /q}, facts: {nvme: true}}
  - {name: b, macs: ["52:54:00:00:00:02"], tags: [qemu, big], power: {type: qemu, address: /q}}
  - {name: c, macs: ["52:54:00:00:00:03"], tags: [rack], power: {type: qemu, address: /q}}
`), "inv.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reported := func(name string) map[string]inventory.Fact {
		if name == "c" {
			return map[string]inventory.Fact{"nic": {"8086:10fb", "8086:1572"}}
		}
		return nil
	}
	names := func(sel ...Selector) string {
		m := &Matrix{Machines: sel}
		var out []string
		for _, mc := range m.Select(inv, reported) {
			out = append(out, mc.Name)
		}
		return strings.Join(out, ",")
	}
	for want, sel := range map[string][]Selector{
		"a,b":   {{Tags: []string{"qemu"}}},
		"b":     {{Tags: []string{"qemu", "big"}}},
		"a":     {{Facts: map[string]inventory.Fact{"nvme": {"true"}}}},
		"b,c":   {{Facts: map[string]inventory.Fact{"nvme": {"false"}}}},
		"c":     {{Facts: map[string]inventory.Fact{"nic": {"8086:10fb"}}}},
		"a,c":   {{Names: []string{"a"}}, {Tags: []string{"rack"}}},
		"":      {{Names: []string{"a"}, Tags: []string{"rack"}}},
		"a,b,c": {{Facts: map[string]inventory.Fact{"arch": {"amd64"}}}},
	} {
		if got := names(sel...); got != want {
			t.Errorf("%+v selects %q, want %q", sel, got, want)
		}
	}
}
