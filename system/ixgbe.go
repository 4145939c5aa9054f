package system

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/bench"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
	"github.com/rlgo/redleaf/system/sh"
)

// The ixgbe ports: each an ixgbe driver domain (drivers/ixgbe) behind a
// shadow, named IxgbePrefix and its number (ixgbe0, ixgbe1), over a real
// 82599-family function taken from Linux when the machine has one, and
// over an instance of the 82599 model (drivers/ixgbe/model) otherwise:
// always in QEMU, which has no 82599. The model generates traffic into
// the RX ring of a port and sinks what is sent, so benchnet, fwd and
// pktgen run anywhere.
//
// The ports start on the first use of a command that needs them
// (benchnet, fwd, pktgen, and ifconfig through writeIxgbeIfconfig), not at
// boot: the models' DMA memory and the bring-up cost nothing to a system
// that never uses them.

// IxgbePrefix is the prefix of the ixgbe ports' domain names.
const IxgbePrefix = "ixgbe"

// IxgbeModelPorts is how many ports the model provides when the machine
// has no 82599: two, so fwd forwards between ports.
const IxgbeModelPorts = 2

// DefaultIxgbeDeadline is the per-call deadline of the kernel's
// capabilities to the ixgbe ports: a call that does not return within it
// (an injected loop) fails the domain; it is long enough for the shadow to
// bring up a new instance (a reset, 10 ms, and the rings) inside the call
// it retries.
const DefaultIxgbeDeadline = 15 * time.Second

// ixgbeDeadline is the deadline the ports are started with (tests
// shorten it).
var ixgbeDeadline = DefaultIxgbeDeadline

// ixgbeModelRAM is the DMA memory of one model port: the driver's 512-entry
// RX and TX rings of 2 KiB buffers need about 2 MiB of it.
const ixgbeModelRAM = 4 << 20

// ixgbeConfig is what the ports are brought up with: one queue pair of
// RedLeaf's 512-entry rings.
var ixgbeConfig = ixgbe.Config{Queues: 1, RingSize: 512}

// An ixgbePort is one ixgbe driver domain and the kernel's capabilities
// to it.
type ixgbePort struct {
	name  string       // the domain's name, ixgbe0
	where string       // "82599 model (8086:10fb)", "0000:03:00.0 (8086:10fb)"
	model *model.Model // nil: a real NIC
	guard *shadow.Guard
	mode  *ixgbe.Mode // the kernel's loopback switch, read by each instance as it starts (nictest)
	// ctl is the kernel's shadow capability with ixgbeDeadline: every
	// call runs on a kernel worker, so a domain that never returns is failed
	// and the command gets control back. Control calls and the forwarding
	// and generating loops use it.
	ctl idl.Net
	// fast is a shadow capability without a deadline: the call runs on the
	// caller's thread, as an application's would (RedLeaf's "through a
	// shadow"). benchnet measures both.
	fast idl.Net
}

// ixgbePorts is the system's set of ports, started once.
type ixgbePorts struct {
	mu    sync.Mutex
	ports []*ixgbePort // nil until started; guarded by mu
	err   error        // why they could not start; guarded by mu
}

// ixgbe is the system's ports.
func (s *System) ixgbe() *ixgbePorts {
	return &s.ixgbePorts
}

// ixgbeStart starts the ixgbe ports if they are not running yet and
// returns them. A failure is remembered: the next command reports it
// without trying again.
func (s *System) ixgbeStart() ([]*ixgbePort, error) {
	st := s.ixgbe()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ports != nil || st.err != nil {
		return st.ports, st.err
	}
	ports, found := s.bindRealIxgbe()
	if len(ports) == 0 {
		why := "no 82599 on the machine"
		if found > 0 {
			why = "the machine's 82599 could not be taken from Linux"
		}
		for i := range IxgbeModelPorts {
			p, err := s.startModelIxgbe(i, why)
			if err != nil {
				st.err = fmt.Errorf("%s: %w", IxgbePrefix, err)
				return nil, st.err
			}
			ports = append(ports, p)
		}
	}
	st.ports = ports
	return ports, nil
}

