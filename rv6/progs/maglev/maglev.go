//rl:domain

// Package maglev is Rv6's maglev: the Maglev load balancer (apps/maglev)
// between two NIC ports. It receives client packets on one port (-from,
// ixgbe0) in batches, picks each flow's backend through connection
// tracking and the 65537-entry lookup table (weights supported), rewrites
// the frame's destination MAC to the backend's and its source MAC to the
// sending port's, and sends it on the other port (-to, ixgbe1), in the
// packet buffers the drivers filled: nothing is copied or allocated per
// packet. Backends are on the sending port's Ethernet segment and hold the
// service address themselves (direct server return): the IP packet goes
// through untouched, so there is no encapsulation overhead, no MTU to
// lower and no checksum to fix (see docs/ARCHITECTURE.md for why not GRE).
//
// It drives the ports' driver domains itself, through the capabilities
// its spawner passed it: `grant nic:ixgbe0,nic:ixgbe1 maglev -b
// web1=02:00:00:00:00:01,web2=02:00:00:00:00:02/2`. While it runs it reads
// commands on its standard input (add, remove, weight, stats, quit; see
// control.go): a new table is filled by the reading thread while
// forwarding goes on, then swapped in between two batches, and tracked
// flows keep their backend if it is still there. It prints its counters
// when it ends (quit, end of input, -t or -n); a kill ends it at once,
// like SIGKILL, so -i prints them at intervals too.
package maglev

