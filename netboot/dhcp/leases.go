package dhcp

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/rlgo/redleaf/netboot/journal"
)

// Lease is an address bound to a client. An expired or released lease is
// kept as a hint, so that the client gets the same address again if it
// is still free, until the address is needed for another client.
type Lease struct {
	MAC      string     `json:"mac"` // net.HardwareAddr.String() form
	IP       netip.Addr `json:"ip"`
	Expires  time.Time  `json:"expires"`
	Hostname string     `json:"hostname,omitempty"`
}

// Active reports whether the lease binds its address at t.
func (l *Lease) Active(t time.Time) bool { return t.Before(l.Expires) }

// record is one line of the lease journal.
type record struct {
	Op       string     `json:"op"` // "lease", "release", "decline", "forget"
	MAC      string     `json:"mac,omitempty"`
	IP       netip.Addr `json:"ip"`
	Expires  time.Time  `json:"expires,omitzero"`
	Hostname string     `json:"hostname,omitempty"`
}

// Leases is the lease database: in memory, and journaled to a file when
// opened with OpenLeases (package journal: one JSON line per change,
// appended; a failed append is rolled back and the change refused; a
// damaged last line is skipped with a warning), so that a restarted
// server honours the leases it gave. The journal is rewritten compactly
// when opened and when it has grown to several times the live state;
// declines that have expired are dropped then.
//
// Leases is safe for concurrent use.
type Leases struct {
	mu       sync.Mutex
	byMAC    map[string]*Lease
	byIP     map[netip.Addr]*Lease
	declined map[netip.Addr]time.Time // address -> unusable until
	j        *journal.Journal         // nil for an in-memory database
	// Warning, set by OpenLeases, says what was skipped on open.
	Warning string
}

// NewLeases returns an empty in-memory lease database.
func NewLeases() *Leases {
	return &Leases{
		byMAC:    map[string]*Lease{},
		byIP:     map[netip.Addr]*Lease{},
		declined: map[netip.Addr]time.Time{},
	}
}

// OpenLeases loads the journal at path (a missing file is an empty
// database), rewrites it compactly and keeps it open for appending. A
// damaged last line (a write cut short) is dropped, and Warning says so;
// a damaged line before the last is an error naming the file and line.
func OpenLeases(path string) (*Leases, error) {
	l := NewLeases()
	j, damage, err := journal.Open(path, l.replayLine)
	if err != nil {
		return nil, fmt.Errorf("lease file: %w: clients then get new addresses", err)
	}
	l.j = j
	if damage != nil {
		l.Warning = fmt.Sprintf("%s: skipped a damaged last record (%v)", path, damage)
	}
	if err := l.compact(time.Now()); err != nil {
		j.Close()
		return nil, err
	}
	return l, nil
}

// ParseJournal reads a lease journal into an in-memory database; name is
// used in errors. It is OpenLeases without the file.
func ParseJournal(r io.Reader, name string) (*Leases, error) {
	l := NewLeases()
	if _, _, _, err := journal.Read(r, name, l.replayLine); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Leases) replayLine(b []byte, _ int64) error {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("not a lease record: %v", err)
	}
	if err := rec.check(); err != nil {
		return fmt.Errorf("not a lease record: %v", err)
	}
	l.apply(rec)
	return nil
}

func (r *record) check() error {
	switch r.Op {
	case "lease", "release":
		if _, err := net.ParseMAC(r.MAC); err != nil {
			return err
		}
		if !r.IP.Is4() {
			return fmt.Errorf("address %v is not IPv4", r.IP)
		}
	case "decline", "forget":
		if !r.IP.Is4() {
			return fmt.Errorf("address %v is not IPv4", r.IP)
		}
	default:
		return fmt.Errorf("unknown op %q", r.Op)
	}
	return nil
}