// ixgbeFunctions are the 82599-family functions on the PCI bus, in bus
// order, at most two (the two ports of an X520-DA2).
func (s *System) ixgbeFunctions() []pci.Device {
	if s.bus == nil {
		return nil
	}
	devs, err := s.bus.Scan()
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.logf("%s: scanning PCI: %v", IxgbePrefix, err)
		}
		return nil
	}
	var nics []pci.Device
	for _, d := range devs {
		if _, ok := ixgbe.Lookup(d.Vendor, d.DeviceID); ok && len(nics) < 2 {
			nics = append(nics, d)
		}
	}
	return nics
}

// bindRealIxgbe takes the machine's 82599-family functions from Linux
// (the first two) and starts a port on each. It returns the ports it
// started and how many functions it found; no ports when the machine has
// no such NIC or none could be taken (the model then stands in, and the
// log says why).
func (s *System) bindRealIxgbe() ([]*ixgbePort, int) {
	var ports []*ixgbePort
	funcs := s.ixgbeFunctions()
	for _, d := range funcs {
		name := fmt.Sprintf("%s%d", IxgbePrefix, len(ports))
		p, err := s.bindIxgbe(name, d)
		if err != nil {
			s.logf("%s: %s (%04x:%04x): %v; carrying on without it", name, d.Addr, d.Vendor, d.DeviceID, err)
			continue
		}
		ports = append(ports, p)
	}
	return ports, len(funcs)
}

// bindIxgbe takes the function d from Linux and starts the port name on
// it, as bindNVMe does for a controller.
func (s *System) bindIxgbe(name string, d pci.Device) (*ixgbePort, error) {
	f, err := s.takeFromLinux(d, s.opts.DMA)
	if err != nil {
		return nil, err
	}
	m, _ := ixgbe.Lookup(d.Vendor, d.DeviceID)
	p, err := s.startIxgbe(name, hw.PCIDevice(f), nil, fmt.Sprintf("%s (%04x:%04x, %s)", d.Addr, d.Vendor, d.DeviceID, m.Name))
	if err != nil {
		return nil, fmt.Errorf("%w (the NIC is no longer Linux's)", err)
	}
	s.drive(d.Addr, name)
	s.logf("%s: %s (%04x:%04x) taken from %s: domain %s (shadowed)", name, d.Addr, d.Vendor, d.DeviceID, linuxDriver(d), name)
	return p, nil
}

// startModelIxgbe starts port i over a new instance of the 82599 model;
// why says why there is no real one.
func (s *System) startModelIxgbe(i int, why string) (*ixgbePort, error) {
	m := model.New(model.Config{
		RAM:    ixgbeModelRAM,
		Queues: ixgbeConfig.Queues,
		MAC:    [6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, byte(i)}, // locally administered
	})
	m.Capture(false) // what a port sends goes nowhere: the model only counts it
	name := fmt.Sprintf("%s%d", IxgbePrefix, i)
	vendor, device := m.IDs()
	p, err := s.startIxgbe(name, m, m, fmt.Sprintf("82599 model (%04x:%04x)", vendor, device))
	if err != nil {
		return nil, err
	}
	s.logf("%s: %s: domain %s (shadowed) over the 82599 model", name, why, name)
	return p, nil
}

// startIxgbe starts the ixgbe domain name on dev behind a shadow, turns
// promiscuous mode on (the shadow replays it into every new instance) and
// adds it to the system's services.
func (s *System) startIxgbe(name string, dev hw.PCIDevice, m *model.Model, where string) (*ixgbePort, error) {
	mode := &ixgbe.Mode{}
	g, ctl, err := guarded[idl.Net](s, ixgbe.Kind, name, "", s.opts.Policy, ixgbeDeadline,
		domain.GrantDevice(ixgbe.GrantPCI, dev),
		domain.GrantDevice(ixgbe.GrantConfig, ixgbeConfig),
		domain.GrantDevice(ixgbe.GrantMode, mode),
		domain.GrantDevice(ixgbe.GrantFaults, s.inj.Device()))
	if err != nil {
		return nil, err
	}
	fast, err := domain.Connect[idl.Net](s.m.Kernel(), g)
	if err != nil {
		s.m.Kill(g.Current())
		return nil, fmt.Errorf("connecting to %s: %w", name, err)
	}
	if err := ctl.SetPromisc(true); err != nil {
		s.m.Kill(g.Current())
		return nil, fmt.Errorf("%s: promiscuous mode: %w", name, err)
	}
	p := &ixgbePort{name: name, where: where, model: m, guard: g, mode: mode, ctl: ctl, fast: fast}
	s.addService(&service{
		name:  name,
		guard: g,
		ping:  func() error { _, err := ctl.LinkStatus(); return err },
	})
	return p, nil
}

