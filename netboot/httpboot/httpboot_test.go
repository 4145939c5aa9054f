package httpboot

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/files"
	"github.com/rlgo/redleaf/netboot/operator"
	"github.com/rlgo/redleaf/netboot/profile"
)

func artifacts(t *testing.T, dir, name string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "vmlinuz"), []byte(strings.Repeat("K", 10000)), 0o644)
	os.WriteFile(filepath.Join(dir, "initrd.img"), []byte(strings.Repeat("I", 5000)), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("not an artifact"), 0o644)
	m := &manifest.Manifest{Name: name, Arch: "amd64", Kernel: "vmlinuz", Initrd: "initrd.img", Cmdline: "console=ttyS0 quiet", Boot: []string{"pxe"}}
	m.Add(dir, "vmlinuz")
	m.Add(dir, "initrd.img")
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
}

const lab = `default: qemu
profiles:
  qemu:
    artifacts: out/qemu
    cmdline: rl.debug
  other:
    artifacts: out/other
machines:
  52:54:00:00:00:02:
    profile: other
    once: true
  52:54:00:00:00:03:
    profile: local
`

func newServer(t *testing.T, content string) (*httptest.Server, *Server) {
	t.Helper()
	dir := t.TempDir()
	artifacts(t, filepath.Join(dir, "out", "qemu"), "qemu")
	artifacts(t, filepath.Join(dir, "out", "other"), "other")
	path := filepath.Join(dir, "lab.yaml")
	os.WriteFile(path, []byte(content), 0o644)
	f, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	store, err := profile.NewStore(f, filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	ipxeDir := filepath.Join(dir, "ipxe")
	os.MkdirAll(ipxeDir, 0o755)
	os.WriteFile(filepath.Join(ipxeDir, "snponly.efi"), []byte("MZ efi"), 0o644)
	s := &Server{Log: quiet(), Profiles: store, Events: &events.Log{}, BootFiles: files.Map{"snponly.efi": filepath.Join(ipxeDir, "snponly.efi")}, StateDir: filepath.Join(dir, "state"),
		Owns: loopbackOwns, Operator: opToken}
	ts := httptest.NewServer(s)
	s.BaseURL = ts.URL
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts, s
}

// opSecret is the operator token of the tests' servers.
const opSecret = "operator-secret-0123456789"

var opToken, _ = operator.New(opSecret)

// op is the operator's Authorization header.
var op = []string{"Authorization", "Bearer " + opSecret}

// loopbackOwns says that every machine is at 127.0.0.1 (where the tests'
// clients are), and none anywhere else.
func loopbackOwns(_ net.HardwareAddr, ip netip.Addr) bool {
	return ip == netip.MustParseAddr("127.0.0.1")
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func do(t *testing.T, method, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var kernelLine = regexp.MustCompile(`(?m)^kernel --name vmlinuz (\S+) (.*)$`)
var initrdLine = regexp.MustCompile(`(?m)^initrd --name initrd.img (\S+)$`)

func TestScriptAndImages(t *testing.T) {
	ts, s := newServer(t, lab)
	mac, _ := net.ParseMAC("52:54:00:00:00:01")
	resp, script := get(t, s.ScriptURL(mac))
	if resp.StatusCode != 200 || !strings.HasPrefix(script, "#!ipxe\n") || !strings.Contains(script, "\nboot\n") {
		t.Fatalf("%d %q", resp.StatusCode, script)
	}
	k := kernelLine.FindStringSubmatch(script)
	i := initrdLine.FindStringSubmatch(script)
	if k == nil || i == nil {
		t.Fatalf("script:\n%s", script)
	}
	for _, want := range []string{"initrd=initrd.img", "console=ttyS0 quiet", "rl.debug", "rl.mac=52:54:00:00:00:01", "rl.profile=qemu", "rl.token=", "rl.report=" + ts.URL + "/api"} {
		if !strings.Contains(k[2], want) {
			t.Errorf("command line %q lacks %q", k[2], want)
		}
	}
	token := regexp.MustCompile(`rl\.token=([0-9a-f]+)`).FindStringSubmatch(k[2])[1]

	// The kernel, whole, by HEAD, and by range.
	resp, body := get(t, k[1])
	if resp.StatusCode != 200 || len(body) != 10000 {
		t.Errorf("kernel: %d, %d bytes", resp.StatusCode, len(body))
	}
	hresp, _ := do(t, "HEAD", k[1], "")
	if hresp.StatusCode != 200 || hresp.ContentLength != 10000 || hresp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %d %d %v", hresp.StatusCode, hresp.ContentLength, hresp.Header)
	}
	resp, body = get(t, k[1], "Range", "bytes=100-199")
	if resp.StatusCode != 206 || len(body) != 100 || resp.Header.Get("Content-Range") != "bytes 100-199/10000" {
		t.Errorf("range: %d %d %q", resp.StatusCode, len(body), resp.Header.Get("Content-Range"))
	}
	resp, _ = get(t, k[1], "Range", "bytes=20000-")
	if resp.StatusCode != 416 {
		t.Errorf("unsatisfiable range: %d", resp.StatusCode)
	}
	resp, body = get(t, i[1])
	if resp.StatusCode != 200 || len(body) != 5000 {
		t.Errorf("initrd: %d, %d bytes", resp.StatusCode, len(body))
	}
	// Events: script, the HTTP fetches and the handoff.
	var kinds []string
	for _, e := range s.Events.For(mac.String()) {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "script,http,http,http,http,http,handoff" {
		t.Errorf("events %s", got)
	}

	// Only manifest artifacts, nothing outside.
	for _, path := range []string{"/images/qemu/secret.txt", "/images/qemu/manifest.json", "/images/qemu/../../lab.yaml", "/images/qemu/..%2f..%2flab.yaml",
		"/images/qemu/%2e%2e/other/vmlinuz", "/images/nope/vmlinuz", "/boot/../lab.yaml", "/boot/%2e%2e%2flab.yaml", "/boot/nope.efi"} {
		resp, _ := get(t, ts.URL+path)
		if resp.StatusCode/100 == 2 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if resp, body := get(t, s.BootFileURL("snponly.efi")); resp.StatusCode != 200 || body != "MZ efi" {
		t.Errorf("boot file: %d %q", resp.StatusCode, body)
	}

	// Reports: refused without the token, recorded with it.
	if resp, _ := do(t, "POST", ts.URL+"/api/results", `{"ok":true}`); resp.StatusCode != 401 {
		t.Errorf("results without token: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", ts.URL+"/api/results?token=deadbeef", `{"ok":true}`); resp.StatusCode != 401 {
		t.Errorf("results with a wrong token: %d", resp.StatusCode)
	}
	if resp, body := do(t, "POST", ts.URL+"/api/booted?token="+token, ""); resp.StatusCode != 200 {
		t.Errorf("booted: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "POST", ts.URL+"/api/results", `{"tests":3,"failed":0}`, "Authorization", "Bearer "+token); resp.StatusCode != 200 {
		t.Errorf("results: %d %s", resp.StatusCode, body)
	}
	do(t, "POST", ts.URL+"/api/results", `plain text`, "Authorization", "Bearer "+token)
	_, body = get(t, ts.URL+"/api/machines/52-54-00-00-00-01")
	var mi struct {
		Boots []Boot
		Next  profile.Resolution `json:"next_boot"`
	}
	if err := json.Unmarshal([]byte(body), &mi); err != nil {
		t.Fatal(err)
	}
	if len(mi.Boots) != 1 || len(mi.Boots[0].Results) != 2 || mi.Boots[0].Booted.IsZero() || mi.Next.Target != "qemu" {
		t.Errorf("machine: %s", body)
	}
	// The read view has no bodies and no token.
	if strings.Contains(body, "plain text") || strings.Contains(body, `"tests"`) || strings.Contains(body, token) {
		t.Errorf("machine view shows result bodies or the token: %s", body)
	}
	// The operator reads them.
	if resp, _ := get(t, ts.URL+"/api/boots/"+mi.Boots[0].ID+"/results"); resp.StatusCode != 401 {
		t.Errorf("results without the operator token: %d", resp.StatusCode)
	}
	_, body = get(t, ts.URL+"/api/boots/"+mi.Boots[0].ID+"/results", op...)
	var rs []Result
	err := json.Unmarshal([]byte(body), &rs)
	if err == nil && len(rs) == 2 {
		var c bytes.Buffer
		json.Compact(&c, rs[0].Body)
		rs[0].Body = c.Bytes()
	}
	if err != nil || len(rs) != 2 || string(rs[0].Body) != `{"tests":3,"failed":0}` || string(rs[1].Body) != `"plain text"` {
		t.Errorf("results: %v %s", err, body)
	}
	_, body = get(t, ts.URL+"/metrics")
	if !strings.Contains(body, `netboot_events_total{kind="handoff"} 1`) || !strings.Contains(body, `netboot_events_total{kind="results"} 2`) {
		t.Errorf("metrics:\n%s", body)
	}
}

func TestLocalAndOnce(t *testing.T) {
	ts, s := newServer(t, lab+"deny_unknown: true\n")
	local, _ := net.ParseMAC("52:54:00:00:00:03")
	if resp, script := get(t, s.ScriptURL(local)); resp.StatusCode != 200 || !strings.Contains(script, "\nexit\n") || strings.Contains(script, "kernel") {
		t.Errorf("local: %d %q", resp.StatusCode, script)
	}
	unknown, _ := net.ParseMAC("52:54:00:00:00:09")
	if resp, script := get(t, s.ScriptURL(unknown)); resp.StatusCode != 403 || !strings.Contains(script, "not a known machine") {
		t.Errorf("unknown: %d %q", resp.StatusCode, script)
	}
	once, _ := net.ParseMAC("52:54:00:00:00:02")
	if _, script := get(t, s.ScriptURL(once)); !strings.Contains(script, "rl.profile=other") {
		t.Errorf("once: %q", script)
	}
	if _, script := get(t, s.ScriptURL(once)); !strings.Contains(script, "exit") {
		t.Errorf("after once: %q", script)
	}
	// The API sets the next boot; once-only falls back after it.
	api := ts.URL + "/api/machines/52:54:00:00:00:02/next-boot"
	if resp, _ := do(t, "PUT", api, `{"profile":"qemu","once":true}`); resp.StatusCode != 401 {
		t.Errorf("PUT without the operator token: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "PUT", api, `{"profile":"qemu","once":true}`, "Authorization", "Bearer wrong-token-0123456789"); resp.StatusCode != 401 {
		t.Errorf("PUT with a wrong token: %d", resp.StatusCode)
	}
	if resp, body := do(t, "PUT", api, `{"profile":"qemu","once":true}`, op...); resp.StatusCode != 200 || !strings.Contains(body, `"source": "api"`) {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	if _, body := get(t, api); !strings.Contains(body, `"profile": "qemu"`) {
		t.Errorf("GET: %s", body)
	}
	if _, script := get(t, s.ScriptURL(once)); !strings.Contains(script, "rl.profile=qemu") {
		t.Errorf("API boot: %q", script)
	}
	if _, script := get(t, s.ScriptURL(once)); !strings.Contains(script, "exit") {
		t.Errorf("after API once: %q", script)
	}
	if resp, body := do(t, "PUT", api, `{"profile":"nope"}`, op...); resp.StatusCode != 400 || !strings.Contains(body, "no profile") {
		t.Errorf("PUT unknown: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, "PUT", api, `{"profile":"qemu","oops":1}`, op...); resp.StatusCode != 400 {
		t.Errorf("PUT bad body: %d", resp.StatusCode)
	}
	do(t, "PUT", api, `{"profile":"qemu"}`, op...)
	if resp, _ := do(t, "DELETE", api, ""); resp.StatusCode != 401 {
		t.Errorf("DELETE without the operator token: %d", resp.StatusCode)
	}
	if resp, body := do(t, "DELETE", api, "", op...); resp.StatusCode != 200 || !strings.Contains(body, `"source": "machine-then"`) {
		t.Errorf("DELETE: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, ts.URL+"/api/machines/zz/next-boot"); resp.StatusCode != 400 {
		t.Errorf("bad MAC: %d", resp.StatusCode)
	}
	_, body := get(t, ts.URL+"/api/machines")
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) < 3 {
		t.Errorf("machines: %v %s", err, body)
	}
}

// TestTokensSurviveRestart checks that a machine booted before a restart
// can still report.
func TestTokensSurviveRestart(t *testing.T) {
	ts, s := newServer(t, lab)
	mac, _ := net.ParseMAC("52:54:00:00:00:01")
	_, script := get(t, s.ScriptURL(mac))
	token := regexp.MustCompile(`rl\.token=([0-9a-f]+)`).FindStringSubmatch(script)[1]
	s.Close()
	s2 := &Server{Log: quiet(), Profiles: s.Profiles, Events: &events.Log{}, StateDir: s.StateDir, BaseURL: ts.URL, Owns: loopbackOwns}
	ts2 := httptest.NewServer(s2)
	defer ts2.Close()
	if resp, body := do(t, "POST", ts2.URL+"/api/booted?token="+token, ""); resp.StatusCode != 200 {
		t.Errorf("after restart: %d %s", resp.StatusCode, body)
	}
}

func quiet() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