import (
	"fmt"
	"slices"
	"sort"
	"time"

	lb "github.com/rlgo/redleaf/apps/maglev"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "maglev -b NAME=MAC[/WEIGHT],... [-from ixgbe0] [-to ixgbe1] [-batch 32] [-t DURATION] [-n COUNT] [-i INTERVAL] [-m 65537] [-flows 65536] [-idle 1m]"

func init() { ulib.Register("maglev", main) }

// maxFlows bounds connection tracking: 4 Mi flows of 64 bytes, 256 MiB.
const maxFlows = 1 << 22

// options are maglev's flags.
type options struct {
	backends []lb.Backend
	from, to string
	batch    int
	dur      time.Duration // 0: until quit or end of input
	count    uint64        // 0: no limit
	interval time.Duration
	m        int
	flows    int
	idle     time.Duration
}

func parse(p *ulib.Proc) (options, bool) {
	f := cli.NewFlags()
	backends := f.String("b", "", "the backends: NAME=MAC[/WEIGHT],... (weight 1..1000, default 1)")
	from := f.String("from", "ixgbe0", "the port client packets arrive on")
	to := f.String("to", "ixgbe1", "the port packets go out to the backends on")
	batch := f.Int("batch", 32, fmt.Sprintf("the batch size (1..%d)", idl.NetBatch))
	dur := f.Duration("t", 0, "how long to run (0: until quit or the end of the input)")
	count := f.Uint64("n", 0, "stop after forwarding this many packets (0: no limit)")
	interval := f.Duration("i", 0, "print the counters every interval (0: never)")
	m := f.Int("m", lb.DefaultSize, "the lookup table's size, a prime (65537; 655373 for large pools)")
	flows := f.Int("flows", 1<<16, "how many flows connection tracking remembers (16..4194304; 64 bytes each)")
	idle := f.Duration("idle", time.Minute, "forget a flow idle for this long")
	rest, ok := cli.ParseFlags(p, p.Stderr, f, p.Args[1:], usage)
	if !ok {
		return options{}, false
	}
	o := options{from: *from, to: *to, batch: *batch, dur: *dur, count: *count, interval: *interval, m: *m, flows: *flows, idle: *idle}
	var err error
	switch {
	case len(rest) != 0:
		p.Errorf("unexpected argument %q", rest[0])
	case *backends == "":
		p.Errorf("no backends: give them with -b NAME=MAC[/WEIGHT],...")
	case o.batch < 1 || o.batch > idl.NetBatch:
		p.Errorf("bad batch size %d: want 1..%d", o.batch, idl.NetBatch)
	case o.dur < 0 || o.interval < 0:
		p.Errorf("bad -t %v or -i %v: want 0 or more", o.dur, o.interval)
	case o.flows < 16 || o.flows > maxFlows:
		p.Errorf("bad -flows %d: want 16..%d", o.flows, maxFlows)
	case o.idle <= 0:
		p.Errorf("bad -idle %v: want more than 0", o.idle)
	case o.from == "" || o.to == "":
		p.Errorf("-from and -to name ports, e.g. ixgbe0")
	default:
		if o.backends, err = lb.ParseBackends(*backends); err != nil {
			p.Errorf("-b: %v", err)
			break
		}
		return o, true
	}
	p.Printf("usage: %s\n", usage)
	return o, false
}

// openNet imports port name's driver (capability nic:NAME).
func openNet(p *ulib.Proc, name string) (idl.Net, error) {
	c := idl.CapNICPrefix + name
	if !p.Holds(c) {
		return nil, fmt.Errorf("%s: this process was not given port %s; run it as `grant %s,... maglev ...` from the console's login shell", name, name, c)
	}
	n, err := ulib.Cap[idl.Net](p, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func main(p *ulib.Proc) int {
	o, ok := parse(p)
	if !ok {
		return ulib.StatusUsage
	}
	table, err := lb.NewTable(o.m, o.backends)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusUsage
	}
	in, err := openNet(p, o.from)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	out := in
	if o.to != o.from {
		if out, err = openNet(p, o.to); err != nil {
			p.Errorf("%v", err)
			return ulib.StatusError
		}
	}
	link, err := out.LinkStatus()
	if err != nil {
		p.Errorf("%s: %v", o.to, err)
		return ulib.StatusError
	}
	r := &run{
		o: o, in: in, out: out,
		b:        lb.NewBalancer(table, lb.NewTracker(o.flows, o.idle), link.MAC),
		macs:     map[string][6]byte{},
		controls: make(chan control),
		done:     make(chan struct{}),
	}
	r.noteBackends(o.backends)
	r.ports = lb.NewPorts(r.b, p.Heap(), in, out, o.batch)
	defer r.ports.Close()
	return r.forward(p)
}

// run is one maglev's state, owned by the forwarding thread.
type run struct {
	o       options
	in, out idl.Net
	b       *lb.Balancer
	ports   *lb.Ports
	// macs are the addresses of every backend ever used, by name, for
	// the stats of removed ones.
	macs    map[string][6]byte
	removed []string // names removed, in order, once each

	controls chan control  // from the control thread
	done     chan struct{} // closed when forwarding ends
	start    time.Time
}

func (r *run) noteBackends(bs []lb.Backend) {
	for _, b := range bs {
		r.macs[b.Name] = b.MAC
	}
}

func (r *run) forward(p *ulib.Proc) int {
	o := r.o
	in0, _ := r.in.Stats()
	out0, _ := r.out.Stats()
	p.Printf("maglev: %s -> %s, batch %d, %d backends, table of %d entries, conntrack %d flows (idle %v); %s\n",
		o.from, o.to, o.batch, len(o.backends), r.b.Table().Size(), o.flows, o.idle, r.limit())
	p.Printf("maglev: commands on the input: add NAME MAC [WEIGHT], remove NAME, weight NAME WEIGHT, stats, quit\n")
	r.writeBackends(p)

	q := p.Fork()
	p.Go("maglev-control", func() { controlLoop(q, r.controls, r.done, o.m, o.backends) })
	defer close(r.done)

	r.start = time.Now()
	status := ulib.StatusOK
	nextReport, lastSent, lastAt := o.interval, uint64(0), time.Duration(0)
	idle := 0
loop:
	for calls := 0; ; calls++ {
		now := time.Since(r.start)
		k, err := r.ports.Step(now)
		if err != nil {
			p.Errorf("%v", err)
			if r.ports.Errors >= 3 {
				status = ulib.StatusError
				break loop
			}
		}
		if o.count > 0 && r.ports.Sent >= o.count {
			break
		}
		select {
		case c := <-r.controls:
			if !r.apply(p, c) {
				break loop
			}
		default:
		}
		// A poll-mode loop: it spins while packets come; after 1024 empty
		// batches in a row it yields the CPU a little between polls.
		if k == 0 {
			if idle++; idle >= 1024 {
				p.Sleep(50 * time.Microsecond)
			}
		} else {
			idle = 0
		}
		if calls%64 != 0 {
			continue
		}
		if o.interval > 0 && now >= nextReport {
			// The rate is over the time since the last line, which may be
			// longer than the interval on a busy machine; missed lines are
			// skipped, not caught up.
			sent := r.ports.Sent
			p.Printf("maglev: %7.2fs forwarded %d (%.3f Mpps), dropped %d, conntrack hits %d misses %d\n",
				now.Seconds(), sent-lastSent, float64(sent-lastSent)/(now-lastAt).Seconds()/1e6, r.b.Dropped, r.b.Tracker().Hits, r.b.Tracker().Misses)
			lastSent, lastAt = sent, now
			nextReport = now + o.interval
		}
		if o.dur > 0 && now >= o.dur {
			break
		}
	}
	r.writeStats(p)
	for _, x := range []struct {
		name   string
		n      idl.Net
		before idl.NetStats
	}{{o.from, r.in, in0}, {o.to, r.out, out0}} {
		st, err := x.n.Stats()
		if err != nil {
			p.Errorf("%s: %v", x.name, err)
			status = ulib.StatusError
			continue
		}
		p.Printf("maglev: %s: rx %d packets, %d missed; tx %d packets (during this run)\n", x.name,
			st.RxPackets-x.before.RxPackets, st.RxMissed-x.before.RxMissed, st.TxPackets-x.before.TxPackets)
		if o.from == o.to {
			break
		}
	}
	return status
}

func (r *run) limit() string {
	switch {
	case r.o.count > 0 && r.o.dur > 0:
		return fmt.Sprintf("until %d packets or %v", r.o.count, r.o.dur)
	case r.o.count > 0:
		return fmt.Sprintf("until %d packets", r.o.count)
	case r.o.dur > 0:
		return fmt.Sprintf("for %v", r.o.dur)
	}
	return "until quit or the end of the input"
}

// apply carries out a command from the control thread; false ends the
// run.
func (r *run) apply(p *ulib.Proc, c control) bool {
	switch {
	case c.quit:
		if c.eof && (r.o.dur > 0 || r.o.count > 0) {
			return true // the input ended; -t or -n ends the run
		}
		return false
	case c.stats:
		r.writeStats(p)
	case c.table != nil:
		start := time.Now()
		r.noteBackends(c.backends)
		r.b.SetTable(c.table)
		if c.removed != "" && !slices.Contains(r.removed, c.removed) {
			r.removed = append(r.removed, c.removed)
		}
		p.Printf("maglev: %s: %d backends, table switched in %v after %d packets\n", c.what, len(c.backends), time.Since(start).Round(time.Microsecond), r.ports.Sent)
	}
	return true
}

// writeBackends lists the current backends: weight, table entries, and
// packets so far.
func (r *run) writeBackends(p *ulib.Proc) {
	t := r.b.Table()
	counts := r.b.Counts()
	entries := t.Counts()
	p.Printf("%-12s %-17s %6s %8s %7s %12s\n", "BACKEND", "MAC", "WEIGHT", "ENTRIES", "SHARE", "PACKETS")
	for i, be := range t.Backends() {
		p.Printf("%-12s %-17s %6d %8d %6.2f%% %12d\n", be.Name, lb.FormatMAC(be.MAC), be.Weight, entries[i],
			100*float64(entries[i])/float64(t.Size()), counts[be.Name])
	}
	gone := append([]string(nil), r.removed...)
	sort.Strings(gone)
	for _, name := range gone {
		if _, back := r.index(name); back {
			continue
		}
		p.Printf("%-12s %-17s %6s %8d %6.2f%% %12d (removed)\n", name, lb.FormatMAC(r.macs[name]), "-", 0, 0.0, counts[name])
	}
}

// index says whether name is in the current table.
func (r *run) index(name string) (int, bool) {
	for i, be := range r.b.Table().Backends() {
		if be.Name == name {
			return i, true
		}
	}
	return 0, false
}

func (r *run) writeStats(p *ulib.Proc) {
	el := time.Since(r.start)
	s := r.ports.Sent
	p.Printf("maglev: forwarded %d packets in %.2fs: %.3f Mpps; received %d, dropped %d (not IPv4), lost %d, waiting %d\n",
		s, el.Seconds(), float64(s)/el.Seconds()/1e6, r.ports.Received, r.b.Dropped, r.ports.Lost, r.ports.Held())
	t := r.b.Tracker()
	p.Printf("maglev: conntrack: %d hits, %d misses, %d evictions\n", t.Hits, t.Misses, t.Evictions)
	r.writeBackends(p)
}
