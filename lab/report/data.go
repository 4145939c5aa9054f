// Package report writes what a lab run found: JUnit XML (infrastructure
// errors as <error>, test failures as <failure>), KCIDB v5 JSON, and an
// HTML matrix of images x machines (pivoted by tag or fact too) whose
// cells are colored by outcome and link each attempt's phase timeline
// and console log. The same page is served live by `rlbuild lab serve`
// while a run is in flight; Progress is the terminal line of `lab run`.
package report

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/schedule"
)

// Data is a run as the reports see it.
type Data struct {
	Run   schedule.Run
	Cells []Cell
	// Machines are the machines the cells name, by name.
	Machines map[string]Machine
}

// Cell is a cell with its attempts in full.
type Cell struct {
	schedule.CellState
	Attempts []schedule.Attempt
}

// Machine is what the report shows of a machine.
type Machine struct {
	Name   string
	Lab    string
	Tags   []string
	Facts  map[string]inventory.Fact
	Health schedule.MachineState
}

// Collect reads a run from the engine. inv (may be nil) adds tags and
// declared facts.
func Collect(ctx context.Context, e engine.Engine, runID string, inv *inventory.Inventory) (*Data, error) {
	r, err := schedule.GetRun(ctx, e, runID)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	states, err := schedule.Cells(ctx, e, runID)
	if err != nil {
		return nil, err
	}
	d := &Data{Run: r, Machines: map[string]Machine{}}
	for _, st := range states {
		c := Cell{CellState: st}
		for _, ref := range st.Attempts {
			if a, err := schedule.GetAttempt(ctx, e, runID, st.ID, ref.N); err == nil {
				c.Attempts = append(c.Attempts, a)
			}
		}
		d.Cells = append(d.Cells, c)
		for _, name := range append([]string{st.Machine}, machinesOf(c)...) {
			if _, ok := d.Machines[name]; ok || name == "" {
				continue
			}
			m := Machine{Name: name, Lab: r.Labs[name], Health: schedule.GetMachine(ctx, e, name)}
			reported := schedule.GetFacts(ctx, e, name)
			if inv != nil && inv.Machine(name) != nil {
				im := inv.Machine(name)
				m.Tags, m.Facts = im.Tags, im.Facts(reported)
			} else {
				m.Facts = reported
			}
			d.Machines[name] = m
		}
	}
	return d, nil
}

func machinesOf(c Cell) []string {
	var out []string
	for _, a := range c.Attempts {
		if a.Machine != "" {
			out = append(out, a.Machine)
		}
	}
	return out
}

// Images returns the run's image names in matrix order.
func (d *Data) Images() []string {
	var out []string
	for _, i := range d.Run.Images {
		out = append(out, i.Name)
	}
	return out
}

// MachineNames returns the machines that cells are named after, sorted.
func (d *Data) MachineNames() []string {
	set := map[string]bool{}
	for _, c := range d.Cells {
		set[c.Machine] = true
	}
	var out []string
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Counts tallies the cells by status.
func (d *Data) Counts() map[outcome.Status]int {
	out := map[outcome.Status]int{}
	for _, c := range d.Cells {
		st := c.Status
		if st == "" {
			st = "pending"
		}
		out[st]++
	}
	return out
}

// Statuses lists the cells' statuses (for the exit code).
func (d *Data) Statuses() []outcome.Status {
	var out []outcome.Status
	for _, c := range d.Cells {
		out = append(out, c.Status)
	}
	return out
}

// Seconds is a cell's time over all attempts.
func (c Cell) Seconds() float64 {
	var s float64
	for _, a := range c.Attempts {
		if !a.Ended.IsZero() {
			s += a.Ended.Sub(a.Started).Seconds()
		}
	}
	return s
}

// Start is the first attempt's start.
func (c Cell) Start() time.Time {
	if len(c.Attempts) > 0 {
		return c.Attempts[0].Started
	}
	return time.Time{}
}

// LastAttempt is the newest full attempt, if any.
func (c Cell) LastAttempt() (schedule.Attempt, bool) {
	if len(c.Attempts) == 0 {
		return schedule.Attempt{}, false
	}
	return c.Attempts[len(c.Attempts)-1], true
}

// Summary is one line: counts by status.
func (d *Data) Summary() string {
	c := d.Counts()
	var parts []string
	for _, s := range []outcome.Status{outcome.Passed, outcome.Flaky, outcome.Failed, outcome.Infra, outcome.Skipped, outcome.Canceled, "pending"} {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	return fmt.Sprintf("%d cells: %s", len(d.Cells), strings.Join(parts, ", "))
}

// logFile is the report's file name of an attempt's console log.
func logFile(a schedule.Attempt) string { return fmt.Sprintf("logs/%s.%d.log", a.Cell, a.N) }

// cellFile is the report's page of a cell.
func cellFile(id string) string { return "cells/" + id + ".html" }
