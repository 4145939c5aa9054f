//rl:domain

// Package idlnet adapts a NIC, an idl.Net, to the stack's Link: frames
// move in batches of RRef'd idl.Packet buffers owned by the caller's
// domain, one RxBatch and one TxBatch call per batch.
//
// Receive lends the frames in place (slices of the packet cells, valid
// until the next Receive, as stack.Link says); Transmit copies frames into
// the transmit batch's cells. Nothing is allocated per packet. When the
// driver fails under a call (its domain died), the proxy gives a whole
// batch back if it can; if not, the adapter makes new buffers, so the
// stack sees a lost batch and TCP retransmits.
package idlnet

import (
	"errors"
	"fmt"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// A Link is the adapter. It is not safe for concurrent use: the stack's
// thread drives it.
type Link struct {
	nic    idl.Net
	heap   *rref.Account
	queue  uint16
	batch  int
	mac    [6]byte
	rx, tx rref.Deque[idl.Packet]
	frames [][]byte
	lost   uint64
}

// New makes an adapter for queue of nic, with batches of batch packets
// (1..idl.NetBatch) allocated on heap, the caller's account.
func New(nic idl.Net, heap *rref.Account, queue uint16, batch int) (*Link, error) {
	if batch < 1 || batch > idl.NetBatch {
		return nil, fmt.Errorf("idlnet: batch %d is not in 1..%d", batch, idl.NetBatch)
	}
	st, err := nic.LinkStatus()
	if err != nil {
		return nil, fmt.Errorf("idlnet: reading the NIC's address: %w", err)
	}
	l := &Link{nic: nic, heap: heap, queue: queue, batch: batch, mac: st.MAC, frames: make([][]byte, 0, batch)}
	l.rx, l.tx = l.newBatch(), l.newBatch()
	return l, nil
}

func (l *Link) newBatch() rref.Deque[idl.Packet] {
	d := rref.NewDeque[idl.Packet](l.heap, l.batch)
	for range l.batch {
		d.PushBack(rref.New(l.heap, idl.Packet{}))
	}
	return d
}

// HardwareAddr is the NIC's MAC address.
func (l *Link) HardwareAddr() [6]byte { return l.mac }

// Lost counts batches lost with a failed driver.
func (l *Link) Lost() uint64 { return l.lost }

// returned is the handle of a batch after a call that took orig: the one
// the call returned, or orig if the proxy gave it back, or a new batch.
func (l *Link) returned(got, orig rref.Deque[idl.Packet]) rref.Deque[idl.Packet] {
	switch {
	case got.Valid():
		return got
	case orig.Valid():
		return orig
	}
	l.lost++
	return l.newBatch()
}

// Receive implements stack.Link.
func (l *Link) Receive() ([][]byte, error) {
	for i := range l.rx.Len() { // the previous batch was processed
		l.rx.At(i).Len = 0
	}
	got, n, err := l.nic.RxBatch(l.queue, l.rx)
	l.rx = l.returned(got, l.rx)
	l.frames = l.frames[:0]
	if n == 0 {
		return l.frames, err
	}
	for i := range l.rx.Len() {
		if p := l.rx.At(i); p.Len > 0 && int(p.Len) <= len(p.Data) {
			l.frames = append(l.frames, p.Data[:p.Len])
		}
	}
	return l.frames, err
}

// errTooLong is returned for a frame longer than idl.MaxFrame.
var errTooLong = errors.New("idlnet: frame longer than idl.MaxFrame (1514 bytes)")

// Transmit implements stack.Link: frames go out in batches of the
// adapter's size; it stops at the first batch the NIC does not take whole.
func (l *Link) Transmit(frames [][]byte) (int, error) {
	sent := 0
	for sent < len(frames) {
		k := min(len(frames)-sent, l.tx.Len())
		for i := range k {
			f := frames[sent+i]
			p := l.tx.At(i)
			if len(f) > idl.MaxFrame {
				for j := range i {
					l.tx.At(j).Len = 0
				}
				return sent, errTooLong
			}
			p.Len = uint16(copy(p.Data[:], f))
		}
		got, n, err := l.nic.TxBatch(l.queue, l.tx)
		l.tx = l.returned(got, l.tx)
		for i := range l.tx.Len() { // what did not fit is dropped
			l.tx.At(i).Len = 0
		}
		sent += n
		if err != nil || n < k {
			return sent, err
		}
	}
	return sent, nil
}
