package system

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/rlgo/redleaf/bootparam"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/kernel/netup"
	"github.com/rlgo/redleaf/kernel/suite"
)

// suiteTimeout bounds a lab suite on the target; the lab runner has its
// own, and powers the machine off at the end either way.
const suiteTimeout = time.Hour

// startSuite runs the lab suite the command line names (rl.suite=, put
// there by `rlbuild lab`), if any, in Rv6's shell beside init, and posts
// its results with the boot's token (rl.report=, rl.token=). The suite's
// shell holds what init holds (every capability Rv6 may hand out): its
// steps pass them on with grant, as the console's login shell does.
func startSuite(k *boot.Kernel, r *rv6) {
	spec, ok, err := suite.FromCmdline(func(key string) (string, bool) { return k.Cmdline.Lookup(key) })
	if !ok {
		return
	}
	if err != nil {
		k.Logf("lab suite: %v", err)
		return
	}
	url, _ := k.Cmdline.Lookup(bootparam.Report)
	token, _ := k.Cmdline.Lookup(bootparam.Token)
	bootID, _ := k.Cmdline.Lookup(bootparam.Boot)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				k.Logf("lab suite: panicked: %v", p)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
		defer cancel()
		exec := func(_ context.Context, command string) (suite.Exit, error) {
			env := "PATH=/bin\x00HOME=/\x00TERM=linux\x00"
			ws, err := r.cap.Run(idl.SpawnReq{Prog: "sh", Argv: strings.Join([]string{"sh", "-c", command}, "\x00") + "\x00", Env: env, Cwd: "/", Caps: r.caps})
			if err != nil {
				return suite.Exit{}, err
			}
			return suite.Exit{Status: int(ws.Status), Reason: ws.Reason}, nil
		}
		res := suite.Run(ctx, spec, exec, os.Stdout)
		if url == "" {
			return // no lab server to tell: the console markers are all
		}
		rep := &netup.Reporter{URL: url, Token: token, Logf: func(f string, a ...any) { k.Debugf("lab suite: "+f, a...) }}
		if err := rep.PostResults(ctx, netup.Results{Boot: bootID, Suite: res}); err != nil {
			k.Logf("lab suite: could not post the results to %s: %v", url, err)
		}
	}()
}
