package hub

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rlgo/redleaf/lab/cell"
	"github.com/rlgo/redleaf/lab/engine"
	"github.com/rlgo/redleaf/lab/engine/natsengine"
	"github.com/rlgo/redleaf/lab/inventory"
	"github.com/rlgo/redleaf/lab/matrix"
	"github.com/rlgo/redleaf/lab/schedule"
	"github.com/rlgo/redleaf/lab/sim"
)

// The scheduling benchmark: 1,000 simulated machines in 10 lab segments
// (an agent each), a matrix of 10 images x 1,000 machines x 1 suite =
// 10,000 cells, on the real engine, embedded and in an external
// nats-server (built from the module). The baseline, measured in the
// same run on the same server, is the bare work queue: 10,000 tasks
// published, pulled and acked by the same 1,000 workers.
//
//	go test -run '^$' -bench Schedule -benchtime 1x ./lab/hub
const (
	benchLabs     = 10
	benchMachines = 1000
	benchImages   = 10
)

func benchSetup(b *testing.B) (*inventory.Inventory, *matrix.Matrix) {
	dir := b.TempDir()
	var sb strings.Builder
	sb.WriteString("machines:\n")
	for i := 0; i < benchMachines; i++ {
		fmt.Fprintf(&sb, "  - {name: m%04d, lab: lab%d, macs: ['02:00:00:00:%02x:%02x'], tags: [sim], power: {type: qemu, address: /q}}\n", i, i%benchLabs, i/256, i%256)
	}
	os.WriteFile(filepath.Join(dir, "inv.yaml"), []byte(sb.String()), 0o644)
	inv, err := inventory.Load(filepath.Join(dir, "inv.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "suites"), 0o755)
	os.WriteFile(filepath.Join(dir, "suites", "boot.yaml"), []byte("steps: [{name: boot, run: 'echo ok'}]\n"), 0o644)
	sb.Reset()
	sb.WriteString("images:\n")
	for i := 0; i < benchImages; i++ {
		fmt.Fprintf(&sb, "  - {name: img%d, artifacts: out%d}\n", i, i)
	}
	sb.WriteString("machines: [{tags: [sim]}]\nsuites: [boot]\n")
	os.WriteFile(filepath.Join(dir, "matrix.yaml"), []byte(sb.String()), 0o644)
	m, err := matrix.Load(filepath.Join(dir, "matrix.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for i, img := range m.Images {
		img.Digest = fmt.Sprintf("sha256:%064x", i)
	}
	return inv, m
}

// cpuOf is a process's user+system CPU time.
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// externalServer builds nats-server from the module and starts it.
func externalServer(b *testing.B) (url string, pid int) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "nats-server")
	build := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		b.Skipf("building nats-server from the module: %v\n%s", err, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	cmd := exec.Command(bin, "-js", "-sd", filepath.Join(dir, "store"), "-a", "127.0.0.1", "-p", strconv.Itoa(addr.Port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr.String()); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			b.Fatal("nats-server did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "nats://" + addr.String(), cmd.Process.Pid
}

// connect returns an engine factory: one connection per agent and one
// for the scheduler, as separate processes would have.
type connector func(name string) engine.Engine

func BenchmarkSchedule(b *testing.B) {
	inv, m := benchSetup(b)
	for _, mode := range []string{"embedded", "external"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			var conn connector
			serverPID := 0
			switch mode {
			case "embedded":
				srv, err := natsengine.Embed(natsengine.EmbedOptions{StoreDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(srv.Shutdown)
				conn = func(name string) engine.Engine {
					e, err := natsengine.Open(ctx, srv, name)
					if err != nil {
						b.Fatal(err)
					}
					return e
				}
			case "external":
				url, pid := externalServer(b)
				serverPID = pid
				conn = func(name string) engine.Engine {
					e, err := natsengine.Connect(ctx, url, name)
					if err != nil {
						b.Fatal(err)
					}
					return e
				}
			}
			for i := 0; i < b.N; i++ {
				base := benchQueue(b, conn)
				cells, wall, selfCPUUsed, serverCPU := benchRun(b, conn, inv, m, serverPID)
				b.ReportMetric(float64(cells)/wall.Seconds(), "cells/s")
				b.ReportMetric(float64(cells)/wall.Seconds()*60, "cells/min")
				b.ReportMetric(float64(selfCPUUsed.Microseconds())/float64(cells), "process-cpu-us/cell")
				if serverPID != 0 {
					b.ReportMetric(float64(serverCPU.Microseconds())/float64(cells), "server-cpu-us/cell")
				}
				b.ReportMetric(base, "baseline-tasks/s")
				b.ReportMetric(float64(cells)/wall.Seconds()/base, "ratio-to-baseline")
			}
		})
	}
}

// benchQueue is the baseline: 10,000 tasks through the bare work queue.
func benchQueue(b *testing.B, conn connector) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := benchImages * benchMachines
	pub := conn("baseline-pub")
	defer pub.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	wctx, stop := context.WithCancel(ctx)
	start := time.Now()
	for l := 0; l < benchLabs; l++ {
		e := conn(fmt.Sprintf("baseline-agent%d", l))
		defer e.Close()
		lab := fmt.Sprintf("base%d", l)
		for w := 0; w < benchMachines/benchLabs; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					d, err := e.Pull(wctx, lab)
					if err != nil {
						return
					}
					d.Ack()
					mu.Lock()
					got++
					if got == n {
						stop()
					}
					mu.Unlock()
				}
			}()
		}
	}
	for i := 0; i < n; i++ {
		if err := pub.Publish(ctx, fmt.Sprintf("base%d", i%benchLabs), fmt.Sprintf("base.%d", i), []byte(`{"run":"base"}`)); err != nil {
			b.Fatal(err)
		}
	}
	<-wctx.Done()
	el := time.Since(start)
	stop()
	wg.Wait()
	if got < n {
		b.Fatalf("baseline: %d of %d tasks", got, n)
	}
	return float64(n) / el.Seconds()
}

// benchRun runs the 10,000-cell matrix on simulated machines.
func benchRun(b *testing.B, conn connector, inv *inventory.Inventory, m *matrix.Matrix, serverPID int) (int, time.Duration, time.Duration, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	admin := conn("bench-admin")
	defer admin.Close()
	r, cells, err := schedule.Plan(m, inv, func(string) map[string]inventory.Fact { return nil })
	if err != nil {
		b.Fatal(err)
	}
	suites := map[string]cell.Suite{"boot": SuiteOf(m.SuiteDefs["boot"])}
	if err := schedule.Create(ctx, admin, r, cells, suites); err != nil {
		b.Fatal(err)
	}
	lab := sim.New()
	actx, stopAgents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, l := range inv.LabNames() {
		e := conn("agent-" + l)
		defer e.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			Agent(actx, AgentConfig{Name: "agent-" + l, Lab: l, Engine: e, Inventory: inv, Runner: lab})
		}()
	}
	se := conn("scheduler")
	defer se.Close()
	cpu0, srv0 := selfCPU(), cpuOf(serverPID)
	start := time.Now()
	s := &schedule.Scheduler{Engine: se, Holder: "bench"}
	if err := s.Drive(ctx, r.ID); err != nil {
		b.Fatal(err)
	}
	wall := time.Since(start)
	cpu, srv := selfCPU()-cpu0, cpuOf(serverPID)-srv0
	stopAgents()
	wg.Wait()
	return len(cells), wall, cpu, srv
}
