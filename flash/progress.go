package flash

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ProgressPrinter shows Write's progress: a bar with throughput and time
// left, redrawn in place, on a terminal; otherwise a plain line every few
// seconds and at the end of each phase, for logs.
type ProgressPrinter struct {
	w        io.Writer
	terminal bool
	// Interval is the time between plain lines (default 5 s); a bar is
	// redrawn at most ten times a second.
	Interval time.Duration
	// Width is the width of a bar (default 30 characters).
	Width int

	phase Phase
	last  time.Time // last output
	drawn bool      // a bar is on the current line
}

// NewProgressPrinter returns a printer to f that draws a bar if f is a
// terminal.
func NewProgressPrinter(f *os.File) *ProgressPrinter {
	return &ProgressPrinter{w: f, terminal: isTerminal(f)}
}

// NewPlainProgressPrinter returns a printer of plain lines to w.
func NewPlainProgressPrinter(w io.Writer) *ProgressPrinter {
	return &ProgressPrinter{w: w}
}

// Report shows pr; pass it as WriteOptions.Progress.
func (p *ProgressPrinter) Report(pr Progress) {
	now := time.Now()
	if pr.Phase != p.phase {
		p.endLine()
		p.phase = pr.Phase
		p.last = time.Time{} // a bar shows at once
		if !p.terminal {
			p.last = now // a line after the first interval
		}
	}
	finished := pr.Done >= pr.Total
	switch {
	case p.terminal:
		if !finished && now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s", p.bar(pr))
		p.drawn = true
		if finished {
			p.endLine()
		}
	case finished && pr.Elapsed < 100*time.Millisecond: // too short for a rate
		fmt.Fprintf(p.w, "%s: done, %s in %s\n", pr.Phase, sizeString(pr.Total), pr.Elapsed.Round(time.Millisecond))
	case finished:
		fmt.Fprintf(p.w, "%s: done, %s in %s (%s)\n", pr.Phase, sizeString(pr.Total), pr.Elapsed.Round(time.Millisecond), rate(pr.Done, pr.Elapsed))
	case now.Sub(p.last) >= cmp.Or(p.Interval, 5*time.Second):
		fmt.Fprintf(p.w, "%s: %d%% (%s of %s), %s, %s left\n", pr.Phase, percent(pr), sizeString(pr.Done), sizeString(pr.Total), rate(pr.Done, pr.Elapsed), eta(pr))
	default:
		return
	}
	p.last = now
}

// Finish ends a bar's line, e.g. before an error message.
func (p *ProgressPrinter) Finish() { p.endLine() }

func (p *ProgressPrinter) endLine() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *ProgressPrinter) bar(pr Progress) string {
	width := p.Width
	if width == 0 {
		width = 30
	}
	filled := 0
	if pr.Total > 0 {
		filled = int(int64(width) * min(pr.Done, pr.Total) / pr.Total)
	}
	left := eta(pr) + " left"
	if pr.Done >= pr.Total {
		left = "done in " + pr.Elapsed.Round(100*time.Millisecond).String()
	}
	return fmt.Sprintf("%-9s [%s%s] %3d%%  %s / %s  %s  %s", pr.Phase,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), percent(pr),
		sizeString(pr.Done), sizeString(pr.Total), rate(pr.Done, pr.Elapsed), left)
}

func percent(pr Progress) int {
	if pr.Total <= 0 {
		return 100
	}
	return int(100 * pr.Done / pr.Total)
}

func rate(done int64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "- MiB/s"
	}
	return fmt.Sprintf("%.1f MiB/s", float64(done)/(1<<20)/elapsed.Seconds())
}

// eta is the time left at the phase's average rate so far.
func eta(pr Progress) string {
	if pr.Done <= 0 || pr.Elapsed <= 0 {
		return "?"
	}
	left := time.Duration(float64(pr.Elapsed) * float64(pr.Total-pr.Done) / float64(pr.Done))
	left = left.Round(time.Second)
	if left < time.Hour {
		return fmt.Sprintf("%d:%02d", int(left.Minutes()), int(left.Seconds())%60)
	}
	return left.String()
}
