package main

import (
	"io"
	"strings"
	"testing"
)

// Bad --forward and --linux-forward values are refused before anything
// is loaded or booted.
func TestBootForwardFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--forward", "0:7000"}, `--forward "0:7000": host port 0 is out of range: want 1..65535`},
		{[]string{"--forward", "8080"}, `--forward "8080": want HOSTPORT:GUESTPORT`},
		{[]string{"--forward", "8080:7000", "--forward", "8080:22"}, `host port 8080 is already forwarded`},
		{[]string{"--linux-forward", "18080"}, `--linux-forward "18080": want HOSTPORT:GUESTPORT`},
		{[]string{"--forward", "8080:80", "--linux-forward", "8080:80"}, `--linux-forward "8080:80": host port 8080 is already forwarded by --forward "8080:80"`},
	} {
		cmd := bootCmd()
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetOut(io.Discard)
		cmd.SetArgs(append([]string{"--artifacts", t.TempDir()}, tc.args...))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("boot %q: %v; want an error with %q", tc.args, err, tc.want)
		}
	}
}
