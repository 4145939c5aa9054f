package report

import (
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/rlgo/redleaf/lab/outcome"
)

// KCIDB v5 (schema 5.3): one checkout per run, one build per image (its
// manifest digest), one test per cell. Statuses: PASS (passed, flaky
// with misc.flaky), FAIL, ERROR (booted but the results never came),
// MISS (the infrastructure kept the test from running), SKIP (skipped or
// cancelled).

// Origin is the KCIDB origin of rlbuild's reports.
const Origin = "rlbuild"

type kcidbReport struct {
	Version   kcidbVersion     `json:"version"`
	Checkouts []map[string]any `json:"checkouts"`
	Builds    []map[string]any `json:"builds"`
	Tests     []map[string]any `json:"tests"`
}

type kcidbVersion struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
}

// kcidbStatus maps a cell's status to KCIDB's.
func kcidbStatus(c Cell) string {
	switch c.Status {
	case outcome.Passed, outcome.Flaky:
		return "PASS"
	case outcome.Failed:
		return "FAIL"
	case outcome.Infra:
		if c.Class2 == outcome.ClassResultsMissing {
			return "ERROR"
		}
		return "MISS"
	}
	return "SKIP"
}

func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

// id makes a KCIDB id: origin, colon, then the rest.
func id(parts ...string) string { return Origin + ":" + strings.Join(parts, ".") }

// WriteKCIDB writes the run as a KCIDB v5 report. logDir, if set, is the
// absolute directory the report's logs/ are in (for log_url).
func WriteKCIDB(w io.Writer, d *Data, logDir string) error {
	rep := kcidbReport{Version: kcidbVersion{5, 3}, Checkouts: []map[string]any{}, Builds: []map[string]any{}, Tests: []map[string]any{}}
	checkout := id(d.Run.ID)
	rep.Checkouts = append(rep.Checkouts, map[string]any{
		"id": checkout, "origin": Origin, "tree_name": "redleaf", "valid": true,
		"start_time": rfc3339(d.Run.Created),
		"comment":    "rlbuild lab run " + d.Run.ID + " of matrix " + d.Run.Matrix,
		"misc":       map[string]any{"matrix": d.Run.MatrixPath, "inventory": d.Run.Inventory},
	})
	builds := map[string]string{}
	for _, img := range d.Run.Images {
		bid := id(d.Run.ID, img.Name)
		builds[img.Name] = bid
		rep.Builds = append(rep.Builds, map[string]any{
			"id": bid, "checkout_id": checkout, "origin": Origin, "config_name": img.Name,
			"status": "PASS", "misc": map[string]any{"digest": img.Digest, "artifacts": img.Artifacts},
		})
	}
	for _, c := range d.Cells {
		t := map[string]any{
			"id": id(d.Run.ID, c.ID), "build_id": builds[c.Image], "origin": Origin,
			"path": "lab." + c.Suite, "status": kcidbStatus(c),
			"comment": c.Reason,
		}
		if st := c.Start(); !st.IsZero() {
			t["start_time"] = rfc3339(st)
			t["duration"] = c.Seconds()
		}
		m := d.Machines[c.Machine]
		env := map[string]any{"comment": "machine " + c.Machine + " in lab " + m.Lab}
		envMisc := map[string]any{"machine": c.Machine, "lab": m.Lab}
		if len(m.Facts) > 0 {
			envMisc["facts"] = m.Facts
		}
		env["misc"] = envMisc
		t["environment"] = env
		misc := map[string]any{"cell": c.ID, "attempts": len(c.Attempts)}
		if c.Status == outcome.Flaky {
			misc["flaky"] = true
		}
		if c.Class2 != "" {
			misc["infrastructure_error"] = c.Class2
		}
		t["misc"] = misc
		if a, ok := c.LastAttempt(); ok && a.Log != "" && logDir != "" {
			u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(logDir, logFile(a)))}
			t["log_url"] = u.String()
			if a.Evidence.Tripwire != "" {
				t["log_excerpt"] = a.Evidence.Tripwire
			}
		}
		rep.Tests = append(rep.Tests, t)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
