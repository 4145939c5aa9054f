//rl:domain

// Package pktgen is Rv6's pktgen: it sends frames of a set size on an
// ixgbe port at a set rate (or as fast as the port takes them) and prints
// the rate achieved and the counters. It drives the port's driver domain
// itself, through the capability its spawner passed it (`grant nic pktgen`
// at the console's login shell). pktgen -h lists the flags.
package pktgen

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe/bench"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/progs/internal/nic"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "pktgen [-t DURATION] [-n COUNT] [-size BYTES] [-rate PPS] [-batch 32] [-port ixgbe0]"

func init() { ulib.Register("pktgen", main) }

func main(p *ulib.Proc) int {
	f := nic.NewFlags(usage, time.Second)
	rate := f.String("rate", "0", "packets per second, with an optional k or M suffix (0: as fast as the port takes them)")
	batch := f.Int("batch", 32, fmt.Sprintf("the most packets per call (1..%d)", idl.NetBatch))
	portName := f.String("port", "ixgbe0", "the port")
	if !f.Parse(p) {
		return ulib.StatusUsage
	}
	pps, err := parseRate(*rate)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusUsage
	}
	if *batch < 1 || *batch > idl.NetBatch {
		p.Errorf("bad batch size %d: want 1..%d", *batch, idl.NetBatch)
		return ulib.StatusUsage
	}
	port, err := nic.Open(p, *portName)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	return run(p, port, f, pps, *batch)
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

func run(p *ulib.Proc, port *nic.Port, f *nic.Flags, pps float64, batch int) int {
	heap := p.Heap()
	in := port.Info()
	target := "as fast as the port takes them"
	if pps > 0 {
		target = fmt.Sprintf("at %.0f packets/s", pps)
	}
	p.Printf("pktgen: %s, %s: %d-byte frames, batch %d, %s; %v\n", port.Name, in.Where, *f.Size, batch, target, f.Limit())
	before, err := port.Net.Stats()
	if err != nil {
		p.Errorf("%s: %v", port.Name, err)
		return ulib.StatusError
	}
	link, _ := port.Net.LinkStatus()

	// The frame is written into every buffer once; a send sets only its
	// length and sequence number (the driver frees a buffer by zeroing
	// its length, not its data).
	frame := bench.TestFrame(link.MAC, *f.Size, 0)
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
	status := ulib.StatusOK
	errs := 0
	for {
		elapsed = time.Since(start)
		if elapsed >= *f.Dur || *f.Count > 0 && sent >= *f.Count {
			break
		}
		want := batch
		if pps > 0 {
			due := uint64(elapsed.Seconds()*pps) + 1
			if due <= sent+uint64(held) {
				// Ahead of the rate: wait for the next packet's time
				// (at most a millisecond, to see the end in time).
				next := time.Duration(float64(sent+uint64(held)) / pps * float64(time.Second))
				p.Sleep(min(next-elapsed, time.Millisecond))
				continue
			}
			want = int(min(uint64(batch), due-sent))
		}
		if *f.Count > 0 {
			want = int(min(uint64(want), *f.Count-sent))
		}
		// Fill free buffers until want frames are waiting.
		for i := 0; i < q.Len() && held < want; i++ {
			r, _ := q.PopFront()
			if pk := r.Get(); pk.Len == 0 {
				pk.Len = uint16(*f.Size)
				binary.BigEndian.PutUint32(pk.Data[14:], uint32(seq))
				seq++
				held++
			}
			q.PushBack(r)
		}
		var k int
		q, k, err = port.Net.TxBatch(0, q)
		sent += uint64(k)
		held -= k
		if err != nil {
			p.Errorf("%v", err)
			if !q.Valid() {
				held = 0
				q = nic.PacketDeque(heap, batch)
			}
			if errs++; errs >= 3 {
				status = ulib.StatusError
				break
			}
		}
	}
	elapsed = time.Since(start)
	mpps := float64(sent) / elapsed.Seconds() / 1e6
	p.Printf("pktgen: sent %d packets in %.2fs: %.3f Mpps, %.1f Mbit/s of frames", sent, elapsed.Seconds(), mpps, mpps*float64(*f.Size+4)*8)
	if pps > 0 {
		p.Printf(" (%.1f%% of the target)", 100*float64(sent)/elapsed.Seconds()/pps)
	}
	p.Printf("\n")
	after, err := port.Net.Stats()
	if err != nil {
		p.Errorf("%s: %v", port.Name, err)
		return ulib.StatusError
	}
	now := port.Info()
	if now.Instance == in.Instance {
		p.Printf("pktgen: %s counted %d packets, %d bytes sent\n", port.Name, after.TxPackets-before.TxPackets, after.TxBytes-before.TxBytes)
	} else {
		p.Printf("pktgen: %s was restarted (instance #%d -> #%d): its counters started again\n", port.Name, in.Instance, now.Instance)
	}
	if in.Model {
		p.Printf("pktgen: its model took %d frames off the TX ring\n", now.Sent-in.Sent)
	}
	if err := port.WriteIfconfig(p); err != nil {
		p.Errorf("%v", err)
		status = ulib.StatusError
	}
	return status
}
