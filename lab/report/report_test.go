package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/schedule"
)

// sample is a run with a cell of every status.
func sample() *Data {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	d := &Data{Run: schedule.Run{ID: "20261207-100000-abcdef", Matrix: "ci", Created: t0, State: schedule.Done,
		Images: []cell.Image{{Name: "small", Digest: "sha256:" + strings.Repeat("a", 64), Artifacts: "/out/small"}, {Name: "nvme", Digest: "sha256:" + strings.Repeat("b", 64)}},
		Labs:   map[string]string{"m1": "lab1", "m2": "lab2"}},
		Machines: map[string]Machine{
			"m1": {Name: "m1", Lab: "lab1", Tags: []string{"qemu", "bios"}, Facts: map[string]inventory.Fact{"nvme": {"true"}}},
			"m2": {Name: "m2", Lab: "lab2", Tags: []string{"qemu"}, Facts: map[string]inventory.Fact{"nvme": {"false"}}},
		}}
	attempt := func(id, machine string, n int, o outcome.Outcome) schedule.Attempt {
		ev := cell.EvidenceData{Phases: []cell.PhaseRecord{
			{Name: cell.PhaseLease, Start: t0, End: t0.Add(time.Second), OK: true},
			{Name: cell.PhasePower, Start: t0.Add(time.Second), End: t0.Add(3 * time.Second), OK: o.Class != outcome.ClassPower, Err: map[bool]string{true: "no ack <&>"}[o.Class == outcome.ClassPower]},
		}, Steps: []cell.StepResult{{Name: "usertests", Status: "pass"}}}
		return schedule.Attempt{Run: d.Run.ID, Cell: id, N: n, Machine: machine, Agent: "agent1", Lab: "lab1",
			Started: t0, Ended: t0.Add(10 * time.Second), Evidence: ev, Outcome: o, Log: "log." + id}
	}
	add := func(img, suite, machine string, st outcome.Status, class, reason string, outs ...outcome.Outcome) {
		id := img + "." + suite + "." + machine
		c := Cell{CellState: schedule.CellState{ID: id, Image: img, Suite: suite, Machine: machine, Status: st, Class2: class, Reason: reason}}
		for i, o := range outs {
			c.Attempts = append(c.Attempts, attempt(id, machine, i+1, o))
			c.CellState.Attempts = append(c.CellState.Attempts, schedule.AttemptRef{N: i + 1, Machine: machine, Status: o.Status})
		}
		d.Cells = append(d.Cells, c)
	}
	add("small", "boot", "m1", outcome.Passed, "", "1 steps passed", outcome.Outcome{Status: outcome.Passed})
	add("small", "boot", "m2", outcome.Infra, outcome.ClassPower, "power: no ack (after 2 retries)", outcome.Outcome{Status: outcome.Infra, Class: outcome.ClassPower, Reason: "power"})
	add("small", "usertests", "m1", outcome.Flaky, "", "failed on m1, then passed on m2", outcome.Outcome{Status: outcome.Failed, Class: "suite"}, outcome.Outcome{Status: outcome.Passed})
	add("small", "usertests", "m2", outcome.Failed, "", "failed steps: usertests & <b>", outcome.Outcome{Status: outcome.Failed, Class: "suite"})
	add("nvme", "boot", "m1", outcome.Infra, outcome.ClassResultsMissing, "no results", outcome.Outcome{Status: outcome.Infra, Class: outcome.ClassResultsMissing})
	add("nvme", "boot", "m2", outcome.Skipped, "", "m2 lacks what suite nvme requires")
	add("nvme", "usertests", "m1", outcome.Canceled, "", "boot gate: image nvme failed to boot")
	add("nvme", "usertests", "m2", "", "", "")
	return d
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	if got.Tests != 8 || got.Failures != 1 || got.Errors != 2 || len(got.Suites) != 2 {
		t.Errorf("counts: tests %d failures %d errors %d suites %d", got.Tests, got.Failures, got.Errors, len(got.Suites))
	}
	byName := map[string]junitCase{}
	for _, s := range got.Suites {
		for _, c := range s.Cases {
			byName[c.ClassName+"/"+c.Name] = c
		}
	}
	if c := byName["small.boot/m2"]; c.Error == nil || c.Error.Type != "infra:power" || c.Failure != nil {
		t.Errorf("an infrastructure error must be an <error>: %+v", c)
	}
	if c := byName["small.usertests/m2"]; c.Failure == nil || c.Error != nil || !strings.Contains(c.Failure.Message, "& <b>") {
		t.Errorf("a test failure must be a <failure>: %+v", c)
	}
	if c := byName["small.usertests/m1"]; c.Failure != nil || c.Error != nil || c.Skipped != nil || !strings.Contains(c.SystemOut, "FLAKY") {
		t.Errorf("a flaky cell passes, saying so: %+v", c)
	}
	if c := byName["nvme.usertests/m2"]; c.Skipped == nil {
		t.Errorf("a pending cell is skipped: %+v", c)
	}
	validateXSD(t, b.Bytes())
}

