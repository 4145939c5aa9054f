package vmlab

import (
	"context"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/rlgo/redleaf/lab/power"
	"github.com/rlgo/redleaf/netboot/privnet"
)

// TestLab starts two VMs in a namespace, one behind a virtual BMC and one
// without, and powers each through the namespace as the agent would.
func TestLab(t *testing.T) {
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	if err := privnet.Usable(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	ns, err := privnet.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := ns.AddBridge("br0", netip.MustParsePrefix("10.78.0.1/24")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lab, err := Start(ctx, Config{NS: ns, Bridge: "br0", Machines: []Machine{
		{Name: "bios1", Firmware: "bios", MAC: "52:54:00:00:00:01", MemoryMiB: 128, NVMeMiB: 16, IPMI: "127.0.0.1:6230", User: "lab", Password: "pw"},
		{Name: "plain", Firmware: "bios", MAC: "52:54:00:00:00:02", MemoryMiB: 128},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	t.Setenv("VMLAB_PW", "pw")
	var ipmi, qmp power.Backend
	// The BMC listens inside the namespace: the backend dials from there.
	err = ns.Do(func() error {
		var err error
		ipmi, err = power.Open(ctx, power.Spec{Type: "ipmi", Address: "127.0.0.1:6230", User: "lab", PasswordEnv: "VMLAB_PW", Machine: "bios1", Firmware: "bios"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ipmi.Close()
	qmp, err = power.Open(ctx, power.Spec{Type: "qemu", Address: lab.VMs[1].QMP, Machine: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	defer qmp.Close()
	for _, b := range []power.Backend{ipmi, qmp} {
		err := ns.Do(func() error { return b.Set(ctx, power.ActionOn) })
		if err != nil {
			t.Fatal(err)
		}
	}
	if on, err := lab.VMs[0].BMC.Machine.PowerState(ctx); err != nil || !on {
		t.Errorf("bios1 after power on through its BMC: on=%v, %v", on, err)
	}
}
