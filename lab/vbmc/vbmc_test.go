package vbmc

import (
	"context"
	"encoding/json"
	"github.com/rlgo/redleaf/lab/vbmc/vbmctest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/rlgo/redleaf/qemu"
	"github.com/rlgo/redleaf/qemu/qmp"
)

const (
	testUser = "admin"
	testPass = "s3cret-pw"
)

func startBMC(t *testing.T, vm vbmctest.VM) *BMC {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Start(ctx, Config{
		Name: "vm1", QMPSocket: vm.QMP, SerialSocket: vm.Serial, User: testUser, Password: testPass,
		Redfish: "127.0.0.1:0", IPMI: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// qemuStatus asks QEMU itself, over a second QMP connection... QEMU
// serves one QMP client per socket, so the test asks through the BMC's
// own connection instead, which is the same QEMU.
func qemuStatus(t *testing.T, b *BMC) qmp.Status {
	t.Helper()
	st, err := b.Machine.q.QueryStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRedfishWithGofish(t *testing.T) {
	vm := vbmctest.Start(t, true)
	b := startBMC(t, vm)
	api, err := gofish.Connect(gofish.ClientConfig{Endpoint: b.RedfishURL, Username: testUser, Password: testPass, BasicAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Logout()
	systems, err := api.Service.Systems()
	if err != nil {
		t.Fatal(err)
	}
	if len(systems) != 1 || systems[0].ID != "vm1" {
		t.Fatalf("systems = %v, want one, vm1", systems)
	}
	sys := systems[0]
	if sys.PowerState != schemas.OffPowerState {
		t.Errorf("a VM started paused reads %q, want Off", sys.PowerState)
	}

	// One-time PXE boot: QEMU's boot order has the NIC first until the
	// next reset has handed it to the firmware, then the disk again.
	err = sys.SetBoot(&schemas.Boot{BootSourceOverrideEnabled: schemas.OnceBootSourceOverrideEnabled, BootSourceOverrideTarget: schemas.PxeBootSource})
	if err != nil {
		t.Fatal(err)
	}
	if err := refresh(api, &sys); err != nil {
		t.Fatal(err)
	}
	if sys.Boot.BootSourceOverrideEnabled != schemas.OnceBootSourceOverrideEnabled || sys.Boot.BootSourceOverrideTarget != schemas.PxeBootSource {
		t.Errorf("boot override reads %q %q, want Once Pxe", sys.Boot.BootSourceOverrideEnabled, sys.Boot.BootSourceOverrideTarget)
	}
	if _, err := sys.Reset(schemas.OnResetType); err != nil {
		t.Fatal(err)
	}
	if st := qemuStatus(t, b); st.Status != "running" {
		t.Errorf("after Reset On QEMU is %q, want running", st.Status)
	}
	if err := refresh(api, &sys); err != nil {
		t.Fatal(err)
	}
	if sys.PowerState != schemas.OnPowerState {
		t.Errorf("after Reset On PowerState = %q", sys.PowerState)
	}
	if sys.Boot.BootSourceOverrideEnabled != "Disabled" {
		t.Errorf("a Once override still reads %q after the boot it was for", sys.Boot.BootSourceOverrideEnabled)
	}
	// The NIC is second again after the boot the override was for...
	if idx, err := b.Machine.BootIndex(context.Background(), qemu.NICID); err != nil || idx != 1 {
		t.Errorf("NIC boot index after the override boot = %d, %v; want 1 (after the disk) again", idx, err)
	}
	// ... and stays first with a Continuous one.
	err = sys.SetBoot(&schemas.Boot{BootSourceOverrideEnabled: schemas.ContinuousBootSourceOverrideEnabled, BootSourceOverrideTarget: schemas.PxeBootSource})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Reset(schemas.ForceRestartResetType); err != nil {
		t.Fatal(err)
	}
	nic, err1 := b.Machine.BootIndex(context.Background(), qemu.NICID)
	disk, err2 := b.Machine.BootIndex(context.Background(), qemu.DiskID)
	if err1 != nil || err2 != nil || nic != 0 || disk != 1 {
		t.Errorf("boot indexes with a Continuous Pxe override: NIC %d, disk %d (%v, %v); want 0 and 1", nic, disk, err1, err2)
	}

	if _, err := sys.Reset(schemas.ForceOffResetType); err != nil {
		t.Fatal(err)
	}
	if st := qemuStatus(t, b); st.Running {
		t.Errorf("after ForceOff QEMU is %q", st.Status)
	}
	if _, err := sys.Reset(schemas.PowerCycleResetType); err != nil {
		t.Fatal(err)
	}
	if st := qemuStatus(t, b); !st.Running {
		t.Errorf("after PowerCycle QEMU is %q", st.Status)
	}
	if _, err := sys.Reset(schemas.NmiResetType); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("Reset Nmi: err = %v, want it refused as not supported", err)
	}
}

func refresh(api *gofish.APIClient, sys **schemas.ComputerSystem) error {
	s, err := schemas.GetComputerSystem(api, (*sys).ODataID)
	if err != nil {
		return err
	}
	*sys = s
	return nil
}

func TestRedfishRefusesBadClients(t *testing.T) {
	vm := vbmctest.Start(t, false)
	b := startBMC(t, vm)
	sys := b.RedfishURL + "/redfish/v1/Systems/vm1"
	for _, tc := range []struct {
		name, method, url, user, pass, body string
		status                              int
		code                                string
	}{
		{"service root needs no login", "GET", b.RedfishURL + "/redfish/v1/", "", "", "", 200, ""},
		{"no credentials", "GET", sys, "", "", "", 401, "NoValidSession"},
		{"wrong password", "GET", sys, testUser, "wrong", "", 401, "NoValidSession"},
		{"unknown system", "GET", b.RedfishURL + "/redfish/v1/Systems/other", testUser, testPass, "", 404, "ResourceMissingAtURI"},
		{"unknown property", "PATCH", sys, testUser, testPass, `{"Boot":{"Bogus":1}}`, 400, "PropertyUnknown"},
		{"bad target", "PATCH", sys, testUser, testPass, `{"Boot":{"BootSourceOverrideTarget":"Floppy"}}`, 400, "PropertyValueNotInList"},
		{"Pxe without a NIC", "PATCH", sys, testUser, testPass, `{"Boot":{"BootSourceOverrideTarget":"Pxe"}}`, 400, "PropertyValueNotInList"},
		{"bad reset", "POST", sys + "/Actions/ComputerSystem.Reset", testUser, testPass, `{"ResetType":"Explode"}`, 400, "ActionParameterValueNotInList"},
		{"not JSON", "POST", sys + "/Actions/ComputerSystem.Reset", testUser, testPass, `ResetType=On`, 400, "MalformedJSON"},
		{"huge body", "POST", sys + "/Actions/ComputerSystem.Reset", testUser, testPass, `{"ResetType":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "MalformedJSON"},
		{"wrong method", "DELETE", sys, testUser, testPass, "", 405, "OperationNotAllowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error struct{ Code string } }
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || !strings.Contains(body.Error.Code, tc.code) {
				t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.url, resp.StatusCode, body.Error.Code, tc.status, tc.code)
			}
		})
	}
	if st := qemuStatus(t, b); st.Running {
		t.Errorf("refused requests changed the machine: QEMU is %q", st.Status)
	}
}
