package ixgbe

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
)

// SelfTestReport is what SelfTest saw.
type SelfTestReport struct {
	Link     idl.Link // of the receiving NIC
	Sent     int      // test frames queued
	Received int      // test frames received intact, in order
	Other    int      // frames received that were not the test's (other traffic on a cable)
	Tx, Rx   idl.NetStats
}

func (r SelfTestReport) String() string {
	return fmt.Sprintf("link up %v %d Mb/s %x; sent %d, received %d (+%d other); tx counters %d packets %d bytes; rx counters %d packets %d bytes, %d missed, %d errors",
		r.Link.Up, r.Link.SpeedMbps, r.Link.MAC, r.Sent, r.Received, r.Other,
		r.Tx.TxPackets, r.Tx.TxBytes, r.Rx.RxPackets, r.Rx.RxBytes, r.Rx.RxMissed, r.Rx.RxErrors)
}

// selfTestType is the EtherType of the test frames (IEEE local
// experimental).
const selfTestType = 0x88b5

// SelfTest is the lab check of a NIC: the links come up within timeout,
// then n frames of varied lengths go out on queue 0 of tx and must come
// back, intact and in order, on queue 0 of rx (the same NIC in MAC
// loopback, Config.Loopback, or the other end of a cable pair, which then
// should be promiscuous or have the tx NIC's frames addressed to it: the
// frames go to rx's MAC). The device counters must agree: tx's packets sent
// and rx's packets received grow by at least n, and the byte counters by
// the frames' octets (CRC included). heap is the caller's account, for the
// packet buffers.
func SelfTest(heap *rref.Account, tx, rx idl.Net, n int, timeout time.Duration) (SelfTestReport, error) {
	var rep SelfTestReport
	deadline := time.Now().Add(timeout)
	for _, nic := range []idl.Net{tx, rx} {
		for {
			l, err := nic.LinkStatus()
			if err != nil {
				return rep, err
			}
			rep.Link = l
			if l.Up {
				break
			}
			if time.Now().After(deadline) {
				return rep, fmt.Errorf("%w: link down after %v (%x)", ErrSelfTest, timeout, l.MAC)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	dst := rep.Link.MAC
	src, err := tx.LinkStatus()
	if err != nil {
		return rep, err
	}
	tx0, err := tx.Stats()
	if err != nil {
		return rep, err
	}
	rx0, err := rx.Stats()
	if err != nil {
		return rep, err
	}
	const batch = 32
	out := rref.NewDeque[idl.Packet](heap, batch)
	in := rref.NewDeque[idl.Packet](heap, batch)
	defer func() { // the handles move with every call: drop the last ones
		rref.DiscardDeque(out)
		rref.DiscardDeque(in)
	}()
	for range batch {
		out.PushBack(rref.New(heap, idl.Packet{}))
		in.PushBack(rref.New(heap, idl.Packet{}))
	}
	var octets uint64
	frame := func(seq int, p *idl.Packet) {
		length := 60 + seq*97%(idl.MaxFrame-59)
		copy(p.Data[0:], dst[:])
		copy(p.Data[6:], src.MAC[:])
		binary.BigEndian.PutUint16(p.Data[12:], selfTestType)
		binary.BigEndian.PutUint32(p.Data[14:], uint32(seq))
		for i := 18; i < length; i++ {
			p.Data[i] = byte(seq + i)
		}
		p.Len = uint16(length)
		octets += uint64(length + 4)
	}
	check := func(p *idl.Packet) bool {
		if p.Len < 18 || binary.BigEndian.Uint16(p.Data[12:]) != selfTestType || [6]byte(p.Data[6:12]) != src.MAC {
			rep.Other++
			return true
		}
		seq := int(binary.BigEndian.Uint32(p.Data[14:]))
		if seq != rep.Received || int(p.Len) != 60+seq*97%(idl.MaxFrame-59) {
			return false
		}
		for i := 18; i < int(p.Len); i++ {
			if p.Data[i] != byte(seq+i) {
				return false
			}
		}
		rep.Received++
		return true
	}
	for rep.Received < n {
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("%w: %d of %d frames back after %v", ErrSelfTest, rep.Received, n, timeout)
		}
		// Fill the free buffers with the next frames and send them.
		for range out.Len() {
			r, _ := out.PopFront()
			if p := r.Get(); p.Len == 0 && rep.Sent < n {
				frame(rep.Sent, p)
				rep.Sent++
			}
			out.PushBack(r)
		}
		if out, _, err = tx.TxBatch(0, out); err != nil {
			return rep, err
		}
		var k int
		if in, k, err = rx.RxBatch(0, in); err != nil {
			return rep, err
		}
		for range in.Len() {
			r, _ := in.PopFront()
			if p := r.Get(); p.Len > 0 {
				if !check(p) {
					seq := binary.BigEndian.Uint32(p.Data[14:])
					return rep, fmt.Errorf("%w: frame %d came back as frame %d of %d bytes, or damaged", ErrSelfTest, rep.Received, seq, p.Len)
				}
				p.Len = 0
			}
			in.PushBack(r)
		}
		if k == 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	if rep.Tx, err = tx.Stats(); err != nil {
		return rep, err
	}
	if rep.Rx, err = rx.Stats(); err != nil {
		return rep, err
	}
	switch {
	case rep.Tx.TxPackets-tx0.TxPackets < uint64(n) || rep.Tx.TxBytes-tx0.TxBytes < octets:
		return rep, fmt.Errorf("%w: tx counters grew by %d packets, %d bytes; %d frames of %d bytes were sent",
			ErrSelfTest, rep.Tx.TxPackets-tx0.TxPackets, rep.Tx.TxBytes-tx0.TxBytes, n, octets)
	case rep.Rx.RxPackets-rx0.RxPackets < uint64(n) || rep.Rx.RxBytes-rx0.RxBytes < octets:
		return rep, fmt.Errorf("%w: rx counters grew by %d packets, %d bytes; %d frames of %d bytes came back",
			ErrSelfTest, rep.Rx.RxPackets-rx0.RxPackets, rep.Rx.RxBytes-rx0.RxBytes, n, octets)
	}
	return rep, nil
}
