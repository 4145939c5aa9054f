package power_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/lab/power"
	"github.com/rlgo/redleaf/lab/vbmc"
	"github.com/rlgo/redleaf/lab/vbmc/vbmctest"
)

const (
	user = "lab"
	pass = "pw-for-tests"
)

func startBMC(t *testing.T, nic bool) *vbmc.BMC {
	t.Helper()
	vm := vbmctest.Start(t, nic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := vbmc.Start(ctx, vbmc.Config{Name: "vm1", QMPSocket: vm.QMP, SerialSocket: vm.Serial,
		User: user, Password: pass, Redfish: "127.0.0.1:0", IPMI: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func open(t *testing.T, s power.Spec) power.Backend {
	t.Helper()
	b, err := power.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// exercise runs a backend through on, PXE once, cycle and off, checking
// each against the machine as the vBMC sees it.
func exercise(t *testing.T, b power.Backend, m *vbmc.Machine) {
	t.Helper()
	ctx := context.Background()
	check := func(want power.State) {
		t.Helper()
		st, err := b.State(ctx)
		if err != nil || st != want {
			t.Fatalf("State = %s, %v; want %s", st, err, want)
		}
		on, err := m.PowerState(ctx)
		if err != nil || on != (want == power.On) {
			t.Fatalf("the machine itself is on=%v (%v), the backend said %s", on, err, want)
		}
	}
	check(power.Off)
	if err := b.BootPXEOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if o := m.Override(); o != (vbmc.Override{Enabled: vbmc.BootOnce, Target: vbmc.BootPxe}) {
		t.Errorf("after BootPXEOnce the BMC's override is %+v", o)
	}
	if err := b.Set(ctx, power.ActionOn); err != nil {
		t.Fatal(err)
	}
	check(power.On)
	if o := m.Override(); o.Enabled != vbmc.BootDisabled {
		t.Errorf("the one-time override outlived its boot: %+v", o)
	}
	if err := b.Set(ctx, power.ActionCycle); err != nil {
		t.Fatal(err)
	}
	check(power.On)
	if err := b.Set(ctx, power.ActionOff); err != nil {
		t.Fatal(err)
	}
	check(power.Off)
	if !power.Confirms(b) {
		t.Error("Confirms = false for a backend that reads the state back")
	}
}

func TestRedfish(t *testing.T) {
	bmc := startBMC(t, true)
	t.Setenv("VBMC_PW", pass)
	b := open(t, power.Spec{Type: "redfish", Address: bmc.RedfishURL, User: user, PasswordEnv: "VBMC_PW", Machine: "vm1"})
	exercise(t, b, bmc.Machine)
}

func TestIPMI(t *testing.T) {
	bmc := startBMC(t, true)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := open(t, power.Spec{Type: "ipmi", Address: bmc.IPMIAddr, User: user, PasswordFile: pwFile, Machine: "vm1"})
	exercise(t, b, bmc.Machine)
}

func TestQEMU(t *testing.T) {
	vm := vbmctest.Start(t, true)
	b := open(t, power.Spec{Type: "qemu", Address: vm.QMP, Machine: "vm1"})
	ctx := context.Background()
	for _, a := range []power.Action{power.ActionOn, power.ActionCycle, power.ActionOff} {
		if err := b.Set(ctx, a); err != nil {
			t.Fatal(err)
		}
		want := power.On
		if a == power.ActionOff {
			want = power.Off
		}
		if st, err := b.State(ctx); err != nil || st != want {
			t.Fatalf("after %s: State = %s, %v", a, st, err)
		}
	}
	if err := b.BootPXEOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// QEMU serves one QMP client: a second backend says why it cannot attach.
	ctx2, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := power.Open(ctx2, power.Spec{Type: "qemu", Address: vm.QMP, Machine: "vm1", Timeout: 2 * time.Second})
	if !errors.Is(err, power.ErrUnreachable) || !strings.Contains(err.Error(), "one QMP client") {
		t.Errorf("second QMP client: err = %v, want ErrUnreachable naming the one-client limit", err)
	}
}

// wantErr checks err is a *power.Error for op and machine wrapping kind.
func wantErr(t *testing.T, err error, op string, kind error) {
	t.Helper()
	var pe *power.Error
	if !errors.As(err, &pe) || !errors.Is(err, kind) || pe.Op != op || pe.Machine != "vm1" {
		t.Fatalf("err = %v (%T), want a *power.Error of op %q for vm1 wrapping %v", err, err, op, kind)
	}
}

func TestFaults(t *testing.T) {
	bmc := startBMC(t, false)
	t.Setenv("WRONG_PW", "not-the-password")
	ctx := context.Background()

	t.Run("redfish wrong password", func(t *testing.T) {
		b := open(t, power.Spec{Type: "redfish", Address: bmc.RedfishURL, User: user, PasswordEnv: "WRONG_PW", Machine: "vm1"})
		err := b.Set(ctx, power.ActionOn)
		wantErr(t, err, "on", power.ErrAuth)
		if strings.Contains(err.Error(), "attempts") {
			t.Errorf("refused credentials were retried (real BMCs lock the account): %v", err)
		}
	})
	t.Run("ipmi wrong password", func(t *testing.T) {
		b := open(t, power.Spec{Type: "ipmi", Address: bmc.IPMIAddr, User: user, PasswordEnv: "WRONG_PW", Machine: "vm1"})
		_, err := b.State(ctx)
		wantErr(t, err, "state", power.ErrAuth)
	})
	// A BMC that is not there: a port nothing listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	t.Run("redfish refuses connections", func(t *testing.T) {
		_, err := power.Open(ctx, power.Spec{Type: "redfish", Address: "http://" + dead, User: user, PasswordEnv: "WRONG_PW", Machine: "vm1", Timeout: 5 * time.Second})
		wantErr(t, err, "open", power.ErrUnreachable)
	})
	t.Run("ipmi does not answer", func(t *testing.T) {
		b := open(t, power.Spec{Type: "ipmi", Address: dead, User: user, PasswordEnv: "WRONG_PW", Machine: "vm1", Retries: 1, Timeout: 10 * time.Second})
		err := b.Set(ctx, power.ActionOn)
		wantErr(t, err, "on", power.ErrUnreachable)
		if !strings.Contains(err.Error(), "after 2 attempts") {
			t.Errorf("an unreachable BMC was not retried as configured: %v", err)
		}
	})
	t.Run("state never confirms", func(t *testing.T) {
		b := open(t, power.Spec{Type: "command", OnCmd: []string{"true"}, OffCmd: []string{"true"},
			StatusCmd: []string{"echo", "Chassis Power is off"}, Machine: "vm1", Retries: 1, Timeout: 3 * time.Second})
		err := b.Set(ctx, power.ActionOn)
		wantErr(t, err, "on", power.ErrUnconfirmed)
		if !strings.Contains(err.Error(), "still reads off") {
			t.Errorf("the error does not say what the machine read: %v", err)
		}
	})
	t.Run("command fails", func(t *testing.T) {
		b := open(t, power.Spec{Type: "command", OnCmd: []string{"sh", "-c", "echo relay stuck >&2; exit 3"}, OffCmd: []string{"true"}, Machine: "vm1", Retries: -1, Timeout: 3 * time.Second})
		err := b.Set(ctx, power.ActionOn)
		wantErr(t, err, "on", power.ErrRejected)
		if !strings.Contains(err.Error(), "relay stuck") {
			t.Errorf("the error does not quote the command's output: %v", err)
		}
	})
	t.Run("pxe boot without a NIC", func(t *testing.T) {
		t.Setenv("VBMC_PW", pass)
		b := open(t, power.Spec{Type: "redfish", Address: bmc.RedfishURL, User: user, PasswordEnv: "VBMC_PW", Machine: "vm1", Retries: -1})
		wantErr(t, b.BootPXEOnce(ctx), "boot-pxe", power.ErrRejected)
	})
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state")
	os.WriteFile(stateFile, []byte("off\n"), 0o644)
	b := open(t, power.Spec{Type: "command", Machine: "vm1",
		OnCmd:     []string{"sh", "-c", "echo on > " + stateFile},
		OffCmd:    []string{"sh", "-c", "echo off > " + stateFile},
		StatusCmd: []string{"cat", stateFile}})
	ctx := context.Background()
	for _, a := range []power.Action{power.ActionOn, power.ActionOff, power.ActionCycle} {
		if err := b.Set(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(stateFile)
		want := "on\n"
		if a == power.ActionOff {
			want = "off\n"
		}
		if string(got) != want {
			t.Errorf("after %s the machine reads %q", a, got)
		}
	}
	if err := b.BootPXEOnce(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("BootPXEOnce on a command backend: %v, want ErrUnsupported", err)
	}
	u := open(t, power.Spec{Type: "command", OnCmd: []string{"true"}, OffCmd: []string{"true"}})
	if power.Confirms(u) {
		t.Error("a command backend without a status command claims to confirm")
	}
	if st, err := u.State(ctx); st != power.Unknown || err != nil {
		t.Errorf("State without a status command = %s, %v; want unknown", st, err)
	}
}
