package bootparam

import (
	"strings"
	"testing"
)

func TestArg(t *testing.T) {
	if a, err := Arg(Token, "0123abcd"); err != nil || a != "rl.token=0123abcd" {
		t.Errorf("Arg = %q, %v", a, err)
	}
	for _, v := range []string{"a b", "a\nb", "a\x00", "a\tb", `a"b`, "a\x7f"} {
		if _, err := Arg(Profile, v); err == nil || !strings.Contains(err.Error(), "rl.profile=") {
			t.Errorf("Arg(%q) = %v, want an error naming the parameter", v, err)
		}
	}
	if _, err := Arg("quiet", "1"); err == nil {
		t.Error("a parameter outside rl.* was accepted")
	}
}

func TestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range []string{Report, Token, Boot, MAC, Profile, Suite, SuiteSteps, OnFatal, Shell, Debug, Root, Rv6, NVMeSpin, Net, NetMAC, NetAddr, NetStack, LinuxNet, LinuxNetAddr} {
		if seen[k] || !strings.HasPrefix(k, Prefix) {
			t.Errorf("%s is repeated or lacks the prefix", k)
		}
		seen[k] = true
	}
}
