// Package events is the boot-event log of the netboot server: per
// machine, what happened on the way to a booted image (DHCP seen, boot
// file fetched over TFTP, iPXE script and kernel fetched over HTTP, the
// image's own reports). The DHCP, TFTP and HTTP servers add to it; the
// HTTP API and the tests read it. It also remembers which address each
// machine was last seen at, so that a TFTP transfer, which only knows an
// address, is filed under the right machine.
//
// The log is in memory and bounded: per machine (PerMachine events) and
// in machines. Anyone on the boot network can send DHCP packets with
// made-up MACs, so machines that are not Known (in the lab file, or with
// a next boot set) are kept up to MaxMachines, and the one whose last
// event is oldest goes first. The server's structured log is the
// durable record.
package events

import (
	"container/list"
	"context"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Kinds of events.
const (
	DHCP    = "dhcp"    // a DHCP transaction with the machine
	TFTP    = "tftp"    // a TFTP transfer to it
	HTTP    = "http"    // a file it fetched over HTTP
	Script  = "script"  // the iPXE script it got: a boot began
	Handoff = "handoff" // it fetched the kernel and initrd in full
	Booted  = "booted"  // the image reported that it is up
	Results = "results" // the image posted results
)

// Event is one thing that happened to a machine.
type Event struct {
	Time   time.Time `json:"time"`
	MAC    string    `json:"mac"`
	Kind   string    `json:"kind"`
	IP     string    `json:"ip,omitempty"`
	Boot   string    `json:"boot,omitempty"` // boot ID, once a boot began
	Detail string    `json:"detail"`
	Err    string    `json:"error,omitempty"`
}

// Machine summarizes a machine's events.
type Machine struct {
	MAC      string    `json:"mac"`
	IP       string    `json:"ip,omitempty"`
	LastSeen time.Time `json:"last_seen"`
	Last     string    `json:"last"` // kind of the last event
	Events   int       `json:"events"`
}

// Log is the event log. The zero value is ready to use and keeps 500
// events per machine.
type Log struct {
	// PerMachine bounds the events kept per machine (default 500).
	PerMachine int
	// MaxMachines bounds the machines kept that Known does not claim
	// (default 4096).
	MaxMachines int
	// Known, if set, says which machines are always kept.
	Known func(mac string) bool

	mu      sync.Mutex
	byMAC   map[string][]Event
	ipOf    map[string]netip.Addr
	macOf   map[netip.Addr]string
	counts  map[string]int64
	changed chan struct{} // closed and replaced on every Add
	// lru orders the machines by their last event, oldest first; elem
	// finds their entries.
	lru     *list.List
	elem    map[string]*list.Element
	evicted int64
}

func (l *Log) init() {
	if l.byMAC == nil {
		l.byMAC = map[string][]Event{}
		l.ipOf = map[string]netip.Addr{}
		l.macOf = map[netip.Addr]string{}
		l.counts = map[string]int64{}
		l.changed = make(chan struct{})
		l.lru = list.New()
		l.elem = map[string]*list.Element{}
	}
}

// touch marks mac as the machine seen last and pushes out the unknown
// machines beyond MaxMachines, oldest first. Known machines are not in
// the order at all. l.mu is held.
func (l *Log) touch(mac string) {
	if l.Known != nil && l.Known(mac) {
		if e := l.elem[mac]; e != nil {
			l.lru.Remove(e)
			delete(l.elem, mac)
		}
		return
	}
	if e := l.elem[mac]; e != nil {
		l.lru.MoveToBack(e)
	} else {
		l.elem[mac] = l.lru.PushBack(mac)
	}
	limit := l.MaxMachines
	if limit <= 0 {
		limit = 4096
	}
	for l.lru.Len() > limit {
		old := l.lru.Remove(l.lru.Front()).(string)
		delete(l.elem, old)
		if l.Known != nil && l.Known(old) {
			continue // known since it was last seen: kept
		}
		delete(l.byMAC, old)
		if ip, ok := l.ipOf[old]; ok {
			if l.macOf[ip] == old {
				delete(l.macOf, ip)
			}
			delete(l.ipOf, old)
		}
		l.evicted++
	}
}

// Add records an event; a zero Time is now. An event with an IP also
// records that the machine is at that address.
func (l *Log) Add(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	if ip, err := netip.ParseAddr(e.IP); err == nil && e.MAC != "" {
		if old, ok := l.ipOf[e.MAC]; ok && l.macOf[old] == e.MAC {
			delete(l.macOf, old)
		}
		l.ipOf[e.MAC] = ip
		l.macOf[ip] = e.MAC
	}
	limit := l.PerMachine
	if limit <= 0 {
		limit = 500
	}
	evs := append(l.byMAC[e.MAC], e)
	if len(evs) > limit {
		evs = append(evs[:0:0], evs[len(evs)-limit:]...)
	}
	l.byMAC[e.MAC] = evs
	l.touch(e.MAC)
	l.counts[e.Kind]++
	close(l.changed)
	l.changed = make(chan struct{})
}

// Seen records that mac is at ip without an event.
func (l *Log) Seen(mac string, ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	if old, ok := l.ipOf[mac]; ok && l.macOf[old] == mac {
		delete(l.macOf, old)
	}
	l.ipOf[mac] = ip
	l.macOf[ip] = mac
	l.touch(mac)
}

// Evicted returns how many machines were pushed out by MaxMachines.
func (l *Log) Evicted() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}

// Who returns the machine last seen at ip.
func (l *Log) Who(ip netip.Addr) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mac, ok := l.macOf[ip.Unmap()]
	return mac, ok
}

// For returns a machine's events, oldest first.
func (l *Log) For(mac string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.byMAC[mac]...)
}

// Machines summarizes every machine with events, by MAC.
func (l *Log) Machines() []Machine {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Machine, 0, len(l.byMAC))
	for mac, evs := range l.byMAC {
		m := Machine{MAC: mac, Events: len(evs)}
		if ip, ok := l.ipOf[mac]; ok {
			m.IP = ip.String()
		}
		if n := len(evs); n > 0 {
			m.LastSeen, m.Last = evs[n-1].Time, evs[n-1].Kind
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out
}

// Counts returns how many events of each kind were added.
func (l *Log) Counts() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// Wait waits until match returns true for an event of mac, looking at
// the events already there first, and returns that event.
func (l *Log) Wait(ctx context.Context, mac string, match func(Event) bool) (Event, error) {
	seen := 0
	for {
		l.mu.Lock()
		l.init()
		evs := l.byMAC[mac]
		ch := l.changed
		l.mu.Unlock()
		if seen > len(evs) {
			seen = 0 // trimmed
		}
		for _, e := range evs[seen:] {
			if match(e) {
				return e, nil
			}
		}
		seen = len(evs)
		select {
		case <-ch:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}