// ixgbePort returns the started port named name.
func (s *System) ixgbePort(name string) (*ixgbePort, error) {
	ports, err := s.ixgbeStart()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range ports {
		if p.name == name {
			return p, nil
		}
		names = append(names, p.name)
	}
	return nil, fmt.Errorf("no port %q (ports: %s)", name, strings.Join(names, ", "))
}

// writeIxgbeIfconfig writes ifconfig's stanza of each ixgbe port (starting
// them if need be): link, counters since the current instance came up,
// the instance and its restarts. For the ifconfig command.
func (s *System) writeIxgbeIfconfig(w io.Writer) error {
	ports, err := s.ixgbeStart()
	if err != nil {
		return err
	}
	for _, p := range ports {
		if err := p.writeIfconfig(w); err != nil {
			return err
		}
	}
	return nil
}

func (p *ixgbePort) writeIfconfig(w io.Writer) error {
	link, err := p.ctl.LinkStatus()
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	st, err := p.ctl.Stats()
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	speed := "speed unknown"
	if link.SpeedMbps != 0 {
		speed = fmt.Sprintf("%d Mbit/s", link.SpeedMbps)
	}
	fmt.Fprintf(w, "%s: %s %s link %s, %s, promiscuous; instance #%d, restarts %d\n",
		p.name, p.where, macString(link.MAC), upDown(link.Up), speed, p.guard.Current().ID(), p.guard.Restarts())
	fmt.Fprintf(w, "  rx %d packets, %d bytes, %d errors, %d missed\n", st.RxPackets, st.RxBytes, st.RxErrors, st.RxMissed)
	fmt.Fprintf(w, "  tx %d packets, %d bytes, %d errors\n", st.TxPackets, st.TxBytes, st.TxErrors)
	return nil
}

// testFrame is a frame of size bytes from src: broadcast, the local
// experimental EtherType (0x88b5), a sequence number and a pattern.
func testFrame(src [6]byte, size int, seq uint32) []byte {
	f := make([]byte, size)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x88b5)
	binary.BigEndian.PutUint32(f[14:], seq)
	for i := 18; i < size; i++ {
		f[i] = byte(i)
	}
	return f
}

// forever is the duration of a run limited by a packet count only.
const forever = time.Duration(1<<63 - 1)

// Frame sizes the commands take (without the CRC the NIC appends).
const (
	minFrame = 60
	maxFrame = idl.MaxFrame
)

// generate makes p's model deliver frames of size bytes into every free RX
// descriptor (nothing on a real NIC, whose traffic is the wire's).
func (p *ixgbePort) generate(size int) {
	if p.model != nil {
		p.model.Generate(0, testFrame([6]byte{0x02, 0, 0, 0, 0, 1}, size, 0))
	}
}

// quiesce stops p's model generating and drops what the RX ring holds,
// so that a command starts and leaves the port empty and its counters
// account for its own packets only.
func (p *ixgbePort) quiesce(heap *rref.Account) error {
	if p.model != nil {
		p.model.Generate(0, nil)
	}
	q := packetDeque(heap, idl.NetBatch)
	defer func() { rref.DiscardDeque(q) }()
	for range 64 {
		var n int
		var err error
		if q, n, err = p.ctl.RxBatch(0, q); err != nil {
			return fmt.Errorf("%s: emptying the RX ring: %w", p.name, err)
		}
		if n == 0 {
			return nil
		}
		clearPackets(q)
	}
	return nil
}

