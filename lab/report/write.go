package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/schedule"
)

// Files written into a report directory.
const (
	JUnitFile = "junit.xml"
	KCIDBFile = "kcidb.json"
	IndexFile = "index.html"
	RunFile   = "run.json"
)

// Write writes every report of d into dir: JUnit, KCIDB, the HTML matrix
// with a page per cell, every attempt's console log (from the engine's
// log store) and run.json (what `rlbuild lab rerun` reads).
func Write(ctx context.Context, dir string, d *Data, e engine.Engine) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, sub := range []string{"cells", "logs"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return fmt.Errorf("report directory: %w", err)
		}
	}
	for _, c := range d.Cells {
		for _, a := range c.Attempts {
			if a.Log == "" || e == nil {
				continue
			}
			if err := copyLog(ctx, e, a.Log, filepath.Join(abs, logFile(a))); err != nil {
				return err
			}
		}
		if err := writeFile(filepath.Join(abs, cellFile(c.ID)), func(w io.Writer) error { return WriteCell(w, d, c, PageOptions{}) }); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		f    func(io.Writer) error
	}{
		{JUnitFile, func(w io.Writer) error { return WriteJUnit(w, d) }},
		{KCIDBFile, func(w io.Writer) error { return WriteKCIDB(w, d, abs) }},
		{IndexFile, func(w io.Writer) error { return WriteIndex(w, d, PageOptions{}) }},
		{RunFile, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		}},
	}
	for _, s := range steps {
		if err := writeFile(filepath.Join(abs, s.name), s.f); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, f func(io.Writer) error) error {
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := f(out); err != nil {
		out.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func copyLog(ctx context.Context, e engine.Engine, name, path string) error {
	r, err := e.GetLog(ctx, name)
	if err != nil {
		// A log the store lost is noted in place of it, not fatal.
		return os.WriteFile(path, []byte("(console log "+name+" not found: "+err.Error()+")\n"), 0o644)
	}
	defer r.Close()
	return writeFile(path, func(w io.Writer) error { _, err := io.Copy(w, r); return err })
}

// ReadRun reads run.json of a report directory.
func ReadRun(dir string) (*Data, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a lab report (no %s): %w", dir, RunFile, err)
	}
	var d Data
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RunFile), err)
	}
	return &d, nil
}

// Live serves the reports of the engine's runs while they are in
// flight: / lists runs, /runs/ID/ is the matrix page (refreshing itself),
// /runs/ID/cells/CELL.html a cell, /runs/ID/logs/CELL.N.log a console log,
// /runs/ID/junit.xml and kcidb.json the files.
type Live struct {
	Engine    engine.Engine
	Inventory *inventory.Inventory
}

func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read only", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	if path == "" {
		l.list(ctx, w)
		return
	}
	rest, ok := strings.CutPrefix(path, "runs/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	runID, file, _ := strings.Cut(rest, "/")
	if !validName(runID) {
		http.Error(w, "bad run id", http.StatusBadRequest)
		return
	}
	d, err := Collect(ctx, l.Engine, runID, l.Inventory)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	o := PageOptions{Live: d.Run.State == schedule.Running, Base: "/runs/" + runID + "/"}
	switch {
	case file == "" || file == IndexFile:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		WriteIndex(w, d, o)
	case file == JUnitFile:
		w.Header().Set("Content-Type", "application/xml")
		WriteJUnit(w, d)
	case file == KCIDBFile:
		w.Header().Set("Content-Type", "application/json")
		WriteKCIDB(w, d, "")
	case strings.HasPrefix(file, "cells/"):
		id := strings.TrimSuffix(strings.TrimPrefix(file, "cells/"), ".html")
		for _, c := range d.Cells {
			if c.ID == id {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				WriteCell(w, d, c, o)
				return
			}
		}
		http.NotFound(w, r)
	case strings.HasPrefix(file, "logs/"):
		name := strings.TrimSuffix(strings.TrimPrefix(file, "logs/"), ".log")
		if !validName(name) {
			http.Error(w, "bad log name", http.StatusBadRequest)
			return
		}
		rc, err := l.Engine.GetLog(ctx, "log."+runID+"."+name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.Copy(w, io.LimitReader(rc, 256<<20))
	default:
		http.NotFound(w, r)
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return !strings.Contains(s, "..")
}

func (l *Live) list(ctx context.Context, w http.ResponseWriter) {
	runs, err := schedule.Runs(ctx, l.Engine)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>rlbuild lab</title><meta http-equiv=\"refresh\" content=\"5\"><style>%s</style></head><body><h1>rlbuild lab: runs</h1><table id=\"runs\"><tr><th>run</th><th>matrix</th><th>state</th><th>cells</th><th>created</th></tr>", style)
	for _, r := range runs {
		fmt.Fprintf(w, "<tr><td><a href=\"/runs/%s/\">%s</a></td><td>%s</td><td>%s</td><td>%d</td><td>%s</td></tr>",
			htmlEscape(r.ID), htmlEscape(r.ID), htmlEscape(r.Matrix), htmlEscape(r.State), r.Cells, r.Created.Format(time.RFC3339))
	}
	fmt.Fprint(w, "</table></body></html>")
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
