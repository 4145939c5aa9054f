package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/schedule"
)

// Page options.
type PageOptions struct {
	// Live adds a refresh and says the run is in flight.
	Live bool
	// Base prefixes links (the live server serves runs under /runs/ID/).
	Base string
}

var funcs = template.FuncMap{
	"cellFile": cellFile,
	"logFile":  logFile,
	"join":     strings.Join,
	"secs":     func(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) },
	"since": func(a, b time.Time) string {
		if a.IsZero() || b.IsZero() {
			return ""
		}
		return fmt.Sprintf("+%.1fs", b.Sub(a).Seconds())
	},
	"statusOf": func(s outcome.Status) string {
		if s == "" {
			return "pending"
		}
		return string(s)
	},
	"bar": func(a schedule.Attempt, p interface{ Duration() time.Duration }, start time.Time) template.CSS {
		total := a.Ended.Sub(a.Started).Seconds()
		if total <= 0 {
			return "left:0;width:0"
		}
		left := start.Sub(a.Started).Seconds() / total * 100
		w := p.Duration().Seconds() / total * 100
		return template.CSS(fmt.Sprintf("left:%.2f%%;width:%.2f%%", left, max(w, 0.5)))
	},
}

const style = `
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3}
a.cell{display:inline-block;min-width:5.5em;margin:1px;padding:.15em .4em;border-radius:3px;color:#000;text-decoration:none;font-size:.85em}
.passed{background:#7fd47f}.flaky{background:#f5d76e}.failed{background:#f07a7a}
.infra{background:#b9a7e8}.skipped{background:#ddd}.canceled{background:#eee;color:#777}.pending{background:#fff;border:1px dashed #999}
.legend span{padding:.1em .5em;margin-right:.4em;border-radius:3px}
.timeline{position:relative;height:1.2em;background:#f6f6f6;min-width:20em}
.timeline div{position:absolute;top:0;bottom:0;background:#6aa0e0}
.timeline div.bad{background:#e06a6a}
.muted{color:#777}
`

var indexTmpl = template.Must(template.New("index").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>rlbuild lab: run {{.D.Run.ID}}</title>
{{if .O.Live}}<meta http-equiv="refresh" content="3">{{end}}
<style>` + style + `</style></head>
<body>
<h1>rlbuild lab: run <span id="run">{{.D.Run.ID}}</span> of matrix {{.D.Run.Matrix}}</h1>
<p id="state" data-state="{{.D.Run.State}}">{{.D.Run.State}}{{if .O.Live}} (live: this page refreshes){{end}}{{if .D.Run.Reason}}: {{.D.Run.Reason}}{{end}}.
<span id="summary">{{.D.Summary}}</span></p>
<p class="legend"><span class="passed">passed</span><span class="flaky">flaky</span><span class="failed">failed</span><span class="infra">infrastructure error</span><span class="skipped">skipped</span><span class="canceled">cancelled</span><span class="pending">pending</span></p>
<h2>Images x machines</h2>
<table id="matrix">
<tr><th>machine</th><th>lab</th><th>tags</th><th>health</th>{{range .D.Run.Images}}<th title="{{.Digest}}">{{.Name}}<br><span class="muted">{{printf "%.19s" .Digest}}</span></th>{{end}}</tr>
{{range $m := .Rows}}<tr data-machine="{{$m.Name}}"><td>{{$m.Name}}</td><td>{{$m.Lab}}</td><td>{{join $m.Tags ", "}}</td><td>{{$m.Health.State}}</td>
{{range $img := $.D.Images}}<td>{{range $c := $.CellsOf $img $m.Name}}<a class="cell {{statusOf $c.Status}}" data-cell="{{$c.ID}}" data-status="{{statusOf $c.Status}}" href="{{$.O.Base}}{{cellFile $c.ID}}" title="{{$c.Reason}}">{{$c.Suite}}</a>{{end}}</td>{{end}}
</tr>{{end}}
</table>
{{range .Pivots}}<h2>By {{.Name}}</h2>
<table class="pivot" data-pivot="{{.Name}}"><tr><th>{{.Name}}</th>{{range $.D.Run.Images}}<th>{{.Name}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Value}}</td>{{range .Cells}}<td class="{{.Worst}}">{{.Text}}</td>{{end}}</tr>{{end}}
</table>{{end}}
</body></html>
`))

var cellTmpl = template.Must(template.New("cell").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.C.ID}}</title>{{if .O.Live}}<meta http-equiv="refresh" content="3">{{end}}
<style>` + style + `</style></head>
<body>
<p><a href="{{.Up}}">run {{.Run}}</a></p>
<h1>{{.C.ID}}: <span class="{{statusOf .C.Status}}" id="status">{{statusOf .C.Status}}</span></h1>
<p>image {{.C.Image}}, suite {{.C.Suite}}, machine {{.C.Machine}} (class {{.C.Class}}). {{.C.Reason}}</p>
{{range $a := .C.Attempts}}
<h2>Attempt {{$a.N}}: {{$a.Outcome.Status}}{{if $a.Outcome.Class}} ({{$a.Outcome.Class}}){{end}} on {{if $a.Machine}}{{$a.Machine}}{{else}}no machine{{end}}</h2>
<p>{{$a.Outcome.Reason}}. Agent {{$a.Agent}}, lab {{$a.Lab}}, {{$a.Started.Format "2006-01-02 15:04:05"}}.
{{if $a.Log}}<a class="log" href="{{$.Base}}{{logFile $a}}">console log</a> ({{$a.Evidence.ConsoleBytes}} bytes){{end}}
{{if $a.Evidence.Tripwire}}<br>tripwire: <code>{{$a.Evidence.Tripwire}}</code>{{end}}</p>
<table class="phases"><tr><th>phase</th><th>start</th><th>took</th><th>ok</th><th>detail</th><th>timeline</th></tr>
{{range $p := $a.Evidence.Phases}}<tr><td>{{$p.Name}}</td><td>{{since $a.Started $p.Start}}</td><td>{{secs $p.Duration}}</td><td>{{if $p.OK}}yes{{else}}<b>no</b>{{end}}</td><td>{{$p.Detail}}{{if $p.Err}} <b>{{$p.Err}}</b>{{end}}</td>
<td><div class="timeline"><div class="{{if not $p.OK}}bad{{end}}" style="{{bar $a $p $p.Start}}"></div></div></td></tr>{{end}}
</table>
{{if $a.Evidence.Steps}}<table class="steps"><tr><th>step</th><th>status</th><th>exit</th><th>seconds</th><th>message</th></tr>
{{range $a.Evidence.Steps}}<tr><td>{{.Name}}</td><td>{{.Status}}</td><td>{{.Exit}}</td><td>{{printf "%.1f" .Seconds}}</td><td>{{.Message}}</td></tr>{{end}}</table>
<p class="muted">results from the {{if $a.Evidence.FromConsole}}console markers{{else}}results endpoint{{end}}</p>{{end}}
{{end}}
</body></html>
`))