// apply changes the in-memory state; l.mu is held or l is not shared yet.
func (l *Leases) apply(r record) {
	switch r.Op {
	case "lease", "release":
		l.drop(r.MAC, r.IP)
		lease := &Lease{MAC: r.MAC, IP: r.IP, Expires: r.Expires, Hostname: r.Hostname}
		l.byMAC[r.MAC] = lease
		l.byIP[r.IP] = lease
		delete(l.declined, r.IP)
	case "decline":
		if old := l.byIP[r.IP]; old != nil {
			l.drop(old.MAC, r.IP)
		}
		l.declined[r.IP] = r.Expires
	case "forget":
		if old := l.byIP[r.IP]; old != nil {
			l.drop(old.MAC, r.IP)
		}
		delete(l.declined, r.IP)
	}
}

// drop removes the MAC's lease and the address's lease.
func (l *Leases) drop(mac string, ip netip.Addr) {
	if old := l.byMAC[mac]; old != nil {
		delete(l.byIP, old.IP)
		delete(l.byMAC, mac)
	}
	if old := l.byIP[ip]; old != nil {
		delete(l.byMAC, old.MAC)
		delete(l.byIP, ip)
	}
}

// write journals a record and then applies it: a record the journal
// could not take is not applied, so memory never holds a change a
// restart would forget. l.mu is held.
func (l *Leases) write(r record, now time.Time) error {
	if l.j != nil {
		if _, _, err := l.j.Append(r); err != nil {
			return fmt.Errorf("lease file: %w", err)
		}
	}
	l.apply(r)
	if l.j != nil && l.j.Lines() > 4*(len(l.byMAC)+len(l.declined))+1000 {
		// The record is written; a failed compaction only leaves the
		// journal longer.
		l.compact(now)
	}
	return nil
}

// compact rewrites the journal with one record per lease and declined
// address that has not expired, and forgets expired declines.
func (l *Leases) compact(now time.Time) error {
	l.expireDeclines(now)
	if l.j == nil {
		return nil
	}
	if err := l.j.Rewrite(func(write func([]byte) (int64, error)) error {
		for _, r := range l.snapshot() {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := write(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("lease file: %w", err)
	}
	return nil
}

// expireDeclines forgets declines that have run out.
func (l *Leases) expireDeclines(now time.Time) {
	for ip, until := range l.declined {
		if !now.Before(until) {
			delete(l.declined, ip)
		}
	}
}

// snapshot returns the state as records, sorted by address.
func (l *Leases) snapshot() []record {
	var rs []record
	for _, lease := range l.byIP {
		rs = append(rs, record{Op: "lease", MAC: lease.MAC, IP: lease.IP, Expires: lease.Expires.UTC(), Hostname: lease.Hostname})
	}
	for ip, until := range l.declined {
		rs = append(rs, record{Op: "decline", IP: ip, Expires: until.UTC()})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].IP.Less(rs[j].IP) })
	return rs
}

// Journal returns the journal's size in bytes and records (0, 0 in
// memory).
func (l *Leases) Journal() (size int64, records int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.j == nil {
		return 0, 0
	}
	return l.j.Size(), l.j.Lines()
}

// Close closes the journal.
func (l *Leases) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.j == nil {
		return nil
	}
	return l.j.Close()
}

// All returns a copy of every lease, active or not, sorted by address.
func (l *Leases) All() []Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Lease, 0, len(l.byIP))
	for _, lease := range l.byIP {
		out = append(out, *lease)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}

// ByMAC returns the lease of a client, active or not.
func (l *Leases) ByMAC(mac net.HardwareAddr) (Lease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lease := l.byMAC[mac.String()]; lease != nil {
		return *lease, true
	}
	return Lease{}, false
}

// ByIP returns the lease of an address, active or not.
func (l *Leases) ByIP(ip netip.Addr) (Lease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lease := l.byIP[ip]; lease != nil {
		return *lease, true
	}
	return Lease{}, false
}

// Declined reports whether ip was declined and is not to be handed out
// before the returned time.
func (l *Leases) Declined(ip netip.Addr, now time.Time) (until time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok = l.declined[ip]
	return until, ok && now.Before(until)
}
