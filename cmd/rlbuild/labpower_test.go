package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/lab/vbmc"
	"github.com/rlgo/redleaf/lab/vbmc/vbmctest"
)

// TestLabPower runs `rlbuild lab power` against a virtual BMC. The `lab`
// command here is a stand-in for lab-core's, which calls
// addLabPowerCommands the same way.
func TestLabPower(t *testing.T) {
	vm := vbmctest.Start(t, true)
	b, err := vbmc.Start(context.Background(), vbmc.Config{Name: "vm1", QMPSocket: vm.QMP, User: "admin", Password: "pw1", Redfish: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	os.WriteFile(inv, []byte(fmt.Sprintf(`machines:
  - name: vm1
    macs: [52:54:00:00:00:01]
    firmware: bios
    power:
      type: redfish
      address: %s
      user: admin
      password_env: LABPOWER_TEST_PW
`, b.RedfishURL)), 0o644)
	t.Setenv("LABPOWER_TEST_PW", "pw1")
	run := func(args ...string) (string, error) {
		lab := &cobra.Command{Use: "lab", SilenceUsage: true, SilenceErrors: true}
		addLabPowerCommands(lab)
		var out bytes.Buffer
		lab.SetOut(&out)
		lab.SetArgs(append(args, "--inventory", inv))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := lab.ExecuteContext(ctx)
		return out.String(), err
	}
	for _, step := range []struct{ args, want string }{
		{"power vm1 status", "vm1: off"},
		{"power vm1 on --pxe", "vm1: on confirmed"},
		{"power vm1 status", "vm1: on"},
		{"power vm1 cycle", "vm1: cycle confirmed"},
		{"power vm1 off", "vm1: off confirmed"},
	} {
		out, err := run(strings.Fields(step.args)...)
		if err != nil || !strings.Contains(out, step.want) {
			t.Fatalf("lab %s: %q, %v; want %q", step.args, out, err, step.want)
		}
	}
	if _, err := run("power", "vm2", "on"); err == nil || !strings.Contains(err.Error(), `no machine "vm2"`) {
		t.Errorf("an unknown machine: err = %v", err)
	}
	if _, err := run("power", "vm1", "explode"); err == nil || !strings.Contains(err.Error(), "on, off or cycle") {
		t.Errorf("an unknown action: err = %v", err)
	}
}
