package inventory

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/config"
)

var update = flag.Bool("update", false, "rewrite configs/lab/inventory.yaml from Example")

const shippedPath = "../../configs/lab/inventory.yaml"

func shipped() string {
	return "# The example inventory: lab/inventory's Example, written by\n" +
		"# `go test ./lab/inventory -run TestShipped -update`.\n" + Example
}

// TestShipped keeps configs/lab/inventory.yaml equal to Example and
// checks that both load.
func TestShipped(t *testing.T) {
	if *update {
		if err := os.WriteFile(shippedPath, []byte(shipped()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(shippedPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != shipped() {
		t.Fatalf("%s is not in sync with inventory.Example: run go test ./lab/inventory -run TestShipped -update", shippedPath)
	}
	inv, err := Load(shippedPath)
	if err != nil {
		t.Fatal(err)
	}
	n1 := inv.Machine("rack1-n1")
	if n1 == nil || n1.Lab != "lab1" || n1.Power.Type != "redfish" || !n1.HasTag("x520") || n1.Power.Machine != "rack1-n1" {
		t.Fatalf("rack1-n1: %+v", n1)
	}
	f := n1.Facts(map[string]Fact{"nic": {"8086:1572"}})
	if !f["nvme"].Has("true") || !f["nic"].Has("8086:1572") || f["nic"].Has("8086:10fb") || !f["arch"].Has("amd64") {
		t.Errorf("facts %v: reported ones must win over declared ones", f)
	}
	n2 := inv.Machine("rack1-n2")
	if n2.Lab != "lab1" || n2.Timeouts["power"].Minutes() != 2 || n2.Firmware != "bios" {
		t.Errorf("rack1-n2: %+v", n2)
	}
	if home, err := os.UserHomeDir(); err == nil && n2.Power.PasswordFile != filepath.Join(home, ".config/rlbuild/bmc-password") {
		t.Errorf("password file %q: ~ not expanded", n2.Power.PasswordFile)
	}
}

// TestErrors checks that each problem names its line, key and fix, and
// that all of them come at once.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // "line key: text"
	}{
		{"unknown key", "machines:\n  - name: a\n    macs: [52:54:00:00:00:01]\n    pwer: {type: qemu}\n",
			[]string{`:4: machines[0].pwer: unknown key; did you mean "power"?`}},
		{"bad values", "machines:\n  - name: A b\n    macs: [zz]\n    arch: mips\n    firmware: coreboot\n    power: {type: snmp}\n",
			[]string{`:2: machines[0].name: "A b" is not a machine name`, `:3: machines[0].macs[0]: "zz" is not a MAC address`,
				`:4: machines[0].arch: "mips" is not supported; use amd64 or arm64`, `:5: machines[0].firmware: "coreboot" is not a firmware`,
				`:6: machines[0].power.type: unknown backend "snmp"`}},
		{"duplicates", "machines:\n  - {name: a, macs: [52:54:00:00:00:01], power: {type: qemu, address: /q}}\n  - {name: a, macs: ['52-54-00-00-00-01'], power: {type: qemu, address: /q}}\n",
			[]string{`:3: machines[1].name: "a" is listed twice`, `machines[1].macs[0]: 52:54:00:00:00:01 is also a's`}},
		{"wrong type", "machines:\n  - {name: a, macs: [52:54:00:00:00:01], power: {type: qemu, address: /q, retries: many}}\n",
			[]string{`:2: machines[0].power.retries: "many"`, `write a whole number`}},
		{"credentials", "machines:\n  - {name: a, macs: [52:54:00:00:00:01], power: {type: ipmi, address: 'bmc:623', user: admin}}\n",
			[]string{`machines[0].power.password_env: no credential`}},
		{"lab", "labs: {lab1: {}}\nmachines:\n  - {name: a, lab: lab2, macs: [52:54:00:00:00:01], power: {type: qemu, address: /q}}\n",
			[]string{`:3: machines[0].lab: no lab "lab2" under labs:; add it to labs: or pick one of lab1`}},
		{"console", "machines:\n  - {name: a, macs: [52:54:00:00:00:01], power: {type: qemu, address: /q}, console: {type: sol}}\n",
			[]string{`machines[0].console.type: IPMI SOL needs an ipmi power entry`}},
		{"timeouts", "machines:\n  - {name: a, macs: [52:54:00:00:00:01], power: {type: qemu, address: /q}, timeouts: {boot: 2m}}\n",
			[]string{`machines[0].timeouts.boot: not a phase`}},
		{"empty", "", []string{"inventory.yaml: the file is empty"}},
		{"syntax", "machines: [\n", []string{"not valid YAML"}},
		{"no machines", "lab: lab1\n", []string{"machines: no machines"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "inventory.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			var ce *config.Error
			var ces config.Errors
			if !errors.As(err, &ces) && !errors.As(err, &ce) {
				t.Errorf("error %T is not a config error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
