// Package labbox is the lab in a box's end-to-end test: the hub and two
// agents as separate `rlbuild lab` processes, each agent with its lab
// segment's private network namespace, netboot server and QEMU VMs
// (configs/lab/qemu-lab.yaml: BIOS by Redfish, UEFI with NVMe by QMP,
// UEFI by IPMI), running CI/matrix.yaml (2 images x 3 machines x 2
// suites) while an agent and then the hub are killed and started again.
package labbox

import (
	"bufio"
	"context"
	"encoding/xml"
	"image/png"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rlgo/redleaf/lab/engine/natsengine"
	"github.com/rlgo/redleaf/lab/report"
)

var root = func() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}()

func needs(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU VMs")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and tap devices")
	}
	for _, tool := range []string{"qemu-system-x86_64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: install it (scripts/install-deps.sh)", tool)
		}
	}
	for _, f := range []string{"/usr/lib/ipxe/undionly.kpxe", "/usr/lib/ipxe/snponly.efi"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no %s: apt-get install ipxe", f)
		}
	}
}

// proc is a started rlbuild process whose output goes to the test log
// and to a buffer.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
	err  error
}

func start(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = root
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if testing.Verbose() {
				t.Logf("%s| %s", name, sc.Text())
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		w.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// hubToken is the hub's token in TestLabInABox.
var hubToken string

// waitLease waits until holder holds a lease (a cell is running there).
func waitLease(t *testing.T, hub, holder string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e, err := natsengine.Connect(ctx, hub, "labbox-test", hubToken)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for {
		ls, _ := e.Leases(ctx)
		for _, l := range ls {
			if l.Holder == holder {
				return l.Cell
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no lease of %s within %v", holder, timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestLabInABox runs the lab in a box with an agent and the hub killed
// mid-run, then checks every cell, the JUnit file and the HTML report in
// headless Chromium.
func TestLabInABox(t *testing.T) {
	needs(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "rlbuild")
	build := exec.Command("go", "build", "-o", bin, "./cmd/rlbuild")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building rlbuild: %v\n%s", err, out)
	}
	// CI/matrix.yaml with its images built into the test's directory.
	m, err := os.ReadFile(filepath.Join(root, "CI", "matrix.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ms := string(m)
	ms = strings.ReplaceAll(ms, "config: ../configs/lab/small.yaml", "config: "+filepath.Join(root, "configs/lab/small.yaml")+"\n    artifacts: "+filepath.Join(dir, "out/small"))
	ms = strings.ReplaceAll(ms, "config: ../configs/lab/debug.yaml", "config: "+filepath.Join(root, "configs/lab/debug.yaml")+"\n    artifacts: "+filepath.Join(dir, "out/debug"))
	os.MkdirAll(filepath.Join(dir, "CI"), 0o755)
	os.WriteFile(filepath.Join(dir, "CI", "matrix.yaml"), []byte(ms), 0o644)
	os.Symlink(filepath.Join(root, "CI", "suites"), filepath.Join(dir, "CI", "suites"))
	inv := filepath.Join(root, "configs/lab/qemu-lab.yaml")
	os.Setenv("LAB_BMC_PASSWORD", "labbox-test")

	natsAddr, httpAddr := freePort(t), freePort(t)
	hubURL := "nats://" + natsAddr
	tokFile := filepath.Join(dir, "hub.token")
	os.WriteFile(tokFile, []byte("labbox-test-token-0123456789\n"), 0o600)
	hubToken = "labbox-test-token-0123456789"
	hubArgs := []string{"lab", "serve", "--listen", natsAddr, "--http", httpAddr, "--state", filepath.Join(dir, "hub"), "--inventory", inv, "--auth-file", tokFile}
	hub := start(t, bin, "hub", hubArgs...)
	waitPort(t, natsAddr)
	agent := func(lab, name string) *proc {
		return start(t, bin, name, "lab", "agent", "--hub", hubURL, "--hub-auth-file", tokFile, "--lab", lab, "--name", name, "--inventory", inv, "--state", filepath.Join(dir, "agent-"+lab))
	}
	agent("lab1", "lab1-a")
	a2 := agent("lab2", "lab2-a")
	startRun := time.Now()
	run := start(t, bin, "run", "lab", "run", "--hub", hubURL, "--hub-auth-file", tokFile, "--inventory", inv, "--matrix", filepath.Join(dir, "CI", "matrix.yaml"),
		"--report", filepath.Join(dir, "report"), "--state", filepath.Join(dir, "run"))

	// Kill lab2's agent while it runs a cell; start another.
	killed := waitLease(t, hubURL, "lab2-a", 10*time.Minute)
	time.Sleep(5 * time.Second) // into the boot
	a2.kill()
	t.Logf("killed lab2's agent during %s", killed)
	agent("lab2", "lab2-b")
	// Kill the hub while a cell runs; start it again on its store.
	waitLease(t, hubURL, "lab2-b", 5*time.Minute)
	hub.kill()
	t.Log("killed the hub")
	start(t, bin, "hub2", hubArgs...) // stopped by the test's cleanup
	waitPort(t, natsAddr)

	select {
	case <-run.done:
	case <-time.After(15 * time.Minute):
		t.Fatalf("the run did not end:\n%s", run.output())
	}
	wall := time.Since(startRun)
	if run.err != nil {
		t.Fatalf("lab run: %v\n%s", run.err, run.output())
	}
	t.Logf("lab run took %v:\n%s", wall.Round(time.Second), run.output())

	d, err := report.ReadRun(filepath.Join(dir, "report"))
	if err != nil {
		t.Fatal(err)
	}
	passed, skipped := 0, 0
	byLab2b := false
	for _, c := range d.Cells {
		switch {
		case c.Status == "passed":
			passed++
		case c.Status == "skipped" && c.Suite == "nvme" && c.Machine != "vm-nvme":
			skipped++
		default:
			t.Errorf("%s: %s %s", c.ID, c.Status, c.Reason)
		}
		for _, a := range c.Attempts {
			if c.ID == killed && a.Agent == "lab2-b" {
				byLab2b = true
			}
			if a.Outcome.Status == "passed" && (a.Evidence.Boot == "" || len(a.Evidence.Steps) == 0 || a.Evidence.FromConsole) {
				t.Errorf("%s attempt %d passed without the results endpoint's steps: %+v", c.ID, a.N, a.Evidence)
			}
			if c.Suite == "nvme" && a.Outcome.Status == "passed" {
				if st := a.Evidence.Steps[len(a.Evidence.Steps)-1]; st.Name != "fsck" || st.Status != "pass" {
					t.Errorf("%s: the host's fsck of the NVMe disk: %+v", c.ID, st)
				}
			}
		}
	}
	if passed != 8 || skipped != 4 {
		t.Errorf("%d passed and %d skipped, want 8 and 4", passed, skipped)
	}
	if !byLab2b {
		t.Errorf("the cell running when lab2's agent was killed (%s) did not finish on the new agent", killed)
	}
	checkJUnit(t, filepath.Join(dir, "report", report.JUnitFile))
	checkHTML(t, filepath.Join(dir, "report", report.IndexFile))
}

func waitPort(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkJUnit(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests  int `xml:"tests,attr"`
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	if suites.Tests != 12 || len(suites.Suites) != 2 {
		t.Errorf("JUnit: %d tests in %d suites, want 12 in 2", suites.Tests, len(suites.Suites))
	}
	if _, err := exec.LookPath("xmllint"); err == nil {
		if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(root, "lab/report/testdata/junit.xsd"), path).CombinedOutput(); err != nil {
			t.Errorf("JUnit does not validate: %v\n%s", err, out)
		}
	}
}

// checkHTML opens the report in headless Chromium: the DOM it built has
// a passed cell per machine, image and booted suite, and the screenshot
// shows them in the passed color.
func checkHTML(t *testing.T, path string) {
	t.Helper()
	browser := ""
	for _, b := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(b); err == nil {
			browser = p
		}
	}
	if browser == "" {
		t.Log("no chromium: the HTML report is not checked in a browser (apt-get install chromium)")
		return
	}
	shot := filepath.Join(filepath.Dir(path), "screenshot.png")
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dom, err := exec.CommandContext(ctx, browser, append(flags, "--dump-dom", "file://"+path)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	cells := regexp.MustCompile(`data-status="passed"`).FindAll(dom, -1)
	if len(cells) != 8 || !strings.Contains(string(dom), `data-cell="small.nvme.vm-nvme" data-status="passed"`) {
		t.Errorf("the DOM Chromium built has %d passed cells, want 8:\n%.2000s", len(cells), dom)
	}
	if out, err := exec.CommandContext(ctx, browser, append(flags, "--screenshot="+shot, "file://"+path)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// Count the pixels of the passed color (#7fd47f).
	green := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == 0x7f && g>>8 == 0xd4 && bl>>8 == 0x7f {
				green++
			}
		}
	}
	if green < 8*500 {
		t.Errorf("the screenshot has %d pixels of the passed color, fewer than 8 cells' worth (%s)", green, shot)
	}
	t.Logf("screenshot %dx%d, %d passed-colored pixels", b.Dx(), b.Dy(), green)
}
