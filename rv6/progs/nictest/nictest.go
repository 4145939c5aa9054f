//rl:domain

// Package nictest is Rv6's nictest, the lab machines' check of an ixgbe
// port: its link comes up, and frames sent come back intact and in order
// with the device counters agreeing (ixgbe.SelfTest), in MAC loopback (the
// kernel restarts the port's driver domain through its shadow in loopback
// and back: idl.Port.Loopback), or with -pair from ixgbe0 to ixgbe1 over a
// cable between them. It prints the report and PASS or FAIL, and exits 0
// only on a pass. On the 82599 model (QEMU) loopback runs the same code;
// -pair needs real, cabled ports. It drives the ports itself, through the
// capabilities its spawner passed it (`grant nic nictest` at the console's
// login shell). nictest -h lists the flags.
package nictest

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/progs/internal/nic"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "nictest [-n FRAMES] [-t TIMEOUT] [-pair] [PORT]"

// Defaults: enough frames to wrap the 512-entry rings, and time for a
// real link to come up after a reset.
const (
	defaultFrames  = 1000
	defaultTimeout = 10 * time.Second
)

func init() { ulib.Register("nictest", main) }

func main(p *ulib.Proc) int {
	f := cli.NewFlags()
	n := f.Int("n", defaultFrames, "test frames sent, of lengths 60 to 1514 bytes")
	timeout := f.Duration("t", defaultTimeout, "how long the links may take to come up and the frames to come back")
	pair := f.Bool("pair", false, "send on ixgbe0 and receive on ixgbe1, cabled to each other (real 82599s), instead of PORT in MAC loopback")
	rest, ok := cli.ParseFlags(p, p.Stderr, f, p.Args[1:], usage)
	if !ok {
		return ulib.StatusUsage
	}
	switch {
	case len(rest) > 1:
		p.Errorf("unexpected argument %q", rest[1])
		return cli.Usage(p, usage)
	case *pair && len(rest) == 1:
		p.Errorf("-pair tests ixgbe0 -> ixgbe1: no PORT")
		return cli.Usage(p, usage)
	case *n < 1:
		p.Errorf("bad frame count %d: want at least 1", *n)
		return cli.Usage(p, usage)
	case *timeout <= 0:
		p.Errorf("bad timeout %v: want more than 0", *timeout)
		return cli.Usage(p, usage)
	}
	name := "ixgbe0"
	if len(rest) == 1 {
		name = rest[0]
	}
	var err error
	if *pair {
		err = testPair(p, *n, *timeout)
	} else {
		err = testLoopback(p, name, *n, *timeout)
	}
	if err != nil {
		p.Printf("nictest: FAIL: %v\n", err)
		return ulib.StatusError
	}
	p.Printf("nictest: PASS\n")
	return ulib.StatusOK
}

// testLoopback tests the port name in MAC loopback, and puts it back in
// normal operation whatever happened.
func testLoopback(p *ulib.Proc, name string, n int, timeout time.Duration) (err error) {
	port, err := nic.Open(p, name)
	if err != nil {
		return err
	}
	p.Printf("nictest: %s, %s: MAC loopback, %d frames, timeout %v\n", port.Name, port.Info().Where, n, timeout)
	if err := switchLoopback(p, port, true); err != nil {
		return err
	}
	defer func() {
		if berr := switchLoopback(p, port, false); berr != nil && err == nil {
			err = berr
		}
	}()
	if err := port.Quiesce(p.Heap()); err != nil {
		return err
	}
	return selfTest(p, port, port, n, timeout)
}

// switchLoopback has the kernel restart port's driver in or out of MAC
// loopback, and says how it went.
func switchLoopback(p *ulib.Proc, port *nic.Port, on bool) error {
	what := "in MAC loopback"
	if !on {
		what = "out of loopback"
	}
	old := port.Info().Instance
	in, err := port.Ctl.Loopback(on)
	if err != nil {
		return err
	}
	p.Printf("nictest: %s: restarted %s through its shadow (instance #%d -> #%d), %s\n",
		port.Name, what, old, in.Instance, in.LastRestart)
	return nil
}

// selfTest runs ixgbe.SelfTest from tx to rx and prints its report (what
// it saw so far, if it failed).
func selfTest(p *ulib.Proc, tx, rx *nic.Port, n int, timeout time.Duration) error {
	rep, err := ixgbe.SelfTest(p.Heap(), tx.Net, rx.Net, n, timeout)
	p.Printf("nictest: %v\n", rep)
	return err
}

// testPair tests the cable between ixgbe0 and ixgbe1: ixgbe0 sends,
// ixgbe1 (promiscuous) receives.
func testPair(p *ulib.Proc, n int, timeout time.Duration) error {
	tx, err := nic.Open(p, "ixgbe0")
	if err != nil {
		return err
	}
	rx, err := nic.Open(p, "ixgbe1")
	if err != nil {
		return fmt.Errorf("-pair needs two ports: %w", err)
	}
	ti, ri := tx.Info(), rx.Info()
	if ti.Model || ri.Model {
		return fmt.Errorf("-pair needs two cabled 82599 ports: %s is %s and %s is %s, and the model's instances cannot be cabled to each other (nictest without -pair tests a port in MAC loopback)",
			tx.Name, ti.Where, rx.Name, ri.Where)
	}
	p.Printf("nictest: %s, %s -> %s, %s: cable pair, %d frames, timeout %v\n", tx.Name, ti.Where, rx.Name, ri.Where, n, timeout)
	for _, port := range []*nic.Port{tx, rx} {
		if err := port.Quiesce(p.Heap()); err != nil {
			return err
		}
	}
	return selfTest(p, tx, rx, n, timeout)
}