// packetDeque is a deque of n free packet buffers on heap.
func packetDeque(heap *rref.Account, n int) rref.Deque[idl.Packet] {
	q := rref.NewDeque[idl.Packet](heap, n)
	for range n {
		q.PushBack(rref.New(heap, idl.Packet{}))
	}
	return q
}

// clearPackets frees every buffer of q (Len 0).
func clearPackets(q rref.Deque[idl.Packet]) {
	for range q.Len() {
		r, _ := q.PopFront()
		r.Get().Len = 0
		q.PushBack(r)
	}
}

// netFlags are the flags benchnet, fwd and pktgen share.
type netFlags struct {
	fs    *flag.FlagSet
	dur   time.Duration
	count uint64
	size  int
}

func newNetFlags(p *sh.Proc, line string, dur time.Duration) *netFlags {
	f := &netFlags{fs: flag.NewFlagSet(p.Name(), flag.ContinueOnError)}
	f.fs.SetOutput(p.Stderr)
	f.fs.Usage = func() {
		fmt.Fprintf(p.Stderr, "usage: %s\n", line)
		f.fs.PrintDefaults()
	}
	f.fs.DurationVar(&f.dur, "t", dur, "how long to run")
	f.fs.Uint64Var(&f.count, "n", 0, "stop after this many packets (0: no limit)")
	f.fs.IntVar(&f.size, "size", minFrame, fmt.Sprintf("frame size in bytes, without the CRC (%d..%d)", minFrame, maxFrame))
	return f
}

// parse parses the arguments and checks the shared flags.
func (f *netFlags) parse(p *sh.Proc) bool {
	if err := f.fs.Parse(p.Args[1:]); err != nil {
		return false
	}
	if f.fs.NArg() != 0 {
		p.Errorf("unexpected argument %q", f.fs.Arg(0))
		f.fs.Usage()
		return false
	}
	if f.dur <= 0 && f.count == 0 {
		p.Errorf("-t and -n are both zero: it would never end")
		return false
	}
	if f.dur <= 0 {
		f.dur = forever
	}
	if f.size < minFrame || f.size > maxFrame {
		p.Errorf("bad frame size %d: want %d..%d", f.size, minFrame, maxFrame)
		return false
	}
	return true
}