func validateXSD(t *testing.T, doc []byte) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("no xmllint for the schema check: apt-get install libxml2-utils")
	}
	f := filepath.Join(t.TempDir(), "junit.xml")
	os.WriteFile(f, doc, 0o644)
	out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/junit.xsd", f).CombinedOutput()
	if err != nil {
		t.Fatalf("JUnit XML does not validate against testdata/junit.xsd: %v\n%s", err, out)
	}
}

// TestJUnitSchemaRejects checks that the schema check can fail.
func TestJUnitSchemaRejects(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("no xmllint: apt-get install libxml2-utils")
	}
	f := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(f, []byte(`<testsuites><testsuite tests="x"><testcase/></testsuite></testsuites>`), 0o644)
	if err := exec.Command("xmllint", "--noout", "--schema", "testdata/junit.xsd", f).Run(); err == nil {
		t.Fatal("xmllint accepted a testsuite without a name and a testcase without attributes")
	}
}

func jsonSchemaCheck(t *testing.T, doc []byte, schema string) error {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import jsonschema").Run(); err != nil {
		t.Skip("no python3-jsonschema for the schema check: apt-get install python3-jsonschema")
	}
	f := filepath.Join(t.TempDir(), "doc.json")
	os.WriteFile(f, doc, 0o644)
	script := `import json,sys,jsonschema
s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))
jsonschema.Draft7Validator.check_schema(s)
errs=sorted(jsonschema.Draft7Validator(s, format_checker=jsonschema.FormatChecker()).iter_errors(d), key=str)
for e in errs: print(list(e.absolute_path), e.message)
sys.exit(1 if errs else 0)`
	out, err := exec.Command(py, "-c", script, schema, f).CombinedOutput()
	if err != nil {
		return &schemaError{string(out)}
	}
	return nil
}

type schemaError struct{ s string }

func (e *schemaError) Error() string { return e.s }

func TestKCIDB(t *testing.T) {
	var b bytes.Buffer
	if err := WriteKCIDB(&b, sample(), "/srv/report"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version struct{ Major int }
		Tests   []map[string]any
		Builds  []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, tc := range got.Tests {
		status[tc["id"].(string)] = tc["status"].(string)
	}
	for id, want := range map[string]string{
		"small.boot.m1": "PASS", "small.boot.m2": "MISS", "small.usertests.m1": "PASS", "small.usertests.m2": "FAIL",
		"nvme.boot.m1": "ERROR", "nvme.boot.m2": "SKIP", "nvme.usertests.m1": "SKIP",
	} {
		if got := status["rlbuild:20261207-100000-abcdef."+id]; got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	if got.Version.Major != 5 || len(got.Builds) != 2 {
		t.Errorf("version %d, %d builds", got.Version.Major, len(got.Builds))
	}
	if err := jsonSchemaCheck(t, b.Bytes(), "testdata/kcidb-v5.schema.json"); err != nil {
		t.Fatalf("KCIDB report does not validate:\n%v", err)
	}
	// And the check can fail: a status KCIDB does not have.
	bad := bytes.Replace(b.Bytes(), []byte(`"FAIL"`), []byte(`"BROKEN"`), 1)
	if err := jsonSchemaCheck(t, bad, "testdata/kcidb-v5.schema.json"); err == nil {
		t.Fatal("the schema accepted status BROKEN")
	}
	// The full kcidb-io schema, when given (kcidb_io.schema.LATEST
	// exported as JSON), must accept the report too.
	if full := os.Getenv("KCIDB_SCHEMA"); full != "" {
		if err := jsonSchemaCheck(t, b.Bytes(), full); err != nil {
			t.Fatalf("KCIDB report does not validate against %s:\n%v", full, err)
		}
	}
}

func TestHTML(t *testing.T) {
	d := sample()
	var b bytes.Buffer
	if err := WriteIndex(&b, d, PageOptions{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`data-cell="small.boot.m2" data-status="infra"`, `data-cell="small.usertests.m1" data-status="flaky"`,
		`href="cells/small.boot.m1.html"`, `data-pivot="tag"`, `data-pivot="fact nvme"`, `8 cells: 1 passed, 1 flaky, 1 failed, 2 infra, 1 skipped, 1 canceled, 1 pending`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	if strings.Contains(page, "<b>") {
		t.Error("a reason's markup reached the page unescaped")
	}
	b.Reset()
	if err := WriteCell(&b, d, d.Cells[1], PageOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="../logs/small.boot.m2.1.log"`, "no ack &lt;&amp;&gt;", `class="bad"`, "power"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("cell page lacks %q:\n%s", want, b.String())
		}
	}
}
