package qmp

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startQEMU starts a QEMU with no devices and its CPUs stopped: it costs
// nothing under TCG and answers QMP like any VM.
func startQEMU(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
	}
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	cmd := exec.Command(bin, "-M", "q35", "-accel", "tcg", "-S", "-nodefaults", "-display", "none",
		"-qmp", "unix:"+sock+",server=on,wait=off")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("QEMU did not create %s", sock)
	return ""
}

func waitEvent(t *testing.T, ch <-chan Event, name string) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %s", name)
			}
			if ev.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

func TestQEMU(t *testing.T) {
	sock := startQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v := c.Greeting().QMP.Version.QEMU; v.Major < 6 {
		t.Errorf("QEMU version %+v: set-action needs 6.0 or later", v)
	}
	st, err := c.QueryStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running || st.Status != "prelaunch" {
		t.Errorf("status of a QEMU started with -S = %+v, want prelaunch, not running", st)
	}
	events, unsubscribe := c.Subscribe()
	defer unsubscribe()
	if err := c.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "RESUME")
	if err := c.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "STOP")
	if err := c.Execute(ctx, "system_reset", nil, nil); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, events, "RESET")
	if !strings.Contains(string(ev.Data), "host-qmp-system-reset") {
		t.Errorf("RESET event data %s does not name the QMP reset as its reason", ev.Data)
	}
	err = c.Execute(ctx, "no-such-command", map[string]any{"x": 1}, nil)
	var qe *Error
	if !errors.As(err, &qe) || qe.Class != "CommandNotFound" {
		t.Errorf("unknown command: err = %v, want a *qmp.Error of class CommandNotFound", err)
	}
	if err := c.Execute(ctx, "quit", nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("connection still open after quit")
	}
	if err := c.Execute(ctx, "query-status", nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("command after QEMU quit: err = %v, want ErrClosed", err)
	}
}

// fakePeer serves script on a Unix socket: whatever a hostile or broken
// peer might send.
func fakePeer(t *testing.T, script func(net.Conn)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fake.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		script(conn)
	}()
	return sock
}

func TestHostilePeer(t *testing.T) {
	greeting := `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}` + "\n"
	for _, tc := range []struct {
		name   string
		script func(net.Conn)
		want   string
	}{
		{"not QMP", func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH\n")) }, "not a QMP greeting"},
		{"silent", func(c net.Conn) { time.Sleep(3 * time.Second) }, "greeting"},
		{"endless line", func(c net.Conn) {
			c.Write([]byte(greeting))
			junk := []byte(strings.Repeat("x", 64<<10))
			for i := 0; i < 100; i++ {
				if _, err := c.Write(junk); err != nil {
					return
				}
			}
		}, "longer than"},
		{"garbage reply", func(c net.Conn) {
			c.Write([]byte(greeting))
			c.Read(make([]byte, 512)) // the qmp_capabilities command
			c.Write([]byte("{not json\n"))
			time.Sleep(time.Second)
		}, "malformed"},
		{"no reply", func(c net.Conn) {
			c.Write([]byte(greeting))
			time.Sleep(3 * time.Second)
		}, "no reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := fakePeer(t, tc.script)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			c, err := Dial(ctx, sock)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
