package system

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/system/sh"
)

// nictest is the lab machines' check of the ixgbe ports: the link comes
// up, and frames sent come back intact, in order, with the device counters
// agreeing (ixgbe.SelfTest). By default a port tests itself in MAC
// loopback: the command sets the port's loopback switch (ixgbe.Mode) and
// restarts its domain through its shadow, which replays its configuration
// into the new instance; after the test it clears the switch and restarts
// it again. The same code runs on a real 82599 and on the model. With
// -pair, ixgbe0 sends and ixgbe1 receives, over a cable between the two
// ports; the model's instances cannot be cabled, so -pair needs real
// ports.

// nictestUsage is nictest's command line.
const nictestUsage = "nictest [-n FRAMES] [-t TIMEOUT] [-pair] [PORT]"

// Defaults of nictest: enough frames to wrap the 512-entry rings, and
// time for a real link to come up after a reset.
const (
	nictestFrames  = 1000
	nictestTimeout = 10 * time.Second
)

// nictestMu keeps two nictests from switching the same ports at once (the
// monitor runs commands concurrently).
var nictestMu sync.Mutex

// cmdNictest runs the self test and prints its report and PASS or FAIL:
// status 0 on a pass only.
func (s *System) cmdNictest(ctx context.Context, p *sh.Proc) int {
	fs := flag.NewFlagSet(p.Name(), flag.ContinueOnError)
	fs.SetOutput(p.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(p.Stderr, "usage: %s\n", nictestUsage)
		fs.PrintDefaults()
	}
	n := fs.Int("n", nictestFrames, "test frames sent, of lengths 60 to 1514 bytes")
	timeout := fs.Duration("t", nictestTimeout, "how long the links may take to come up and the frames to come back")
	pair := fs.Bool("pair", false, "send on ixgbe0 and receive on ixgbe1, cabled to each other (real 82599s), instead of PORT in MAC loopback")
	if err := fs.Parse(p.Args[1:]); err != nil {
		return statusUsage
	}
	switch {
	case fs.NArg() > 1:
		p.Errorf("unexpected argument %q", fs.Arg(1))
		return usage(p, nictestUsage)
	case *pair && fs.NArg() == 1:
		p.Errorf("-pair tests %s0 -> %s1: no PORT", IxgbePrefix, IxgbePrefix)
		return usage(p, nictestUsage)
	case *n < 1:
		p.Errorf("bad frame count %d: want at least 1", *n)
		return usage(p, nictestUsage)
	case *timeout <= 0:
		p.Errorf("bad timeout %v: want more than 0", *timeout)
		return usage(p, nictestUsage)
	}
	name := IxgbePrefix + "0"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	if !nictestMu.TryLock() {
		p.Errorf("another nictest is running")
		return statusError
	}
	defer nictestMu.Unlock()

	var err error
	if *pair {
		err = s.nictestPair(p, *n, *timeout)
	} else {
		err = s.nictestLoopback(p, name, *n, *timeout)
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted")
	}
	if err != nil {
		p.Printf("nictest: FAIL: %v\n", err)
		return statusError
	}
	p.Printf("nictest: PASS\n")
	return statusOK
}

// nictestLoopback tests the port named name in MAC loopback, and puts it
// back in normal operation whatever happened.
func (s *System) nictestLoopback(p *sh.Proc, name string, n int, timeout time.Duration) (err error) {
	port, err := s.ixgbePort(name)
	if err != nil {
		return err
	}
	p.Printf("nictest: %s, %s: MAC loopback, %d frames, timeout %v\n", port.name, port.where, n, timeout)
	if err := s.switchLoopbackShown(p, port, true); err != nil {
		return err
	}
	defer func() {
		if berr := s.switchLoopbackShown(p, port, false); berr != nil && err == nil {
			err = berr
		}
	}()
	heap := s.m.Kernel().Heap()
	if err := port.quiesce(heap); err != nil {
		return err
	}
	return selfTest(p, heap, port, port, n, timeout)
}

// selfTest runs ixgbe.SelfTest from tx to rx and prints its report (what
// it saw so far, if it failed).
func selfTest(p *sh.Proc, heap *rref.Account, tx, rx *ixgbePort, n int, timeout time.Duration) error {
	rep, err := ixgbe.SelfTest(heap, tx.ctl, rx.ctl, n, timeout)
	p.Printf("nictest: %v\n", rep)
	return err
}

// switchLoopbackShown is switchLoopback, saying what it did.
func (s *System) switchLoopbackShown(p *sh.Proc, port *ixgbePort, on bool) error {
	what := "in MAC loopback"
	if !on {
		what = "out of loopback"
	}
	old, err := s.switchLoopback(port, on)
	if err != nil {
		return err
	}
	p.Printf("nictest: %s: restarted %s through its shadow (instance #%d -> #%d), %s\n",
		port.name, what, old, port.guard.Current().ID(), replayed(port.guard, 1))
	return nil
}

// switchLoopback sets port's loopback switch to on and restarts its domain
// through its shadow (the new instance starts in that mode and gets
// promiscuous mode replayed), and returns the instance it replaced. If the
// restart fails, the switch goes back and the port is restarted once more,
// to leave it as it was.
func (s *System) switchLoopback(port *ixgbePort, on bool) (domain.ID, error) {
	what := "in MAC loopback"
	if !on {
		what = "out of loopback"
	}
	old := port.guard.Current().ID()
	port.mode.SetLoopback(on)
	if _, err := s.Restart(port.name); err != nil {
		port.mode.SetLoopback(!on)
		if _, rerr := s.Restart(port.name); rerr != nil {
			s.logf("%s: restarting it back after a failed switch: %v", port.name, rerr)
		}
		return old, fmt.Errorf("%s: restarting it %s: %w", port.name, what, err)
	}
	return old, nil
}

// nictestPair tests the cable between ixgbe0 and ixgbe1: ixgbe0 sends,
// ixgbe1 (promiscuous) receives.
func (s *System) nictestPair(p *sh.Proc, n int, timeout time.Duration) error {
	tx, err := s.ixgbePort(IxgbePrefix + "0")
	if err != nil {
		return err
	}
	rx, err := s.ixgbePort(IxgbePrefix + "1")
	if err != nil {
		return fmt.Errorf("-pair needs two ports: %w", err)
	}
	if tx.model != nil || rx.model != nil {
		return fmt.Errorf("-pair needs two cabled 82599 ports: %s is %s and %s is %s, and the model's instances cannot be cabled to each other (nictest without -pair tests a port in MAC loopback)",
			tx.name, tx.where, rx.name, rx.where)
	}
	p.Printf("nictest: %s, %s -> %s, %s: cable pair, %d frames, timeout %v\n", tx.name, tx.where, rx.name, rx.where, n, timeout)
	heap := s.m.Kernel().Heap()
	for _, port := range []*ixgbePort{tx, rx} {
		if err := port.quiesce(heap); err != nil {
			return err
		}
	}
	return selfTest(p, heap, tx, rx, n, timeout)
}