type pivot struct {
	Name string
	Rows []pivotRow
}

type pivotRow struct {
	Value string
	Cells []pivotCell
}

type pivotCell struct {
	Worst string
	Text  string
}

type indexView struct {
	D      *Data
	O      PageOptions
	Rows   []Machine
	Pivots []pivot
}

// CellsOf returns the cells of an image on a machine, by suite.
func (v indexView) CellsOf(image, machine string) []Cell {
	var out []Cell
	for _, c := range v.D.Cells {
		if c.Image == image && c.Machine == machine {
			out = append(out, c)
		}
	}
	return out
}

// severity orders statuses, worst last.
var severity = map[string]int{"skipped": 0, "canceled": 1, "passed": 2, "pending": 3, "flaky": 4, "infra": 5, "failed": 6}

// pivots groups the cells by each tag and by each fact value.
func pivots(d *Data) []pivot {
	group := func(name string, keys func(m Machine) []string) pivot {
		p := pivot{Name: name}
		vals := map[string]bool{}
		for _, m := range d.Machines {
			for _, k := range keys(m) {
				vals[k] = true
			}
		}
		var sorted []string
		for v := range vals {
			sorted = append(sorted, v)
		}
		sort.Strings(sorted)
		for _, v := range sorted {
			row := pivotRow{Value: v}
			for _, img := range d.Images() {
				counts := map[string]int{}
				worst := ""
				for _, c := range d.Cells {
					m := d.Machines[c.Machine]
					if c.Image != img || !contains(keys(m), v) {
						continue
					}
					st := string(c.Status)
					if st == "" {
						st = "pending"
					}
					counts[st]++
					if worst == "" || severity[st] > severity[worst] {
						worst = st
					}
				}
				var parts []string
				for _, st := range []string{"passed", "flaky", "failed", "infra", "skipped", "canceled", "pending"} {
					if counts[st] > 0 {
						parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
					}
				}
				row.Cells = append(row.Cells, pivotCell{Worst: worst, Text: strings.Join(parts, ", ")})
			}
			p.Rows = append(p.Rows, row)
		}
		return p
	}
	out := []pivot{group("tag", func(m Machine) []string { return m.Tags })}
	facts := map[string]bool{}
	for _, m := range d.Machines {
		for k := range m.Facts {
			facts[k] = true
		}
	}
	var names []string
	for k := range facts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, f := range names {
		out = append(out, group("fact "+f, func(m Machine) []string {
			if v, ok := m.Facts[f]; ok {
				return []string{v.String()}
			}
			return nil
		}))
	}
	return out
}

func contains(list []string, x string) bool {
	for _, s := range list {
		if s == x {
			return true
		}
	}
	return false
}

// WriteIndex writes the matrix page.
func WriteIndex(w io.Writer, d *Data, o PageOptions) error {
	v := indexView{D: d, O: o, Pivots: pivots(d)}
	for _, name := range d.MachineNames() {
		m, ok := d.Machines[name]
		if !ok {
			m = Machine{Name: name}
		}
		v.Rows = append(v.Rows, m)
	}
	return indexTmpl.Execute(w, v)
}

// WriteCell writes a cell's page: its attempts, phase timelines, steps
// and links to their console logs.
func WriteCell(w io.Writer, d *Data, c Cell, o PageOptions) error {
	up := "../index.html"
	if o.Live {
		up = o.Base
	}
	return cellTmpl.Execute(w, struct {
		C    Cell
		O    PageOptions
		Run  string
		Up   string
		Base string
	}{c, o, d.Run.ID, up, map[bool]string{true: o.Base, false: "../"}[o.Live]})
}
