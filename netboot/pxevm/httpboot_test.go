package pxevm

import (
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/server"
	"github.com/rlgo/redleaf/qemu"
)

// httpBootOnly turns OVMF's PXEv4 and PXEv6 boot options off (fw_cfg
// knobs of OvmfPkg since edk2-stable202005; Debian 12 has 2022.11), so
// that the NIC's only boot options are OVMF's UEFI HTTP boot, IPv4 first.
// Otherwise PXE comes first and succeeds, and HTTP boot is never tried.
var httpBootOnly = []string{
	"-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n",
	"-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n",
}

// TestHTTPBoot boots OVMF's own UEFI HTTP boot client (no iPXE ROM, PXE
// off) through the server into the shell, in full DHCP mode with TFTP
// off: the firmware asks as an HTTPClient (option 93 arch 16), gets the
// URL of snponly.efi, fetches it over HTTP, and iPXE goes on as usual.
func TestHTTPBoot(t *testing.T) {
	needs(t)
	t.Parallel()
	dir := buildImage(t)
	f, err := server.Quick(Bridge, dir, "full", "")
	if err != nil {
		t.Fatal(err)
	}
	// No TFTP: nothing but HTTP can load iPXE.
	f.Server.TFTP = false
	lab, err := New(Config{File: f, Log: testLogger(t, "server")})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	c := qemu.Config{PXE: &qemu.PXEConfig{Firmware: "uefi", NativePXE: true}, ExtraArgs: httpBootOnly}
	b := bootToShell(t, lab, c, "uefi-http")
	evs := lab.Server().Events().For(qemu.DefaultMAC)
	var dump strings.Builder
	for _, e := range evs {
		dump.WriteString("\n  " + e.Time.Format("15:04:05.000") + " " + e.Kind + " " + e.Detail + " " + e.Err)
	}
	var first *events.Event
	seen := map[string]bool{}
	fetched := false
	for i, e := range evs {
		seen[e.Kind] = true
		if e.Kind == events.DHCP && first == nil {
			first = &evs[i]
		}
		if e.Kind == events.HTTP && strings.Contains(e.Detail, "GET boot/snponly.efi: 200") {
			fetched = true
		}
	}
	if first == nil || !strings.Contains(first.Detail, " efi-x86_64-http") || !strings.Contains(first.Detail, "boot http://") {
		t.Errorf("first DHCP event is not an HTTP boot client given a URL:%s", dump.String())
	}
	if !fetched {
		t.Errorf("snponly.efi was not fetched over HTTP:%s", dump.String())
	}
	for _, k := range []string{events.Script, events.Handoff, events.Booted} {
		if !seen[k] {
			t.Errorf("no %s event:%s", k, dump.String())
		}
	}
	if seen[events.TFTP] {
		t.Errorf("a TFTP transfer with TFTP off:%s", dump.String())
	}
	t.Logf("UEFI HTTP boot: shell prompt %v after start; events %s", b.elapsed.Round(100*time.Millisecond), kinds(evs))
}
