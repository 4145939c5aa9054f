//rl:domain

// Package blockbench measures a block device: 4 KiB reads and writes,
// sequential or random, in batches, with IOPS and per-batch latency
// percentiles. It drives an idl.BlockDevice (a driver domain through the
// kernel's capability, usually its shadow) and formats results as the
// benchnvme table; kernel/linuxblk produces the same Result for Linux's own
// driver, so both land in one table.
//
// The requests are allocated once per run and move to the device and back
// for every batch: the measured loop allocates nothing but the latency
// samples' slice growth.
package blockbench

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Op is what a test does.
type Op int

const (
	Read Op = iota
	Write
)

func (o Op) String() string {
	if o == Write {
		return "write"
	}
	return "read"
}

// Pattern is how a test picks its blocks.
type Pattern int

const (
	Sequential Pattern = iota
	Random
)

func (p Pattern) String() string {
	if p == Random {
		return "rand"
	}
	return "seq"
}

// A Region is a range of blocks: [Start, Start+Blocks).
type Region struct {
	Start, Blocks uint64
}

func (r Region) String() string {
	if r.Blocks == 0 {
		return "no blocks"
	}
	return fmt.Sprintf("blocks %d-%d", r.Start, r.Start+r.Blocks-1)
}

// A Spec is one test.
type Spec struct {
	Op      Op
	Pattern Pattern
	Batch   int    // requests per call (the queue depth for kernel/linuxblk)
	Region  Region // the blocks it may touch
	// The test stops after Duration or after Count requests, whichever
	// comes first; zero means no limit (one of them must be set).
	Duration time.Duration
	Count    int
	Seed     uint64 // for Random
}

// Name is the test's row label, e.g. "rand-read".
func (s Spec) Name() string { return s.Pattern.String() + "-" + s.Op.String() }

func (s Spec) check() error {
	switch {
	case s.Batch < 1 || s.Batch > idl.BlockDeviceBatch:
		return fmt.Errorf("blockbench: batch size %d is not in 1..%d", s.Batch, idl.BlockDeviceBatch)
	case s.Region.Blocks == 0:
		return errors.New("blockbench: an empty region")
	case s.Duration <= 0 && s.Count <= 0:
		return errors.New("blockbench: neither a duration nor a count")
	}
	return nil
}

// A Result is what one test measured.
type Result struct {
	Spec    Spec
	Device  string          // what was measured, e.g. "nvme" or "linux nvme1n1"
	IOs     int             // requests completed
	Elapsed time.Duration   // wall time of the whole test
	Lat     []time.Duration // one sample per batch (per request for linuxblk), sorted
	// PerRequest says a latency sample is one request's (Linux's driver,
	// one outstanding read per thread) rather than one batch's.
	PerRequest bool
}

// IOPS is requests per second.
func (r Result) IOPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.IOs) / r.Elapsed.Seconds()
}

// Percentile is the p-th percentile latency (0 < p <= 100), nearest rank.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	i := int(float64(len(r.Lat))*p/100+0.999999) - 1
	return r.Lat[max(0, min(i, len(r.Lat)-1))]
}

// A Picker yields the block of each request of a test.
type Picker struct {
	s    Spec
	next uint64
	rng  *rand.Rand
}

// NewPicker starts the block sequence of s.
func NewPicker(s Spec) *Picker {
	return &Picker{s: s, rng: rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))}
}

// Next is the next block: in order, wrapping at the region's end, or
// uniformly random in the region.
func (p *Picker) Next() uint64 {
	if p.s.Pattern == Random {
		return p.s.Region.Start + p.rng.Uint64N(p.s.Region.Blocks)
	}
	b := p.s.Region.Start + p.next
	p.next = (p.next + 1) % p.s.Region.Blocks
	return b
}

