package boot

import (
	"context"
	"net"
	"time"

	"github.com/rlgo/redleaf/bootparam"
	"github.com/rlgo/redleaf/kernel/netup"
	"github.com/rlgo/redleaf/version"
	"golang.org/x/sys/unix"
)

// ReportTimeout bounds the whole "booted" report: network up, DHCP and
// the POST with its retries.
const ReportTimeout = 3 * time.Minute

// startReport, when the command line names a netboot server to report to
// (rl.report=, put there by netboot/httpboot with rl.token=, rl.boot= and
// rl.mac=), brings the network up and posts "booted" in the background:
// the console shell never waits for the network. Failures are printed;
// success only with rl.debug (the line would land after the prompt).
func (k *Kernel) startReport() {
	url, ok := k.Cmdline.Lookup(bootparam.Report)
	if !ok || url == "" {
		return
	}
	token, _ := k.Cmdline.Lookup(bootparam.Token)
	bootID, _ := k.Cmdline.Lookup(bootparam.Boot)
	var mac net.HardwareAddr
	if v, ok := k.Cmdline.Lookup(bootparam.MAC); ok {
		var err error
		if mac, err = net.ParseMAC(v); err != nil {
			k.Logf("netboot: %s=%q: %v; using the first interface with carrier", bootparam.MAC, v, err)
		}
	}
	release := "unknown"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		release = unix.ByteSliceToString(u.Release[:])
	}
	logf := func(format string, args ...any) { k.Debugf("netboot: "+format, args...) }
	go func() {
		defer func() {
			// A bug here must not take PID 1 down: the report is a
			// courtesy to the lab, the system runs without it.
			if r := recover(); r != nil {
				k.Logf("netboot: report panicked: %v", r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), ReportTimeout)
		defer cancel()
		r := &netup.Reporter{URL: url, Token: token, Logf: logf}
		link, err := netup.ReportBooted(ctx, netup.Config{MAC: mac, Logf: logf}, r, netup.Booted{
			Boot: bootID, Kernel: "Linux " + release, Image: version.String(),
		})
		if err != nil {
			k.Logf("netboot: could not report \"booted\" to %s: %v", url, err)
			return
		}
		k.Debugf("netboot: reported \"booted\" to %s over %s", url, link)
	}()
}
