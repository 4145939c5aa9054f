package dhcp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
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
// opened with OpenLeases, so that a restarted server honours the leases
// it gave. The journal is a file of JSON lines, one per change, appended
// without fsync: the data survives the server's crash (it is in the
// page cache), not the machine's. It is rewritten compactly when opened
// and when it has grown to several times the live state.
//
// Leases is safe for concurrent use.
type Leases struct {
	mu       sync.Mutex
	byMAC    map[string]*Lease
	byIP     map[netip.Addr]*Lease
	declined map[netip.Addr]time.Time // address -> unusable until
	path     string
	f        *os.File // journal, nil for an in-memory database
	records  int      // lines in the journal
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
// line cut short by a crash at the end of the file is dropped; any other
// malformed line is an error naming the file and line.
func OpenLeases(path string) (*Leases, error) {
	l := NewLeases()
	l.path = path
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("lease file: %w", err)
	default:
		err = l.replay(f, path)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lease file: %w", err)
	}
	if err := l.compact(); err != nil {
		return nil, err
	}
	return l, nil
}

// ParseJournal reads a lease journal into an in-memory database; name is
// used in errors. It is OpenLeases without the file.
func ParseJournal(r io.Reader, name string) (*Leases, error) {
	l := NewLeases()
	if err := l.replay(r, name); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Leases) replay(r io.Reader, name string) error {
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: %w", name, err)
		}
		complete := len(b) > 0 && b[len(b)-1] == '\n'
		if len(bytes.TrimSpace(b)) > 0 {
			var rec record
			if jerr := json.Unmarshal(b, &rec); jerr != nil || rec.check() != nil {
				if !complete && err == io.EOF {
					return nil // the last write was cut short
				}
				why := jerr
				if why == nil {
					why = rec.check()
				}
				return fmt.Errorf("%s:%d: not a lease record (%v): repair or delete the file (clients then get new addresses)", name, line, why)
			}
			l.apply(rec)
			l.records++
		}
		if err == io.EOF {
			return nil
		}
	}
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

// write appends a record to the journal and applies it.
func (l *Leases) write(r record) error {
	l.apply(r)
	if l.f == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("lease file %s: %w", l.path, err)
	}
	l.records++
	if l.records > 4*(len(l.byMAC)+len(l.declined))+1000 {
		return l.compact()
	}
	return nil
}

// compact rewrites the journal with one record per lease and declined
// address, atomically, and reopens it for appending.
func (l *Leases) compact() error {
	tmp, err := os.CreateTemp(filepath.Dir(l.path), ".leases-*")
	if err != nil {
		return fmt.Errorf("lease file: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	n := 0
	for _, r := range l.snapshot() {
		b, _ := json.Marshal(r)
		w.Write(append(b, '\n'))
		n++
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("lease file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("lease file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("lease file: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		return fmt.Errorf("lease file: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lease file: %w", err)
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.records = f, n
	return nil
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

// Close closes the journal.
func (l *Leases) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
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
