package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Rv6 is what a person meets after boot: a shell (a program, in a domain
// of its own) over the file system on the RAM disk, where every program is
// a domain. The script goes through pipes, redirections, background jobs
// and every program, then runs usertests; a program that panics is
// reported and the shell goes on.
func TestRv6(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	dir := image(t, "configs/qemu.yaml")
	prompt := []string{`--step`, `expect=\$ `}
	steps := []string{
		`--step`, `expect@4m=RedLeaf-Go domain kernel`,
		`--step`, `expect=rv6: / on ramdisk: \d+ of \d+ blocks free`,
	}
	cmd := func(send string, expect ...string) {
		steps = append(steps, prompt...)
		steps = append(steps, `--step`, `send=`+send)
		for _, e := range expect {
			steps = append(steps, `--step`, `expect=`+e)
		}
	}
	// The files rlbuild image put into the file system.
	cmd(`cat /etc/motd | grep -c RedLeaf`, `(?m)^1\r?$`)
	cmd(`sh /home/demo.sh`, `(?m)^hello from demo.sh\r?$`)
	// Redirections and pipes through programs.
	cmd(`mkdir -p /tmp/a/b && echo hello world > /tmp/a/f && cat < /tmp/a/f`, `(?m)^hello world\r?$`)
	cmd(`echo second line >> /tmp/a/f; wc -l < /tmp/a/f; wc /tmp/a/f`, `(?m)^2\r?$`, `(?m)^2 4 24 /tmp/a/f\r?$`)
	cmd(`cat /tmp/a/f | grep -c line; grep -n hello /tmp/a/f; head -n 1 /tmp/a/f | tail -n 1`,
		`(?m)^1\r?$`, `(?m)^1:hello world\r?$`, `(?m)^hello world\r?$`)
	cmd(`tail -n 1 /tmp/a/f > /tmp/a/last 2>&1 && cat /tmp/a/last`, `(?m)^second line\r?$`)
	cmd(`cp /tmp/a/f /tmp/a/g && mv /tmp/a/g /tmp/a/b/h && ln /tmp/a/b/h /tmp/a/l && ls /tmp/a/b && stat /tmp/a/l`,
		`(?m)^h\r?$`, `Links: 2`)
	cmd(`touch /tmp/a/t && rm /tmp/a/t /tmp/a/l; rmdir /tmp/a/b; echo status $?`,
		`rmdir: /tmp/a/b: directory not empty`, `(?m)^status 1\r?$`)
	cmd(`rm -r /tmp/a && ls /tmp; echo listed $?`, `(?m)^listed 0\r?$`)
	// A script written from the shell, with a pipe, a redirection and an
	// argument; then the shell's history of what was typed.
	cmd(`echo 'echo one | wc -c' > /tmp/s.sh; echo 'head -n 1 /etc/motd > /tmp/first' >> /tmp/s.sh; echo 'echo arg $1' >> /tmp/s.sh`)
	cmd(`sh /tmp/s.sh x; cat /tmp/first`, `(?m)^4\r?$`, `(?m)^arg x\r?$`, `(?m)^Welcome to RedLeaf-Go`)
	cmd(`history`, `(?m)^ *\d+ +sh /tmp/s.sh x; cat /tmp/first\r?$`)
	// Background jobs, ps and kill.
	cmd(`sleep 60 &`, `\[1\] \d+`)
	cmd(`ps`, `(?m)^\d+ +\d+ +\w+ +\d+ +\S+ +sleep 60\r?$`)
	cmd(`kill $!; wait; echo waited $?`, `(?m)^waited \d+\r?$`)
	cmd(`uptime; df; sync && echo synced`, `up \S+, \d+ processes`, `(?m)^ramdisk +\d+`, `(?m)^synced\r?$`)
	// A program that panics is reported; the shell goes on.
	cmd(`crash; echo after crash $?`, `sh: crash: crashed: .*panicking on purpose`, `(?m)^after crash 134\r?$`)
	cmd(`nosuch`, `sh: nosuch: command not found`)
	// Least privilege: nothing reachable from Rv6 runs a host binary, and
	// only the login shell holds admin, passing it on only when asked.
	cmd(`/init; echo back $?`, `sh: /init: not a program name: Rv6 runs programs by name`, `(?m)^back 126\r?$`)
	cmd(`/bin/sh`, `sh: /bin/sh: not a program name`)
	cmd(`caps`, `(?m)^admin\r?$`)
	cmd(`kill null; echo denied $?`, `kill: null: killing a domain needs the admin capability`, `(?m)^denied 1\r?$`)
	cmd(`sh -c 'inject null panic'`, `inject: permission denied: it changes the system, which needs the admin capability`)
	cmd(`grant admin kill null && restart null`, `(?m)^killed null \(#\d+\)\r?$`, `(?m)^restarted null as #\d+\r?$`)
	cmd(`domains | grep -c rv6`, `(?m)^1\r?$`)
	cmd(`benchfs -size 2M`, `(?m)^seq-read +4K +[\d.]+ +\d+`, `log commits: \d+`)
	steps = append(steps, prompt...)
	steps = append(steps, `--step`, `send=usertests`, `--step`, `expect@5m=ALL TESTS PASSED`)
	cmd(`poweroff`)

	transcript := filepath.Join(t.TempDir(), "console.log")
	start := time.Now()
	args := append([]string{"boot", "--artifacts", dir, "--mode", "kernel", "--timeout", "3m", "--quiet", "--transcript", transcript}, steps...)
	r := rl(t, nil, args...)
	log, _ := os.ReadFile(transcript)
	if r.code != 0 {
		t.Fatalf("boot exit %d: %s\nconsole:\n%s", r.code, r.stderr, tail(string(log), 6000))
	}
	t.Logf("Rv6 script and usertests in %v", time.Since(start).Round(time.Second))
}
