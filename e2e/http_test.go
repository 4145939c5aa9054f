package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/qemu"
)

// The must-haves 4 and 5, from the host: the default image booted
// with two forwards (rlbuild boot --forward H:80 --forward K:11211), `httpd
// &` and `kvstore &` at the Rv6 prompt (no grant: they declare that they
// need a network stack), then curl against httpd and libmemcached's
// memccapable and memcslap and pymemcache against kvstore. One boot for
// all of it.
func TestHTTPAndKVStore(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, tool := range []string{"curl", "memccapable", "memcslap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (scripts/install-deps.sh installs it)", tool)
		}
	}
	py := pymemcachePython(t)
	index, err := os.ReadFile(filepath.Join(root, "configs/rv6root/www/index.html"))
	if err != nil {
		t.Fatal(err)
	}

	c := kernelMode(t, "configs/qemu.yaml")
	httpPort, kvPort := freeTCPPort(t), freeTCPPort(t)
	for kvPort == httpPort {
		kvPort = freeTCPPort(t)
	}
	fwds, err := qemu.ParseForwards([]string{fmt.Sprintf("%d:80", httpPort), fmt.Sprintf("%d:11211", kvPort)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddForwards(fwds); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bv := bootVM(t, ctx, c)
	vm, fail, expect := bv.vm, bv.fail, bv.expect
	send := bv.send
	// run runs a host command with a deadline and returns its output.
	run := func(timeout time.Duration, name string, args ...string) (string, error) {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out, err := exec.CommandContext(rctx, name, args...).CombinedOutput()
		return string(out), err
	}
	start := time.Now()
	expect(4*time.Minute, `netstack: TCP/IP on 10\.0\.2\.15/24`)
	expect(2*time.Minute, `rv6: / on ramdisk`)
	expect(time.Minute, `\$ `)
	t.Logf("booted in %v", time.Since(start).Round(time.Second))

	// A program that declared nothing gets no stack without grant.
	send(`nc -l 7000; echo nc $?`)
	expect(time.Minute, `nc: network: capability not granted`)
	expect(time.Minute, `(?m)^nc 1\r?$`)
	// QEMU accepts on the host ports whether or not the guest listens:
	// the servers' own lines say when they do.
	send(`httpd &`)
	expect(time.Minute, `httpd: serving /www on 10\.0\.2\.15:80`)
	send(`kvstore &`)
	expect(time.Minute, `kvstore: 64 MiB on 10\.0\.2\.15:11211`)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	// curl: the page, its headers, a 404, a 405, two URLs on one
	// keep-alive connection.
	out, err := run(time.Minute, "curl", "-sS", "--max-time", "50", "-D", "-", base+"/")
	head, body, _ := strings.Cut(out, "\r\n\r\n")
	if err != nil || body != string(index) {
		fail("curl /: %v: body %q, want /www/index.html's %q\n%s", err, body, index, head)
	}
	for _, want := range []string{"HTTP/1.1 200 OK", "Content-Length: " + strconv.Itoa(len(index)), "Content-Type: text/html; charset=utf-8", "Last-Modified: "} {
		if !strings.Contains(head, want) {
			fail("curl /: no %q in the headers:\n%s", want, head)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{base + "/nope.html"}, "404"},
		{[]string{"-X", "POST", base + "/"}, "405"},
		{[]string{"-I", base + "/index.html"}, "200"},
	} {
		got, err := run(time.Minute, "curl", append([]string{"-sS", "--max-time", "50", "-o", "/dev/null", "-w", "%{http_code}"}, c.args...)...)
		if err != nil || got != c.want {
			fail("curl %q: %q %v, want %s", c.args, got, err, c.want)
		}
	}
	out, err = run(time.Minute, "curl", "-sSv", "--max-time", "50", base+"/", base+"/index.html", "-o", "/dev/null", "-o", "/dev/null")
	if err != nil || strings.Count(out, "Connected to") != 1 || !regexp.MustCompile(`(?i)re-?using existing connection`).MatchString(out) {
		fail("curl with two URLs did not keep the connection: %v\n%s", err, out)
	}
	t.Logf("curl done after %v", time.Since(start).Round(time.Second))

	// memccapable: every ascii test passes.
	out, err = run(3*time.Minute, "memccapable", "-a", "-t", "30", "-h", "127.0.0.1", "-p", strconv.Itoa(kvPort))
	if err != nil || strings.Contains(out, "[FAIL]") || strings.Count(out, "[pass]") < 27 {
		fail("memccapable: %v\n%s", err, out)
	}
	t.Logf("memccapable done after %v", time.Since(start).Round(time.Second))

	// pymemcache.
	out, err = run(time.Minute, py, "-c", pymemcacheScript, "127.0.0.1", strconv.Itoa(kvPort))
	if err != nil || !strings.Contains(out, "pymemcache ok") {
		fail("pymemcache: %v\n%s", err, out)
	}

	// memcslap: a short load of sets then gets, without errors.
	servers := fmt.Sprintf("--servers=127.0.0.1:%d", kvPort)
	for _, test := range []string{"set", "get"} {
		out, err = run(3*time.Minute, "memcslap", servers, "--test="+test, "--concurrency=2", "--execute-number=200")
		if err != nil || regexp.MustCompile(`(?i)error|fail`).MatchString(out) {
			fail("memcslap --test=%s: %v\n%s", test, err, out)
		}
		t.Logf("memcslap --test=%s: %s", test, strings.TrimSpace(out))
	}
	t.Logf("kvstore done after %v", time.Since(start).Round(time.Second))

	send(`poweroff`)
	select {
	case <-vm.Done():
	case <-time.After(2 * time.Minute):
		fail("QEMU still running 2 minutes after poweroff")
	}
}

// pymemcacheScript is set/get/cas/incr/delete through pymemcache, against
// the server at argv[1]:argv[2].
const pymemcacheScript = `
import sys
from pymemcache.client.base import Client
c = Client((sys.argv[1], int(sys.argv[2])), connect_timeout=30, timeout=30, default_noreply=False)
assert c.set("greeting", b"hello", expire=600)
assert c.get("greeting") == b"hello"
v, cas = c.gets("greeting")
assert v == b"hello"
assert c.cas("greeting", b"bonjour", cas) is True
assert c.cas("greeting", b"hallo", cas) is False
assert c.get("greeting") == b"bonjour"
assert c.set("count", b"41")
assert c.incr("count", 1) == 42
assert c.delete("greeting") is True
assert c.get("greeting") is None
print("pymemcache ok")
`

// pymemcachePython is a python3 that imports pymemcache (Debian's package
// installs into the system python, which may not be the first in PATH).
func pymemcachePython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import pymemcache").Run() == nil {
			return p
		}
	}
	t.Skip("needs pymemcache (Debian package python3-pymemcache; scripts/install-deps.sh installs it)")
	return ""
}
