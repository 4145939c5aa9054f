package ixgbe

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
)

var update = flag.Bool("update", false, "rewrite testdata/bringup.trace from this run")

// The bring-up register sequence, every read and write with its value,
// against the golden trace in testdata (go test -run BringUpTrace -update
// rewrites it after a deliberate change; review the diff against the
// datasheet).
func TestBringUpTrace(t *testing.T) {
	m := model.New(model.Config{})
	var b strings.Builder
	m.SetTrace(func(a model.Access) { b.WriteString(a.String() + "\n") })
	if _, err := Open(m, Config{Queues: 2, RingSize: 64}, quick); err != nil {
		t.Fatal(err)
	}
	m.SetTrace(nil)
	if errs := m.Errors(); len(errs) > 0 {
		t.Fatalf("model errors: %v", errs)
	}
	const golden = "testdata/bringup.trace"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	got, wantLines := strings.Split(b.String(), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(got), len(wantLines)) {
		g, w := "<end>", "<end>"
		if i < len(got) {
			g = got[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("trace differs from %s at access %d:\n got  %s\n want %s", golden, i+1, g, w)
		}
	}
}

// Each bit the bring-up waits for, withheld: Open fails with ErrTimeout
// naming it, in about the configured timeout, and does not hang.
func TestTimeouts(t *testing.T) {
	for _, c := range []struct {
		name string
		sw   model.Switches
		link bool
		want string
	}{
		{"reset", model.Switches{HoldReset: true}, false, "CTRL.RST"},
		{"eeprom", model.Switches{HoldEEPROM: true}, false, "EEC.ARD"},
		{"dmainit", model.Switches{HoldDMAInit: true}, false, "RDRXCTL.DMAIDONE"},
		{"enable", model.Switches{HoldEnable: true}, false, "RXDCTL(0).ENABLE"},
		{"link", model.Switches{HoldLink: true}, true, "LINKS.UP"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := model.New(model.Config{})
			m.SetSwitches(c.sw)
			cfg := Config{RingSize: 8, Timeout: 30 * time.Millisecond}
			if c.link {
				cfg.LinkTimeout = 30 * time.Millisecond
			}
			start := time.Now()
			_, err := Open(m, cfg, quick)
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v; want ErrTimeout naming %s", err, c.want)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v", el)
			}
			t.Log(err)
		})
	}
}

// Without a link wait, Open succeeds and the link state is reported as it
// is: down while withheld, up once the model lets it come up.
func TestLinkStatus(t *testing.T) {
	m := model.New(model.Config{})
	m.SetSwitches(model.Switches{HoldLink: true})
	d, err := Open(m, Config{RingSize: 8}, quick)
	if err != nil {
		t.Fatal(err)
	}
	if l := d.Link(); l.Up || l.MAC != ownMAC {
		t.Fatalf("link %+v, want down with MAC %x", l, ownMAC)
	}
	m.SetSwitches(model.Switches{})
	if err := d.WaitLink(time.Second); err != nil {
		t.Fatal(err)
	}
	if l := d.Link(); !l.Up || l.SpeedMbps != 10000 {
		t.Fatalf("link %+v, want up at 10000", l)
	}
}

func TestModels(t *testing.T) {
	for _, id := range []uint16{0x10FB, 0x10F7, 0x1528, 0x1557, 0x154D} {
		if _, ok := Lookup(VendorIntel, id); !ok {
			t.Errorf("%04x not bound", id)
		}
	}
	if _, ok := Lookup(VendorIntel, 0x10D3); ok { // 82574 (e1000e)
		t.Error("82574 bound")
	}
	if _, ok := Lookup(0x1af4, 0x10FB); ok {
		t.Error("another vendor bound")
	}
	seen := map[uint16]bool{}
	for _, m := range Models {
		if seen[m.Device] {
			t.Errorf("%04x listed twice", m.Device)
		}
		seen[m.Device] = true
	}
	if _, err := Open(model.New(model.Config{DeviceID: 0x1572}), Config{}, quick); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Open of an X710: %v", err)
	}
	if _, err := Open(model.New(model.Config{}), Config{RingSize: 12}, quick); !errors.Is(err, ErrConfig) {
		t.Errorf("ring of 12: %v", err)
	}
}