// Run runs test s on dev with requests allocated on heap (the caller's
// account: the kernel's for the kernel's capability). A request the device
// fails (a status other than BlockOK) or a call that fails ends the test
// with an error; a call a shadow recovered is just a slow batch.
func Run(dev idl.BlockDevice, heap *rref.Account, name string, s Spec) (Result, error) {
	res := Result{Spec: s, Device: name}
	if err := s.check(); err != nil {
		return res, err
	}
	q := rref.NewDeque[idl.BlockReq](heap, s.Batch)
	reqs := make([]rref.RRef[idl.BlockReq], s.Batch)
	for i := range reqs {
		reqs[i] = rref.New(heap, idl.BlockReq{})
		fillBlock(&reqs[i].Get().Data, uint64(i))
	}
	defer func() {
		for _, r := range reqs {
			if r.Valid() {
				r.Drop()
			}
		}
		rref.DiscardDeque(q)
	}()
	call := dev.Read
	if s.Op == Write {
		call = dev.Write
	}
	pick := NewPicker(s)
	expected := 1 << 12
	if s.Count > 0 {
		expected = s.Count/s.Batch + 1
	}
	res.Lat = make([]time.Duration, 0, min(expected, 1<<20))
	start := time.Now()
	var end time.Time
	if s.Duration > 0 {
		end = start.Add(s.Duration)
	}
	for {
		n := s.Batch
		if s.Count > 0 {
			if left := s.Count - res.IOs; left <= 0 {
				break
			} else if left < n {
				n = left
			}
		}
		for _, r := range reqs[:n] {
			r.Get().LBA = pick.Next()
			q.PushBack(r)
		}
		t0 := time.Now()
		out, err := call(q)
		t1 := time.Now()
		if err != nil {
			res.Elapsed = t1.Sub(start)
			if !out.Valid() && !q.Valid() {
				// The batch was lost with the driver: nothing to drop.
				reqs = nil
				q = rref.Deque[idl.BlockReq]{}
			} else {
				reqs, q = take(reqs, out, q)
			}
			return res.finish(), fmt.Errorf("%s %s batch %d: %w", name, s.Name(), s.Batch, err)
		}
		q = out
		for i := range n {
			r, ok := q.PopFront()
			if !ok {
				res.Elapsed = t1.Sub(start)
				reqs = reqs[:i]
				return res.finish(), fmt.Errorf("%s %s: the device returned %d of %d requests", name, s.Name(), i, n)
			}
			reqs[i] = r
			if st := r.Get().Status; st != idl.BlockOK {
				res.Elapsed = t1.Sub(start)
				return res.finish(), fmt.Errorf("%s %s: block %d: %s", name, s.Name(), r.Get().LBA, status(st))
			}
		}
		res.IOs += n
		res.Lat = append(res.Lat, t1.Sub(t0))
		if !end.IsZero() && !t1.Before(end) {
			break
		}
	}
	res.Elapsed = time.Since(start)
	return res.finish(), nil
}

// take recovers the requests of a failed call from whichever deque is
// valid, for dropping.
func take(reqs []rref.RRef[idl.BlockReq], out, q rref.Deque[idl.BlockReq]) ([]rref.RRef[idl.BlockReq], rref.Deque[idl.BlockReq]) {
	d := q
	if out.Valid() {
		d = out
	}
	reqs = reqs[:0]
	for {
		r, ok := d.PopFront()
		if !ok {
			return reqs, d
		}
		reqs = append(reqs, r)
	}
}

func (r Result) finish() Result {
	slices.Sort(r.Lat)
	return r
}

func status(st idl.BlockStatus) string {
	switch st {
	case idl.BlockOutOfRange:
		return "out of range"
	case idl.BlockIOError:
		return "I/O error"
	}
	return fmt.Sprintf("status %d", st)
}

// fillBlock gives a write something that is not zeros, so that a device
// which special-cases zero blocks is not measured on its fast path.
func fillBlock(b *idl.Block, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// WriteTable prints results as the benchnvme table: one row per test.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tTEST\tBATCH\tIOS\tIOPS\tMiB/s\tP50\tP99\tP99.9\tLATENCY OF")
	for _, r := range rs {
		of := "batch"
		if r.PerRequest {
			of = "request"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.1f\t%s\t%s\t%s\t%s\n", r.Device, r.Spec.Name(), r.Spec.Batch, r.IOs,
			r.IOPS(), r.IOPS()*idl.BlockSize/(1<<20), us(r.Percentile(50)), us(r.Percentile(99)), us(r.Percentile(99.9)), of)
	}
	return tw.Flush()
}

// us formats a latency in microseconds.
func us(d time.Duration) string {
	return fmt.Sprintf("%.1fus", float64(d)/float64(time.Microsecond))
}
