//rl:domain

// Package fwd is Rv6's fwd: it forwards packets from one ixgbe port to
// another (on the 82599 model, one port's model generates them and the
// other's sinks them) for a duration or a number of packets, and prints
// the rate, the ports' counters and the packets lost. It drives the ports'
// driver domains itself, through the capabilities its spawner passed it
// (`grant nic fwd` at the console's login shell). -inject arms a fault in a
// driver during the run, to watch its shadow recover it: that changes the
// system, so it needs the admin capability too (`grant nic,admin fwd
// -inject ixgbe0:panic`). fwd -h lists the flags.
package fwd

import (
	"fmt"
	"strings"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/progs/internal/nic"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "fwd [-t DURATION] [-n COUNT] [-size BYTES] [-batch 32] [-from ixgbe0] [-to ixgbe1] [-i INTERVAL] [-inject NAME:KIND -at DURATION]"

func init() { ulib.Register("fwd", main) }

// options are fwd's flags.
type options struct {
	*nic.Flags
	batch    int
	from, to string
	interval time.Duration
	inject   string // "" or NAME:KIND
	at       time.Duration
}

func parse(p *ulib.Proc) (options, bool) {
	o := options{Flags: nic.NewFlags(usage, 2*time.Second)}
	batch := o.Int("batch", 32, fmt.Sprintf("the batch size (1..%d)", idl.NetBatch))
	from := o.String("from", "ixgbe0", "the port packets are received on")
	to := o.String("to", "", "the port they are sent on (default: the last port this process holds)")
	interval := o.Duration("i", time.Second, "print the rate every interval (0: never)")
	inject := o.String("inject", "", "arm a fault in a domain at -at: NAME:KIND (needs the admin capability)")
	at := o.Duration("at", 0, "when -inject arms its fault (default: a third of -t)")
	if !o.Parse(p) {
		return o, false
	}
	o.batch, o.from, o.to, o.interval, o.inject, o.at = *batch, *from, *to, *interval, *inject, *at
	if o.batch < 1 || o.batch > idl.NetBatch {
		p.Errorf("bad batch size %d: want 1..%d", o.batch, idl.NetBatch)
		return o, false
	}
	if o.inject != "" {
		if name, kind, ok := strings.Cut(o.inject, ":"); !ok || name == "" || kind == "" {
			p.Errorf("bad -inject %q: want NAME:KIND", o.inject)
			return o, false
		}
		if o.at <= 0 {
			o.at = *o.Dur / 3
		}
	}
	return o, true
}

func main(p *ulib.Proc) int {
	o, ok := parse(p)
	if !ok {
		return ulib.StatusUsage
	}
	if o.to == "" {
		names := nic.Names(p)
		if len(names) == 0 {
			p.Errorf("this process was not given any port: run it as `grant nic fwd ...` from the console's login shell")
			return ulib.StatusError
		}
		o.to = names[len(names)-1]
	}
	var admin idl.Monitor
	if o.inject != "" {
		var err error
		if admin, err = ulib.Cap[idl.Monitor](p, ulib.CapAdmin); err != nil {
			p.Errorf("-inject arms a fault, which needs the admin capability: run it as `grant nic,admin fwd ...` from the console's login shell")
			return ulib.StatusError
		}
	}
	from, err := nic.Open(p, o.from)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	to := from
	if o.to != o.from {
		if to, err = nic.Open(p, o.to); err != nil {
			p.Errorf("%v", err)
			return ulib.StatusError
		}
	}
	return forward(p, o, from, to, admin)
}

// run is the state of one fwd.
type run struct {
	received, sent uint64 // by the loop: RxBatch and TxBatch counts
	held           int    // packets in the deque, received and not yet sent
	lostHeld       uint64 // packets in deques a failed call took
	errors         int
}

func forward(p *ulib.Proc, o options, from, to *nic.Port, admin idl.Monitor) int {
	heap := p.Heap()
	for _, port := range []*nic.Port{from, to} {
		if err := port.Quiesce(heap); err != nil {
			p.Errorf("%v", err)
			return ulib.StatusError
		}
	}
	in0, in1 := from.Info(), to.Info()
	sink := "sent on " + to.Name
	if in1.Model {
		sink += ", sunk by its model"
	}
	p.Printf("fwd: %s -> %s, batch %d, %s; %s; %s\n", from.Name, to.Name, o.batch, from.Source(*o.Size), sink, o.Limit())

	var r run
	q := nic.PacketDeque(heap, o.batch)
	defer func() { rref.DiscardDeque(q) }()
	// step moves one batch: receive into the free buffers, send what the
	// deque holds. A failed call that took the deque with it loses what
	// it held; a new deque replaces it.
	step := func() error {
		var n, k int
		var err error
		q, n, err = from.Net.RxBatch(0, q)
		if err == nil {
			r.received += uint64(n)
			r.held += n
			if r.held > 0 {
				q, k, err = to.Net.TxBatch(0, q)
				r.sent += uint64(k)
				r.held -= k
			}
		}
		if err != nil {
			r.errors++
			if !q.Valid() {
				r.lostHeld += uint64(r.held)
				r.held = 0
				q = nic.PacketDeque(heap, o.batch)
			}
		}
		return err
	}

	from.Generate(*o.Size)
	if o.interval > 0 {
		p.Printf("%8s %12s %10s\n", "TIME", "FORWARDED", "Mpps")
	}
	start := time.Now()
	nextReport, lastSent := o.interval, uint64(0)
	injected, sentAtInject := false, uint64(0)
	var elapsed time.Duration
	status := ulib.StatusOK
	for calls := 0; ; calls++ {
		if err := step(); err != nil {
			p.Errorf("%v", err)
			if r.errors >= 3 {
				status = ulib.StatusError
				break
			}
		}
		if *o.Count > 0 && r.sent >= *o.Count {
			break
		}
		if calls%64 != 0 {
			continue
		}
		elapsed = time.Since(start)
		if o.interval > 0 && elapsed >= nextReport {
			p.Printf("%7.2fs %12d %10.3f\n", elapsed.Seconds(), r.sent-lastSent, float64(r.sent-lastSent)/o.interval.Seconds()/1e6)
			lastSent = r.sent
			nextReport += o.interval
		}
		if o.inject != "" && !injected && elapsed >= o.at {
			name, kind, _ := strings.Cut(o.inject, ":")
			injected, sentAtInject = true, r.sent
			res, err := admin.Run(ulib.JoinNul([]string{"inject", name, kind}))
			switch {
			case err != nil:
				p.Errorf("-inject: %v", err)
			case res.Status != 0:
				p.Errorf("-inject: %s", strings.TrimSpace(string(res.Out[:min(max(int(res.N), 0), len(res.Out))])))
			default:
				p.Printf("fwd: armed %s in %s at %.2fs, after %d packets\n", kind, name, elapsed.Seconds(), r.sent)
			}
		}
		if elapsed >= *o.Dur {
			break
		}
	}
	elapsed = time.Since(start)
	timed := r.sent

	// Stop the source and forward what is still in the RX ring and the
	// deque: after that, whatever the first port's model delivered and
	// the second's did not send was lost.
	if in0.Model {
		from.Ctl.Generate(0)
	}
	for range 64 {
		n := r.held
		before := r.received
		if err := step(); err != nil {
			p.Errorf("draining: %v", err)
			break
		}
		if r.received == before && n == 0 && r.held == 0 {
			break
		}
	}

	p.Printf("fwd: forwarded %d packets in %.2fs: %.3f Mpps, %.0f ns/packet\n",
		timed, elapsed.Seconds(), float64(timed)/elapsed.Seconds()/1e6, float64(elapsed.Nanoseconds())/float64(max(timed, 1)))
	out0, out1 := from.Info(), to.Info()
	for _, x := range []struct {
		name        string
		before, now idl.PortInfo
	}{{from.Name, in0, out0}, {to.Name, in1, out1}} {
		if n := x.now.Restarts - x.before.Restarts; n > 0 {
			p.Printf("fwd: %s: restarted by its shadow %d time(s) (instance #%d -> #%d), %s\n",
				x.name, n, x.before.Instance, x.now.Instance, x.now.LastRestart)
		}
		if from == to {
			break // one port: say it once
		}
	}
	if injected {
		p.Printf("fwd: %d packets forwarded after the fault was armed\n", timed-sentAtInject)
	}
	p.Printf("fwd: received %d, sent %d (after draining the rings)", r.received, r.sent)
	if r.lostHeld > 0 {
		p.Printf("; %d lost in batches that failed calls took", r.lostHeld)
	}
	p.Printf("\n")
	if in0.Model && in1.Model {
		delivered, sent := out0.Delivered-in0.Delivered, out1.Sent-in1.Sent
		lost := int64(delivered) - int64(sent)
		p.Printf("fwd: wire: %s's model delivered %d, %s's model sent %d: lost %d", from.Name, delivered, to.Name, sent, lost)
		if lost > 0 {
			p.Printf(" (in the RX rings of failed instances, or in batches failed calls took)")
		}
		p.Printf("\n")
	}
	for _, port := range []*nic.Port{from, to} {
		if err := port.WriteIfconfig(p); err != nil {
			p.Errorf("%v", err)
			status = ulib.StatusError
		}
		if from == to {
			break
		}
	}
	return status
}
