package suite

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromCmdline(t *testing.T) {
	s, ok, err := FromCmdline(lookup(map[string]string{"rl.suite": "nvme", "rl.suite.steps": "write-read=echo+nvme-ok+%3E+%2Fprobe,bench=benchnvme"}))
	if !ok || err != nil || s.Name != "nvme" || len(s.Steps) != 2 || s.Steps[0].Run != "echo nvme-ok > /probe" || s.Steps[1].Name != "bench" {
		t.Fatalf("%+v %v %v", s, ok, err)
	}
	if _, ok, _ := FromCmdline(lookup(nil)); ok {
		t.Error("no rl.suite: no suite")
	}
	for _, bad := range []string{"", "noequals", "a=", "=b", "a=%zz"} {
		if _, _, err := FromCmdline(lookup(map[string]string{"rl.suite": "x", "rl.suite.steps": bad})); err == nil {
			t.Errorf("steps %q accepted", bad)
		}
	}
}

func TestRun(t *testing.T) {
	var console strings.Builder
	exec := func(_ context.Context, cmd string) (Exit, error) {
		switch cmd {
		case "ok":
			return Exit{}, nil
		case "crash":
			return Exit{Status: 2, Reason: "panic: boom"}, nil
		case "exit3":
			return Exit{Status: 3}, nil
		}
		return Exit{}, errors.New("no such program")
	}
	res := Run(context.Background(), Spec{Name: "s", Steps: []Step{{"a", "ok"}, {"b", "crash"}, {"c", "exit3"}, {"d", "nope"}, {"e", "ok"}}}, exec, &console)
	if res.Status != "fail" || len(res.Steps) != 5 {
		t.Fatalf("%+v", res)
	}
	want := []string{"pass", "fail", "fail", "fail", "pass"}
	for i, st := range res.Steps {
		if st.Status != want[i] {
			t.Errorf("step %s: %s, want %s", st.Name, st.Status, want[i])
		}
	}
	if res.Steps[1].Message != "panic: boom" || res.Steps[2].Exit != 3 {
		t.Errorf("%+v", res.Steps)
	}
	for _, m := range []string{"RL-SUITE a status=pass exit=0", "RL-SUITE c status=fail exit=3", "RL-SUITE-END s status=fail"} {
		if !strings.Contains(console.String(), m) {
			t.Errorf("console lacks %q:\n%s", m, console.String())
		}
	}
}
