//rl:domain

// Package bench is the core loop of benchnet, the packet-rate benchmark of
// RedLeaf's NIC drivers: forward packets from RX to TX of one queue of an
// idl.Net, at several batch sizes, and report the rates. It is domain code
// (a library an Rv6 program links), so it only needs the Net capability and
// the caller's heap account; what the Net is bound to (an ixgbe domain over
// the 82599 model generating traffic, a virtio NIC) is the caller's.
package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Options shape a run. The zero Options get the defaults.
type Options struct {
	Batches  []int         // batch sizes (default 1, 32, 256; at most idl.NetBatch)
	Duration time.Duration // per batch size (default 1 s)
	Packets  uint64        // per batch size, if > 0: stop after forwarding this many
	Queue    uint16        // the queue (default 0)
}

// A Result is one row of the table.
type Result struct {
	Batch     int
	Forwarded uint64 // packets received and sent again
	Calls     uint64 // RxBatch calls
	Elapsed   time.Duration
}

// Mpps is the forwarding rate in millions of packets per second.
func (r Result) Mpps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Forwarded) / r.Elapsed.Seconds() / 1e6
}

// NsPerPacket is the time per forwarded packet.
func (r Result) NsPerPacket() float64 {
	if r.Forwarded == 0 {
		return 0
	}
	return float64(r.Elapsed.Nanoseconds()) / float64(r.Forwarded)
}

// Forward runs the forwarding loop for each batch size: RxBatch into a
// deque of batch free buffers, TxBatch of the same deque back out. The
// buffers are allocated once per batch size, on heap, and dropped at the
// end: nothing is allocated in the loop.
func Forward(heap *rref.Account, nic idl.Net, opt Options) ([]Result, error) {
	if len(opt.Batches) == 0 {
		opt.Batches = []int{1, 32, 256}
	}
	if opt.Duration <= 0 {
		opt.Duration = time.Second
	}
	var rs []Result
	for _, b := range opt.Batches {
		if b <= 0 || b > idl.NetBatch {
			return rs, fmt.Errorf("bench: batch %d is outside 1..%d", b, idl.NetBatch)
		}
		r, err := forward(heap, nic, opt, b)
		rs = append(rs, r)
		if err != nil {
			return rs, err
		}
	}
	return rs, nil
}

func forward(heap *rref.Account, nic idl.Net, opt Options, batch int) (Result, error) {
	q := rref.NewDeque[idl.Packet](heap, batch)
	for range batch {
		q.PushBack(rref.New(heap, idl.Packet{}))
	}
	r := Result{Batch: batch}
	start := time.Now()
	deadline := start.Add(opt.Duration)
	var err error
	for {
		var n, sent int
		q, n, err = nic.RxBatch(opt.Queue, q)
		r.Calls++
		if err == nil && n > 0 {
			q, sent, err = nic.TxBatch(opt.Queue, q)
			r.Forwarded += uint64(sent)
		}
		if err != nil {
			err = fmt.Errorf("bench: batch %d after %d packets: %w", batch, r.Forwarded, err)
			break
		}
		if opt.Packets > 0 && r.Forwarded >= opt.Packets {
			break
		}
		if r.Calls%256 == 0 && time.Now().After(deadline) {
			break
		}
	}
	r.Elapsed = time.Since(start)
	rref.DiscardDeque(q)
	return r, err
}

// WriteTable writes the results as a table.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "batch\tpackets\tMpps\tns/packet\t\n")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.1f\t\n", r.Batch, r.Forwarded, r.Mpps(), r.NsPerPacket())
	}
	return tw.Flush()
}

// TestFrame is a frame of size bytes from src: broadcast, the local
// experimental EtherType (0x88b5), a sequence number and a pattern. What
// the kernel has the 82599 model generate, and what pktgen sends.
func TestFrame(src [6]byte, size int, seq uint32) []byte {
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