// parseBatches parses a comma-separated list of batch sizes.
func parseBatches(s string) ([]int, error) {
	var bs []int
	for f := range strings.SplitSeq(s, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 || b > idl.NetBatch {
			return nil, fmt.Errorf("bad batch size %q: want 1..%d", f, idl.NetBatch)
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// source says where a port's received traffic comes from.
func (p *ixgbePort) source(size int) string {
	if p.model != nil {
		return fmt.Sprintf("%d-byte frames generated by its model", size)
	}
	return "the traffic arriving on the wire"
}

// benchNetUsage is benchnet's command line.
const benchNetUsage = "benchnet [-t DURATION] [-n COUNT] [-size BYTES] [-batch 1,32,256] [-port ixgbe0] [-path shadow,deadline]"

// cmdBenchNet measures the packet rate of an ixgbe port: forward from its
// RX queue to its TX queue (bench.Forward) at each batch size, through the
// kernel's shadow capabilities.
func (s *System) cmdBenchNet(ctx context.Context, p *sh.Proc) int {
	f := newNetFlags(p, benchNetUsage, time.Second)
	batches := f.fs.String("batch", "1,32,256", "the batch sizes, comma-separated")
	port := f.fs.String("port", IxgbePrefix+"0", "the port")
	paths := f.fs.String("path", "shadow,deadline", "the capabilities measured: shadow (a shadow, called on this thread), deadline (a shadow with a deadline: each call on a kernel worker)")
	if !f.parse(p) {
		return statusUsage
	}
	bs, err := parseBatches(*batches)
	if err != nil {
		p.Errorf("%v", err)
		return statusUsage
	}
	var ways []string
	for w := range strings.SplitSeq(*paths, ",") {
		if w != "shadow" && w != "deadline" {
			p.Errorf("bad path %q: want shadow or deadline", w)
			return statusUsage
		}
		ways = append(ways, w)
	}
	port0, err := s.ixgbePort(*port)
	if err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	heap := s.m.Kernel().Heap()
	if err := port0.quiesce(heap); err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	limit := fmt.Sprintf("%v per batch size", f.dur)
	if f.count > 0 {
		limit = fmt.Sprintf("at most %v or %d packets per batch size", f.dur, f.count)
	}
	p.Printf("benchnet: %s, %s: RX queue 0 -> TX queue 0, %s; %s\n", port0.name, port0.where, port0.source(f.size), limit)
	if port0.model != nil {
		p.Printf("the model runs on the caller's thread: its cost is in the figures\n")
	}
	status := statusOK
	for _, way := range ways {
		if ctx.Err() != nil {
			break
		}
		nic, what := port0.fast, "through its shadow (no deadline: calls on this thread)"
		if way == "deadline" {
			nic, what = port0.ctl, fmt.Sprintf("through its shadow with a %v deadline (calls on a kernel worker)", ixgbeDeadline)
		}
		port0.generate(f.size)
		rs, err := bench.Forward(heap, nic, bench.Options{Batches: bs, Duration: f.dur, Packets: f.count})
		if qerr := port0.quiesce(heap); err == nil {
			err = qerr
		}
		p.Printf("%s:\n", what)
		bench.WriteTable(p.Stdout, rs)
		if err != nil {
			p.Errorf("%v", err)
			status = statusError
			break
		}
	}
	if ctx.Err() != nil {
		p.Errorf("interrupted")
		return statusError
	}
	return status
}

// fwdUsage is fwd's command line.
const fwdUsage = "fwd [-t DURATION] [-n COUNT] [-size BYTES] [-batch 32] [-from ixgbe0] [-to ixgbe1] [-i INTERVAL] [-inject NAME:KIND -at DURATION]"

// fwdOptions are fwd's flags.
type fwdOptions struct {
	*netFlags
	batch    int
	from, to string
	interval time.Duration
	inject   string // "" or NAME:KIND
	at       time.Duration
}

func parseFwd(p *sh.Proc) (fwdOptions, bool) {
	o := fwdOptions{netFlags: newNetFlags(p, fwdUsage, 2*time.Second)}
	fs := o.fs
	fs.IntVar(&o.batch, "batch", 32, fmt.Sprintf("the batch size (1..%d)", idl.NetBatch))
	fs.StringVar(&o.from, "from", IxgbePrefix+"0", "the port packets are received on")
	fs.StringVar(&o.to, "to", "", "the port they are sent on (default: the last port, ixgbe1 on the model)")
	fs.DurationVar(&o.interval, "i", time.Second, "print the rate every interval (0: never)")
	fs.StringVar(&o.inject, "inject", "", "arm a fault in a domain at -at: NAME:KIND, KIND one of "+strings.Join(faults.Kinds(), ", ")+" (the monitor runs one command at a time: an inject typed while fwd runs waits for it)")
	fs.DurationVar(&o.at, "at", 0, "when -inject arms its fault (default: a third of -t)")
	if !o.parse(p) {
		return o, false
	}
	if o.batch < 1 || o.batch > idl.NetBatch {
		p.Errorf("bad batch size %d: want 1..%d", o.batch, idl.NetBatch)
		return o, false
	}
	if o.inject != "" {
		name, kind, ok := strings.Cut(o.inject, ":")
		if !ok || name == "" || !faults.IsKind(kind) {
			p.Errorf("bad -inject %q: want NAME:KIND, KIND one of %s", o.inject, strings.Join(faults.Kinds(), ", "))
			return o, false
		}
		if o.at <= 0 {
			o.at = o.dur / 3
		}
	}
	return o, true
}

// wire is what a model saw at its wire, for fwd's and pktgen's accounts.
type wire struct{ delivered, sent uint64 }

func (p *ixgbePort) wire() wire {
	if p.model == nil {
		return wire{}
	}
	c := p.model.Counters()
	return wire{c.Delivered, c.Sent}
}

// cmdFwd forwards packets from one port to another, through the kernel's
// shadow capabilities, and prints the rate every interval and the
// counters at the end. On the model the first port's model generates the
// traffic and the second's sinks it; the packets lost (delivered into the
// RX ring of an instance that then died) are counted.
func (s *System) cmdFwd(ctx context.Context, p *sh.Proc) int {
	o, ok := parseFwd(p)
	if !ok {
		return statusUsage
	}
	if o.to == "" {
		ports, err := s.ixgbeStart()
		if err != nil {
			p.Errorf("%v", err)
			return statusError
		}
		o.to = ports[len(ports)-1].name
	}
	from, err := s.ixgbePort(o.from)
	if err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	to, err := s.ixgbePort(o.to)
	if err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	return s.forward(ctx, p, o, from, to)
}

// fwdRun is the state of one fwd.
type fwdRun struct {
	received, sent uint64 // by the loop: RxBatch and TxBatch counts
	held           int    // packets in the deque, received and not yet sent
	lostHeld       uint64 // packets in deques a failed call took
	errors         int
}

func (s *System) forward(ctx context.Context, p *sh.Proc, o fwdOptions, from, to *ixgbePort) int {
	heap := s.m.Kernel().Heap()
	for _, port := range []*ixgbePort{from, to} {
		if err := port.quiesce(heap); err != nil {
			p.Errorf("%v", err)
			return statusError
		}
	}
	sink := "sent on " + to.name
	if to.model != nil {
		sink += ", sunk by its model"
	}
	p.Printf("fwd: %s -> %s, batch %d, %s; %s; %s\n", from.name, to.name, o.batch, from.source(o.size), sink, limitString(o.netFlags))
	w0, w1 := from.wire(), to.wire()
	restarts0, restarts1 := from.guard.Restarts(), to.guard.Restarts()
	inst0, inst1 := from.guard.Current().ID(), to.guard.Current().ID()

	var r fwdRun
	q := packetDeque(heap, o.batch)
	defer func() { rref.DiscardDeque(q) }()
	// step moves one batch: receive into the free buffers, send what the
	// deque holds. A failed call that took the deque with it (one that
	// missed its deadline) loses what it held; a new deque replaces it.
	step := func() error {
		var n, k int
		var err error
		q, n, err = from.ctl.RxBatch(0, q)
		if err == nil {
			r.received += uint64(n)
			r.held += n
			if r.held > 0 {
				q, k, err = to.ctl.TxBatch(0, q)
				r.sent += uint64(k)
				r.held -= k
			}
		}
		if err != nil {
			r.errors++
			if !q.Valid() {
				r.lostHeld += uint64(r.held)
				r.held = 0
				q = packetDeque(heap, o.batch)
			}
		}
		return err
	}

	from.generate(o.size)
	interval := o.interval
	if interval > 0 {
		p.Printf("%8s %12s %10s\n", "TIME", "FORWARDED", "Mpps")
	}
	start := time.Now()
	nextReport, lastSent := interval, uint64(0)
	injected, sentAtInject := false, uint64(0)
	var elapsed time.Duration
	status := statusOK
	for calls := 0; ; calls++ {
		if err := step(); err != nil {
			p.Errorf("%v", err)
			if r.errors >= 3 {
				status = statusError
				break
			}
		}
		if o.count > 0 && r.sent >= o.count {
			break
		}
		if calls%64 != 0 {
			continue
		}
		elapsed = time.Since(start)
		if interval > 0 && elapsed >= nextReport {
			p.Printf("%7.2fs %12d %10.3f\n", elapsed.Seconds(), r.sent-lastSent, float64(r.sent-lastSent)/interval.Seconds()/1e6)
			lastSent = r.sent
			nextReport += interval
		}
		if o.inject != "" && !injected && elapsed >= o.at {
			name, kind, _ := strings.Cut(o.inject, ":")
			injected, sentAtInject = true, r.sent
			if err := s.Inject(name, kind); err != nil {
				p.Errorf("-inject: %v", err)
			} else {
				p.Printf("fwd: armed %s in %s at %.2fs, after %d packets\n", kind, name, elapsed.Seconds(), r.sent)
			}
		}
		if elapsed >= o.dur || ctx.Err() != nil {
			break
		}
	}
	elapsed = time.Since(start)
	timed := r.sent

	// Stop the source and forward what is still in the RX ring and the
	// deque: after that, whatever the first port's model delivered and
	// the second's did not send was lost.
	if from.model != nil {
		from.model.Generate(0, nil)
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
	if ctx.Err() != nil {
		p.Errorf("interrupted")
		status = statusError
	}

	p.Printf("fwd: forwarded %d packets in %.2fs: %.3f Mpps, %.0f ns/packet\n",
		timed, elapsed.Seconds(), float64(timed)/elapsed.Seconds()/1e6, float64(elapsed.Nanoseconds())/float64(max(timed, 1)))
	for _, x := range []struct {
		port     *ixgbePort
		restarts int
		inst     domain.ID
	}{{from, restarts0, inst0}, {to, restarts1, inst1}} {
		if n := x.port.guard.Restarts() - x.restarts; n > 0 {
			p.Printf("fwd: %s: restarted by its shadow %d time(s) (instance #%d -> #%d), %s\n",
				x.port.name, n, x.inst, x.port.guard.Current().ID(), replayed(x.port.guard, n))
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
	if from.model != nil && to.model != nil {
		d0, d1 := from.wire(), to.wire()
		delivered, sent := d0.delivered-w0.delivered, d1.sent-w1.sent
		lost := int64(delivered) - int64(sent)
		p.Printf("fwd: wire: %s's model delivered %d, %s's model sent %d: lost %d", from.name, delivered, to.name, sent, lost)
		if lost > 0 {
			p.Printf(" (in the RX rings of failed instances, or in batches failed calls took)")
		}
		p.Printf("\n")
	}
	for _, port := range []*ixgbePort{from, to} {
		if err := port.writeIfconfig(p.Stdout); err != nil {
			p.Errorf("%v", err)
			status = statusError
		}
		if from == to {
			break
		}
	}
	return status
}

// replayed says how the last n restarts of g went: whether the new
// instances came up and got their configuration (the //idl:init calls)
// replayed.
func replayed(g *shadow.Guard, n int) string {
	log := g.Log()
	for _, r := range log[max(len(log)-n, 0):] {
		if r.Err != nil {
			return "restart failed: " + r.Err.Error()
		}
	}
	return "config replayed"
}

// pktgenUsage is pktgen's command line.
const pktgenUsage = "pktgen [-t DURATION] [-n COUNT] [-size BYTES] [-rate PPS] [-batch 32] [-port ixgbe0]"

// cmdPktgen sends frames on a port at a set rate (or as fast as it can)
// and prints the rate achieved and the counters.
func (s *System) cmdPktgen(ctx context.Context, p *sh.Proc) int {
	f := newNetFlags(p, pktgenUsage, time.Second)
	rate := f.fs.String("rate", "0", "packets per second, with an optional k or M suffix (0: as fast as the port takes them)")
	batch := f.fs.Int("batch", 32, fmt.Sprintf("the most packets per call (1..%d)", idl.NetBatch))
	portName := f.fs.String("port", IxgbePrefix+"0", "the port")
	if !f.parse(p) {
		return statusUsage
	}
	pps, err := parseRate(*rate)
	if err != nil {
		p.Errorf("%v", err)
		return statusUsage
	}
	if *batch < 1 || *batch > idl.NetBatch {
		p.Errorf("bad batch size %d: want 1..%d", *batch, idl.NetBatch)
		return statusUsage
	}
	port, err := s.ixgbePort(*portName)
	if err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	return s.pktgen(ctx, p, port, f, pps, *batch)
}

// parseRate parses a packet rate: 250000, 250k, 1.5M.
func parseRate(s string) (float64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad rate %q: want packets per second, as 250000, 250k or 1.5M", s)
	}
	return v * mult, nil
}

func (s *System) pktgen(ctx context.Context, p *sh.Proc, port *ixgbePort, f *netFlags, pps float64, batch int) int {
	heap := s.m.Kernel().Heap()
	target := "as fast as the port takes them"
	if pps > 0 {
		target = fmt.Sprintf("at %.0f packets/s", pps)
	}
	p.Printf("pktgen: %s, %s: %d-byte frames, batch %d, %s; %v\n", port.name, port.where, f.size, batch, target, limitString(f))
	before, err := port.ctl.Stats()
	if err != nil {
		p.Errorf("%s: %v", port.name, err)
		return statusError
	}
	w0 := port.wire()
	inst := port.guard.Current().ID()

	// The frame is written into every buffer once; a send sets only its
	// length and sequence number (the driver frees a buffer by zeroing
	// its length, not its data).
	frame := testFrame(macOf(port), f.size, 0)
	q := rref.NewDeque[idl.Packet](heap, batch)
	for range batch {
		r := rref.New(heap, idl.Packet{})
		copy(r.Get().Data[:], frame)
		q.PushBack(r)
	}
	defer func() { rref.DiscardDeque(q) }()

	var sent, seq uint64
	held := 0 // buffers holding a frame not yet sent
	start := time.Now()
	var elapsed time.Duration
	status := statusOK
	errs := 0
	for {
		elapsed = time.Since(start)
		if elapsed >= f.dur || f.count > 0 && sent >= f.count || ctx.Err() != nil {
			break
		}
		want := batch
		if pps > 0 {
			due := uint64(elapsed.Seconds()*pps) + 1
			if due <= sent+uint64(held) {
				// Ahead of the rate: wait for the next packet's time
				// (at most a millisecond, to see the end in time).
				next := time.Duration(float64(sent+uint64(held)) / pps * float64(time.Second))
				time.Sleep(min(next-elapsed, time.Millisecond))
				continue
			}
			want = int(min(uint64(batch), due-sent))
		}
		if f.count > 0 {
			want = int(min(uint64(want), f.count-sent))
		}
		// Fill free buffers until want frames are waiting.
		for i := 0; i < q.Len() && held < want; i++ {
			r, _ := q.PopFront()
			if pk := r.Get(); pk.Len == 0 {
				pk.Len = uint16(f.size)
				binary.BigEndian.PutUint32(pk.Data[14:], uint32(seq))
				seq++
				held++
			}
			q.PushBack(r)
		}
		var k int
		q, k, err = port.ctl.TxBatch(0, q)
		sent += uint64(k)
		held -= k
		if err != nil {
			p.Errorf("%v", err)
			if !q.Valid() {
				held = 0
				q = packetDeque(heap, batch)
			}
			if errs++; errs >= 3 {
				status = statusError
				break
			}
		}
	}
	elapsed = time.Since(start)
	if ctx.Err() != nil {
		p.Errorf("interrupted")
		status = statusError
	}
	mpps := float64(sent) / elapsed.Seconds() / 1e6
	p.Printf("pktgen: sent %d packets in %.2fs: %.3f Mpps, %.1f Mbit/s of frames", sent, elapsed.Seconds(), mpps, mpps*float64(f.size+4)*8)
	if pps > 0 {
		p.Printf(" (%.1f%% of the target)", 100*float64(sent)/elapsed.Seconds()/pps)
	}
	p.Printf("\n")
	after, err := port.ctl.Stats()
	if err != nil {
		p.Errorf("%s: %v", port.name, err)
		return statusError
	}
	if port.guard.Current().ID() == inst {
		p.Printf("pktgen: %s counted %d packets, %d bytes sent\n", port.name, after.TxPackets-before.TxPackets, after.TxBytes-before.TxBytes)
	} else {
		p.Printf("pktgen: %s was restarted (instance #%d -> #%d): its counters started again\n", port.name, inst, port.guard.Current().ID())
	}
	if port.model != nil {
		p.Printf("pktgen: its model took %d frames off the TX ring\n", port.wire().sent-w0.sent)
	}
	if err := port.writeIfconfig(p.Stdout); err != nil {
		p.Errorf("%v", err)
		status = statusError
	}
	return status
}

func limitString(f *netFlags) string {
	switch {
	case f.count > 0 && f.dur < forever:
		return fmt.Sprintf("%d packets or %v", f.count, f.dur)
	case f.count > 0:
		return fmt.Sprintf("%d packets", f.count)
	}
	return f.dur.String()
}

// macOf is the port's address, as its link status says (zero if the call
// fails: the frame's source address does not matter to the model).
func macOf(p *ixgbePort) [6]byte {
	l, _ := p.ctl.LinkStatus()
	return l.MAC
}
