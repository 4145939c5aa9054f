package hub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/lab/engine/natsengine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/outcome"
	"github.com/rlgo/redleaf/lab/report"
	"github.com/rlgo/redleaf/lab/sim"
)

func setup(t *testing.T, machines int) (*inventory.Inventory, *matrix.Matrix) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("machines:\n")
	for i := 1; i <= machines; i++ {
		lab := "lab1"
		if i%2 == 0 {
			lab = "lab2"
		}
		fmt.Fprintf(&b, "  - {name: m%d, lab: %s, macs: ['52:54:00:00:01:%02x'], tags: [sim], power: {type: qemu, address: /q}}\n", i, lab, i)
	}
	os.WriteFile(filepath.Join(dir, "inv.yaml"), []byte(b.String()), 0o644)
	inv, err := inventory.Load(filepath.Join(dir, "inv.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "suites"), 0o755)
	os.WriteFile(filepath.Join(dir, "suites", "boot.yaml"), []byte("steps: [{name: boot, run: 'echo ok'}]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "matrix.yaml"), []byte("images: [{name: img, artifacts: out}]\nmachines: [{tags: [sim]}]\nsuites: [boot]\ntimeouts: {dhcp: 200ms, lease: 30s}\nreruns: 1\n"), 0o644)
	m, err := matrix.Load(filepath.Join(dir, "matrix.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m.Images[0].Digest = "sha256:" + strings.Repeat("0", 64)
	return inv, m
}

// TestLocalRun runs a matrix the way `lab run` does without a hub
// (simulated machines), and checks the exit status and the reports.
func TestLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab")
	}
	for _, c := range []struct {
		name  string
		set   func(l *sim.Lab)
		code  int
		count map[outcome.Status]int
	}{
		{"all pass", func(*sim.Lab) {}, 0, map[outcome.Status]int{outcome.Passed: 4}},
		// m1 and m3 fail; each is rerun once elsewhere: flaky when the rerun
		// lands on m2 or m4, failed when on the other failing machine.
		{"a failure", func(l *sim.Lab) {
			l.Set("m1", sim.Behavior{SuiteFails: true})
			l.Set("m3", sim.Behavior{SuiteFails: true})
			l.Set("m2", sim.Behavior{Step: 100 * time.Millisecond}) // busy, so a rerun may meet the other failing one
		}, -1, map[outcome.Status]int{outcome.Passed: 2}},
		{"infrastructure only", func(l *sim.Lab) {
			for _, m := range []string{"m1", "m2", "m3", "m4"} {
				l.Set(m, sim.Behavior{NoDHCP: true})
			}
		}, 3, map[outcome.Status]int{outcome.Infra: 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv, m := setup(t, 4)
			lab := sim.New()
			c.set(lab)
			dir := t.TempDir()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			d, code, err := Run(ctx, RunConfig{Inventory: inv, Matrix: m, StateDir: filepath.Join(dir, "state"), Report: filepath.Join(dir, "report"), Progress: &out, Runner: lab})
			if err != nil {
				t.Fatal(err)
			}
			if c.code == -1 {
				// Failed or flaky, by where the reruns went.
				if n := d.Counts()[outcome.Failed] + d.Counts()[outcome.Flaky]; n != 2 || code != map[bool]int{true: 1, false: 0}[d.Counts()[outcome.Failed] > 0] {
					t.Errorf("exit %d: %s", code, d.Summary())
				}
			} else if code != c.code {
				t.Errorf("exit %d, want %d: %s", code, c.code, d.Summary())
			}
			for st, n := range c.count {
				if d.Counts()[st] != n {
					t.Errorf("%d %s cells, want %d: %s", d.Counts()[st], st, n, d.Summary())
				}
			}
			for _, f := range []string{report.JUnitFile, report.KCIDBFile, report.IndexFile, report.RunFile, "cells/img.boot.m1.html", "logs/img.boot.m1.1.log"} {
				if _, err := os.Stat(filepath.Join(dir, "report", f)); err != nil {
					t.Errorf("report: %v", err)
				}
			}
			if !strings.Contains(out.String(), "[4/4]") || !strings.Contains(out.String(), "reports: ") {
				t.Errorf("progress:\n%s", out.String())
			}
		})
	}
}

// TestServeLive runs a hub with its live page, a run against it from
// another connection with agents of two labs, and reads the page.
func TestServeLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated lab")
	}
	inv, m := setup(t, 4)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ready := make(chan [2]string, 1)
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, ServeConfig{Listen: "127.0.0.1:0", HTTP: "127.0.0.1:0", StateDir: filepath.Join(dir, "hub"), Inventory: inv,
			Ready: func(n, h string) { ready <- [2]string{n, h} }})
	}()
	var addrs [2]string
	select {
	case addrs = <-ready:
	case err := <-served:
		t.Fatal(err)
	}
	lab := sim.New()
	lab.Set("m2", sim.Behavior{Step: 50 * time.Millisecond})
	for _, l := range []string{"lab1", "lab2"} {
		e, err := natsengine.Connect(ctx, addrs[0], "agent-"+l)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		go Agent(ctx, AgentConfig{Name: "agent-" + l, Lab: l, Engine: e, Inventory: inv, Runner: lab})
	}
	d, code, err := Run(ctx, RunConfig{Inventory: inv, Matrix: m, Hub: addrs[0], Report: filepath.Join(dir, "report")})
	if err != nil || code != 0 {
		t.Fatalf("run: %v, exit %d", err, code)
	}
	agents := map[string]bool{}
	for _, c := range d.Cells {
		for _, a := range c.Attempts {
			agents[a.Agent] = true
		}
	}
	if !agents["agent-lab1"] || !agents["agent-lab2"] {
		t.Errorf("cells ran on agents %v, want both labs'", agents)
	}
	get := func(path string) string {
		resp, err := http.Get("http://" + addrs[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		return string(b)
	}
	if list := get("/"); !strings.Contains(list, d.Run.ID) {
		t.Errorf("the run list lacks %s", d.Run.ID)
	}
	page := get("/runs/" + d.Run.ID + "/")
	if !strings.Contains(page, `data-cell="img.boot.m2" data-status="passed"`) {
		t.Errorf("live page:\n%s", page)
	}
	if log := get("/runs/" + d.Run.ID + "/logs/img.boot.m1.1.log"); !strings.Contains(log, "suite boot: pass") {
		t.Errorf("live log: %q", log)
	}
	for _, bad := range []string{"/runs/../../etc/", "/runs/x/logs/..%2f..%2fetc.log"} {
		resp, err := http.Get("http://" + addrs[1] + bad)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Errorf("GET %s: 200", bad)
			}
		}
	}
	cancel()
	<-served
}

// TestServeAuth: a hub beyond loopback needs a token, and a client
// without it is turned away.
func TestServeAuth(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Serve(ctx, ServeConfig{Listen: "0.0.0.0:0", StateDir: filepath.Join(dir, "open")}); err == nil || !strings.Contains(err.Error(), "--auth-file") {
		t.Fatalf("an open hub on every interface: %v", err)
	}
	tokFile := filepath.Join(dir, "token")
	os.WriteFile(tokFile, []byte("0123456789abcdef0123\n"), 0o644)
	if _, err := ReadToken(tokFile); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a token file others can read: %v", err)
	}
	os.Chmod(tokFile, 0o600)
	tok, err := ReadToken(tokFile)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, ServeConfig{Listen: "127.0.0.1:0", StateDir: filepath.Join(dir, "hub"), Token: tok, Ready: func(n, _ string) { ready <- n }})
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	if e, err := natsengine.Connect(ctx, url, "no-token"); err == nil {
		e.Close()
		t.Fatal("a client without the token got in")
	}
	e, err := natsengine.Connect(ctx, url, "with-token", tok)
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	e.Close()
	// The hub's engine writes its state until Serve returns: wait for it
	// before the test's directory is removed.
	cancel()
	<-served
}
