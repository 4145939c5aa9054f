package power

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/config"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Spec
		keys []string // keys the errors must name, in order
	}{
		{"ok redfish", Spec{Type: "redfish", Address: "https://bmc1", User: "u", PasswordEnv: "X"}, nil},
		{"ok ipmi", Spec{Type: "ipmi", Address: "bmc1", User: "u", PasswordFile: "/f"}, nil},
		{"ok pdu", Spec{Type: "pdudaemon", Address: "http://pdu:16421", PDU: "p", Port: "2"}, nil},
		{"ok command", Spec{Type: "command", OnCmd: []string{"on"}, OffCmd: []string{"off"}}, nil},
		{"ok qemu", Spec{Type: "qemu", Address: "/run/vm/qmp.sock"}, nil},
		{"no type", Spec{}, []string{"power.type"}},
		{"bad type", Spec{Type: "ilo"}, []string{"power.type"}},
		{"redfish", Spec{Type: "redfish", Address: "bmc1"}, []string{"power.address", "power.user", "power.password_env"}},
		{"ipmi port", Spec{Type: "ipmi", Address: "bmc1:x", User: "u", PasswordEnv: "X"}, []string{"power.address"}},
		{"pdu", Spec{Type: "pdudaemon", Address: "http://pdu", Port: "three"}, []string{"power.pdu", "power.port"}},
		{"command", Spec{Type: "command", OnCmd: []string{""}}, []string{"power.on", "power.off"}},
		{"two credentials", Spec{Type: "redfish", Address: "http://b", User: "u", PasswordEnv: "X", PasswordFile: "/f"}, []string{"power.password_env"}},
		{"limits", Spec{Type: "qemu", Address: "/s", Retries: 99, Timeout: time.Millisecond}, []string{"power.retries", "power.timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.keys == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate = %v, want config.Errors", err)
			}
			var keys []string
			for _, e := range errs {
				keys = append(keys, e.Key)
				if e.Fix == "" {
					t.Errorf("%s: no fix given: %v", e.Key, e)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tc.keys, ",") {
				t.Errorf("errors name %v, want %v: %v", keys, tc.keys, err)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("pw\n"), 0o644)
	_, err := Open(context.Background(), Spec{Type: "ipmi", Address: "bmc", User: "u", PasswordFile: open, Machine: "m1"})
	var pe *Error
	if !errors.As(err, &pe) || pe.Op != "open" || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a password file others can read: err = %v, want an open error saying chmod 600", err)
	}
	_, err = Open(context.Background(), Spec{Type: "ipmi", Address: "bmc", User: "u", PasswordEnv: "RL_SURELY_UNSET_PW"})
	if err == nil || !strings.Contains(err.Error(), "RL_SURELY_UNSET_PW is not set") {
		t.Errorf("an unset password variable: err = %v", err)
	}
}
