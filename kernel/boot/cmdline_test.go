package boot

import (
	"reflect"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Param
	}{
		{"", nil},
		{"  \n", nil},
		{"console=ttyS0,115200 quiet\n", []Param{{"console", "ttyS0,115200", true}, {Key: "quiet"}}},
		{"rl.onfatal=reboot rl.debug rl.shell=0", []Param{{"rl.onfatal", "reboot", true}, {Key: "rl.debug"}, {"rl.shell", "0", true}}},
		{`a="x y" "b=c d" e=`, []Param{{"a", "x y", true}, {"b", "c d", true}, {"e", "", true}}},
		{`a=x"y z" "=" b`, []Param{{"a", `x"y z"`, true}, {"", "", true}, {Key: "b"}}},
		{"k=v=w", []Param{{"k", "v=w", true}}},
		{"x -- init args", []Param{{Key: "x"}, {Key: "--"}, {Key: "init"}, {Key: "args"}}},
		{`"" lone`, []Param{{Key: "lone"}}},
		{"a\tb\x00", []Param{{Key: "a"}, {Key: "b"}}},
		{`q="unterminated value`, []Param{{"q", "unterminated value", true}}},
	} {
		got := ParseCmdline(tc.in).Params
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCmdline(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestCmdlineLookup(t *testing.T) {
	c := ParseCmdline("a=1 flag a=2 b=no")
	if v, ok := c.Lookup("a"); !ok || v != "2" {
		t.Errorf("Lookup(a) = %q, %v; want the last value 2", v, ok)
	}
	if v, ok := c.Lookup("flag"); !ok || v != "" {
		t.Errorf("Lookup(flag) = %q, %v", v, ok)
	}
	if c.Has("missing") {
		t.Error("Has(missing)")
	}
	if b, err := c.Bool("flag", false); !b || err != nil {
		t.Errorf("Bool(flag) = %v, %v", b, err)
	}
	if b, err := c.Bool("b", true); b || err != nil {
		t.Errorf("Bool(b) = %v, %v", b, err)
	}
	if b, err := c.Bool("a", true); !b || err == nil {
		t.Errorf("Bool(a=2) = %v, %v; want default and an error", b, err)
	}
	if b, err := c.Bool("missing", true); !b || err != nil {
		t.Errorf("Bool(missing) = %v, %v", b, err)
	}
	var nilc *Cmdline
	if nilc.Has("x") {
		t.Error("nil Cmdline has x")
	}
	if c.Params[0].String() != "a=1" || (Param{"k", "a b", true}).String() != `k="a b"` || c.Params[1].String() != "flag" {
		t.Error("Param.String")
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Config
		errs int
	}{
		{"", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootAuto}, 0},
		{"console=ttyS0 rl.unknown=1 other.key", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootAuto}, 0},
		{"rl.onfatal=reboot", Config{OnFatal: ActionReboot, Shell: true, Root: RootAuto}, 0},
		{"rl.onfatal=halt rl.shell=0 rl.debug", Config{OnFatal: ActionHalt, Shell: false, Debug: true, Root: RootAuto}, 0},
		{"rl.onfatal=explode rl.shell=maybe rl.debug=1", Config{OnFatal: ActionPoweroff, Shell: true, Debug: true, Root: RootAuto}, 2},
		{"rl.onfatal=reboot rl.onfatal=poweroff", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootAuto}, 0},
		{"rl.root=ramdisk", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootRAMDisk}, 0},
		{"rl.root=NVMe", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootNVMe}, 0},
		{"rl.root=nvme rl.root=auto", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootAuto}, 0},
		{"rl.root=floppy", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootAuto}, 1},
		{"rl.root", Config{OnFatal: ActionPoweroff, Shell: true, Root: RootAuto}, 1},
	} {
		got, errs := ParseConfig(ParseCmdline(tc.in))
		if got != tc.want || len(errs) != tc.errs {
			t.Errorf("ParseConfig(%q) = %+v, %v; want %+v and %d errors", tc.in, got, errs, tc.want, tc.errs)
		}
	}
}

func TestAction(t *testing.T) {
	for _, a := range []Action{ActionPoweroff, ActionReboot, ActionHalt} {
		b, err := ParseAction(a.String())
		if err != nil || b != a {
			t.Errorf("ParseAction(%q) = %v, %v", a.String(), b, err)
		}
	}
	if _, err := ParseAction("explode"); err == nil {
		t.Error("ParseAction(explode) did not fail")
	}
	if Action(42).String() != "Action(42)" {
		t.Error(Action(42).String())
	}
}
