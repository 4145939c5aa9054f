package vbmc

import (
	"encoding/json"
	"github.com/rlgo/redleaf/lab/vbmc/vbmctest"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// The BMC is cross-checked with the tools lab admins use on real BMCs:
// Debian's ipmitool (-I lanplus) and redfishtool.

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s)", name, name)
	}
	return p
}

func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestIPMItool(t *testing.T) {
	bin := tool(t, "ipmitool")
	vm := vbmctest.Start(t, true)
	b := startBMC(t, vm)
	host, port, _ := net.SplitHostPort(b.IPMIAddr)
	ipmi := func(pass string, args ...string) (string, error) {
		return run(t, bin, append([]string{"-I", "lanplus", "-H", host, "-p", port, "-U", testUser, "-P", pass, "-R", "1", "-N", "2"}, args...)...)
	}
	steps := []struct {
		args []string
		want string
		on   *bool
	}{
		{[]string{"chassis", "power", "status"}, "Chassis Power is off", ptr(false)},
		{[]string{"chassis", "bootdev", "pxe"}, "Set Boot Device to pxe", nil},
		{[]string{"chassis", "bootparam", "get", "5"}, "Force PXE", nil},
		{[]string{"chassis", "power", "on"}, "Chassis Power Control: Up/On", ptr(true)},
		{[]string{"chassis", "power", "status"}, "Chassis Power is on", nil},
		{[]string{"chassis", "power", "off"}, "Chassis Power Control: Down/Off", ptr(false)},
		{[]string{"chassis", "power", "cycle"}, "Chassis Power Control: Cycle", ptr(true)},
		{[]string{"chassis", "power", "reset"}, "Chassis Power Control: Reset", ptr(true)},
	}
	for _, s := range steps {
		out, err := ipmi(testPass, s.args...)
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("ipmitool %s: %v\n%s\nwant %q", strings.Join(s.args, " "), err, out, s.want)
		}
		if s.on != nil {
			if st := qemuStatus(t, b); st.Running != *s.on {
				t.Errorf("after ipmitool %s QEMU is %q", strings.Join(s.args, " "), st.Status)
			}
		}
		if s.args[1] == "bootdev" {
			if o := b.Machine.Override(); o != (Override{BootOnce, BootPxe}) {
				t.Errorf("after ipmitool chassis bootdev pxe the override is %+v, want Once Pxe", o)
			}
		}
	}
	if o := b.Machine.Override(); o.Enabled != BootDisabled {
		t.Errorf("the one-time PXE boot is still set after the power on it was for: %+v", o)
	}
	if out, err := ipmi("wrong-password", "chassis", "power", "status"); err == nil {
		t.Errorf("a wrong password was accepted:\n%s", out)
	}
	if out, err := run(t, bin, "-I", "lan", "-H", host, "-p", port, "-U", testUser, "-P", testPass, "-R", "1", "-N", "1", "chassis", "power", "status"); err == nil {
		t.Errorf("IPMI v1.5 (-I lan, no encryption) was served:\n%s", out)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRedfishtool(t *testing.T) {
	bin := tool(t, "redfishtool")
	vm := vbmctest.Start(t, true)
	b := startBMC(t, vm)
	addr := strings.TrimPrefix(b.RedfishURL, "http://")
	rft := func(pass string, args ...string) (string, error) {
		return run(t, bin, append([]string{"-r", addr, "-u", testUser, "-p", pass, "-S", "Never", "-T", "30"}, args...)...)
	}
	if out, err := rft(testPass, "Systems", "-1", "setBootOverride", "Once", "Pxe"); err != nil {
		t.Fatalf("setBootOverride: %v\n%s", err, out)
	}
	if o := b.Machine.Override(); o != (Override{BootOnce, BootPxe}) {
		t.Errorf("after redfishtool setBootOverride Once Pxe the override is %+v", o)
	}
	for _, s := range []struct {
		reset string
		on    bool
	}{{"On", true}, {"ForceOff", false}, {"PowerCycle", true}, {"ForceRestart", true}} {
		if out, err := rft(testPass, "Systems", "-1", "reset", s.reset); err != nil {
			t.Fatalf("reset %s: %v\n%s", s.reset, err, out)
		}
		if st := qemuStatus(t, b); st.Running != s.on {
			t.Errorf("after redfishtool reset %s QEMU is %q", s.reset, st.Status)
		}
	}
	out, err := rft(testPass, "Systems", "-1", "get")
	if err != nil {
		t.Fatalf("get: %v\n%s", err, out)
	}
	var sys struct {
		PowerState string
		Boot       struct{ BootSourceOverrideEnabled string }
	}
	if err := json.Unmarshal([]byte(out), &sys); err != nil {
		t.Fatalf("redfishtool get printed no JSON system: %v\n%s", err, out)
	}
	if sys.PowerState != "On" || sys.Boot.BootSourceOverrideEnabled != "Disabled" {
		t.Errorf("redfishtool reads PowerState %q, override %q; want On, Disabled", sys.PowerState, sys.Boot.BootSourceOverrideEnabled)
	}
	if out, err := rft("wrong", "Systems", "-1", "get"); err == nil {
		t.Errorf("redfishtool with a wrong password succeeded:\n%s", out)
	}
}
