package power_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/lab/power"
)

// startPDUDaemon runs Debian's pdudaemon on loopback with one PDU whose
// localcmdline driver appends "OUTLET on|off" to a file: the record of
// what the PDU was asked.
func startPDUDaemon(t *testing.T) (url, record string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts pdudaemon")
	}
	bin, err := exec.LookPath("pdudaemon")
	if err != nil {
		t.Skip("pdudaemon not installed (Debian package pdudaemon)")
	}
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := map[string]any{
		"daemon": map[string]any{"hostname": "127.0.0.1", "port": port, "logging_level": "DEBUG", "listener": "http"},
		"pdus": map[string]any{
			"lab-pdu": map[string]any{
				"driver":  "localcmdline",
				"cmd_on":  "echo '%s on' >> " + record,
				"cmd_off": "echo '%s off' >> " + record,
			},
		},
	}
	b, _ := json.Marshal(conf)
	confFile := filepath.Join(dir, "pdudaemon.conf")
	if err := os.WriteFile(confFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--conf", confFile, "--logfile", filepath.Join(dir, "log"), "--loglevel", "DEBUG")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return url, record
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("pdudaemon exited: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("pdudaemon did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPDUDaemon(t *testing.T) {
	url, record := startPDUDaemon(t)
	b := open(t, power.Spec{Type: "pdudaemon", Address: url, PDU: "lab-pdu", Port: "3", Machine: "vm1"})
	ctx := context.Background()
	for _, a := range []power.Action{power.ActionOn, power.ActionOff, power.ActionCycle} {
		if err := b.Set(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(record)
	if want := "3 on\n3 off\n3 off\n3 on\n"; string(got) != want {
		t.Errorf("the PDU was asked:\n%s\nwant:\n%s", got, want)
	}
	// pdudaemon's API cannot read an outlet back: said so, not guessed.
	if st, err := b.State(ctx); st != power.Unknown || err != nil {
		t.Errorf("State = %s, %v; want unknown", st, err)
	}
	if power.Confirms(b) {
		t.Error("Confirms = true for pdudaemon, which cannot read the state")
	}
	if err := b.BootPXEOnce(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("BootPXEOnce on a PDU: %v, want ErrUnsupported", err)
	}

	unknown := open(t, power.Spec{Type: "pdudaemon", Address: url, PDU: "no-such-pdu", Port: "3", Machine: "vm1", Retries: -1})
	err := unknown.Set(ctx, power.ActionOn)
	wantErr(t, err, "on", power.ErrRejected)
	if !strings.Contains(err.Error(), "no-such-pdu") {
		t.Errorf("the error does not name the PDU: %v", err)
	}

}
