package hub

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/rlgo/redleaf/lab/report"
	"github.com/rlgo/redleaf/lab/schedule"
)

// progress prints `lab run`'s terminal progress: a line when a cell is
// retried, rerun or decided, with the count of cells done.
type progress struct {
	w     io.Writer
	t0    time.Time
	mu    sync.Mutex
	total int
	final map[string]bool
	tries map[string]int
}

func newProgress(w io.Writer, r schedule.Run, cells []schedule.CellState) *progress {
	p := &progress{w: w, t0: time.Now(), total: len(cells), final: map[string]bool{}, tries: map[string]int{}}
	for _, c := range cells {
		if c.Status.Final() {
			p.final[c.ID] = true
		}
	}
	if w != nil {
		machines := map[string]bool{}
		for _, c := range cells {
			machines[c.Machine] = true
		}
		fmt.Fprintf(w, "lab run %s: %d cells (%d images x %d machines x %d suites)\n", r.ID, len(cells), len(r.Images), len(machines), len(r.Suites))
	}
	return p
}

func (p *progress) begin() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.final); n > 0 {
		fmt.Fprintf(p.w, "  %d cells decided before they ran (skipped: a suite's requirements)\n", n)
	}
}

func (p *progress) change(c schedule.CellState) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	el := time.Since(p.t0).Round(time.Second)
	if n := len(c.Attempts); n > p.tries[c.ID] {
		p.tries[c.ID] = n
		if last := c.Attempts[n-1]; n > 1 && last.Status == "" {
			prev := c.Attempts[n-2]
			on := prev.Machine
			if on == "" {
				on = "no machine"
			}
			fmt.Fprintf(p.w, "%8s  %-40s %s (attempt %d on %s: %s %s)\n", el, c.ID, last.Why, prev.N, on, prev.Status, prev.Class)
		}
	}
	if c.Status.Final() && !p.final[c.ID] {
		p.final[c.ID] = true
		fmt.Fprintf(p.w, "%8s  [%d/%d] %-40s %s  %s\n", el, len(p.final), p.total, c.ID, c.Status, c.Reason)
	}
}

func (p *progress) finish(d *report.Data, dir string) {
	if p.w == nil {
		return
	}
	fmt.Fprintf(p.w, "lab run %s %s in %v: %s\n", d.Run.ID, d.Run.State, time.Since(p.t0).Round(time.Second), d.Summary())
	if dir != "" {
		abs, _ := filepath.Abs(dir)
		fmt.Fprintf(p.w, "reports: %s (matrix), %s, %s\n", filepath.Join(abs, report.IndexFile), filepath.Join(abs, report.JUnitFile), filepath.Join(abs, report.KCIDBFile))
	}
}
