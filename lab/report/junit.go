package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/rlgo/redleaf/lab/outcome"
)

// JUnit XML, in the shape Jenkins and GitLab read: a testsuite per
// image, a testcase per cell (classname IMAGE.SUITE, name MACHINE).
// Infrastructure errors are <error type="infra:CLASS">, test failures
// <failure>, skipped and cancelled cells <skipped>; a flaky cell passes,
// with <system-out> saying it failed first.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr"`
	Hostname  string          `xml:"hostname,attr"`
	ID        int             `xml:"id,attr"`
	Package   string          `xml:"package,attr"`
	Props     []junitProperty `xml:"properties>property"`
	Cases     []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitMessage `xml:"skipped"`
	Error     *junitMessage `xml:"error"`
	Failure   *junitMessage `xml:"failure"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func secs(f float64) string { return fmt.Sprintf("%.3f", f) }

// WriteJUnit writes the run as JUnit XML.
func WriteJUnit(w io.Writer, d *Data) error {
	all := junitSuites{Name: "rlbuild lab " + d.Run.ID}
	var total float64
	for i, img := range d.Run.Images {
		s := junitSuite{Name: img.Name, ID: i, Package: "rlbuild.lab." + d.Run.Matrix, Hostname: "rlbuild-lab",
			Timestamp: d.Run.Created.UTC().Format("2006-01-02T15:04:05"),
			Props:     []junitProperty{{"digest", img.Digest}, {"artifacts", img.Artifacts}, {"run", d.Run.ID}}}
		var t float64
		for _, c := range d.Cells {
			if c.Image != img.Name {
				continue
			}
			jc := junitCase{Name: c.Machine, ClassName: c.Image + "." + c.Suite, Time: secs(c.Seconds())}
			t += c.Seconds()
			var out strings.Builder
			for _, a := range c.Attempts {
				fmt.Fprintf(&out, "attempt %d on %s (%s): %s %s %s\n", a.N, orNone(a.Machine), a.Agent, a.Outcome.Status, a.Outcome.Class, a.Outcome.Reason)
			}
			switch c.Status {
			case outcome.Failed:
				jc.Failure = &junitMessage{Message: c.Reason, Type: "failure:" + lastClass(c), Text: out.String()}
				s.Failures++
			case outcome.Infra:
				jc.Error = &junitMessage{Message: c.Reason, Type: "infra:" + c.Class2, Text: out.String()}
				s.Errors++
			case outcome.Skipped, outcome.Canceled, "":
				msg := c.Reason
				if c.Status == "" {
					msg = "not run: the run ended first"
				}
				jc.Skipped = &junitMessage{Message: msg}
				s.Skipped++
			case outcome.Flaky:
				out.WriteString("FLAKY: " + c.Reason + "\n")
			}
			jc.SystemOut = out.String()
			s.Cases = append(s.Cases, jc)
			s.Tests++
		}
		s.Time = secs(t)
		total += t
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Suites = append(all.Suites, s)
	}
	all.Time = secs(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func orNone(s string) string {
	if s == "" {
		return "no machine"
	}
	return s
}

func lastClass(c Cell) string {
	for i := len(c.Attempts) - 1; i >= 0; i-- {
		if c.Attempts[i].Outcome.Class != "" {
			return c.Attempts[i].Outcome.Class
		}
	}
	return "suite"
}
