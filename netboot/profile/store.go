package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// NextBoot is a machine's next boot as set through the API. It takes
// precedence over the file until it is cleared, or, if Once, until the
// machine has booted it.
type NextBoot struct {
	// Target is a profile name or Local.
	Target string `json:"profile"`
	Once   bool   `json:"once"`
	// Set is when it was set.
	Set time.Time `json:"set"`
}

// Resolution is what a machine boots next and why.
type Resolution struct {
	// Served is false for a machine the server ignores (deny_unknown).
	Served bool `json:"served"`
	// Target is a profile name or Local.
	Target string `json:"profile"`
	// Profile is the profile, nil for Local.
	Profile *Profile `json:"-"`
	// Source says where the decision came from: "api", "machine",
	// "machine-then" (a once-only boot was used up), "default",
	// "deny-unknown".
	Source string `json:"source"`
	// Once says the boot is one-time: booting it changes the next.
	Once bool `json:"once"`
}

// state is the runtime state kept in the state directory.
type state struct {
	// Next holds the API's next boots by MAC.
	Next map[string]NextBoot `json:"next"`
	// Used holds, by MAC, the machine entry key of a used-up once-only
	// boot from the file.
	Used map[string]string `json:"used"`
}

// Store answers what machines boot: the current file plus the runtime
// state. It is safe for concurrent use; Replace swaps the file in at
// once.
type Store struct {
	mu       sync.Mutex
	file     *File
	reserved map[netip.Addr]*Machine // file's machines by reserved address
	st       state
	path     string // state file; "" keeps the state in memory
}

// NewStore returns a Store for f whose runtime state is kept in
// stateDir/boots.json ("" keeps it in memory).
func NewStore(f *File, stateDir string) (*Store, error) {
	s := &Store{file: f, reserved: byIP(f), st: state{Next: map[string]NextBoot{}, Used: map[string]string{}}}
	if stateDir == "" {
		return s, nil
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	s.path = filepath.Join(stateDir, "boots.json")
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("boot state: %w", err)
	default:
		if err := json.Unmarshal(b, &s.st); err != nil {
			return nil, fmt.Errorf("%s: not a boot state file (%v): delete it to start afresh (API next boots and used once-only boots are forgotten)", s.path, err)
		}
		if s.st.Next == nil {
			s.st.Next = map[string]NextBoot{}
		}
		if s.st.Used == nil {
			s.st.Used = map[string]string{}
		}
	}
	return s, nil
}

// File returns the current file.
func (s *Store) File() *File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file
}

// Replace installs a reloaded file. Used-up once-only boots of machine
// entries that are gone or changed are forgotten (a changed entry is
// armed again anyway), so the state never outgrows the file.
func (s *Store) Replace(f *File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file, s.reserved = f, byIP(f)
	pruned := false
	for mac, key := range s.st.Used {
		if m := f.Machines[mac]; m == nil || m.key() != key {
			delete(s.st.Used, mac)
			pruned = true
		}
	}
	if pruned {
		s.save()
	}
}

// MaxUnlisted bounds the next boots set through the API for machines
// that the file does not list.
const MaxUnlisted = 1024

// Known reports whether mac is listed in the file or has a next boot
// set through the API: the machines whose state is never pushed out by
// others'.
func (s *Store) Known(mac string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, next := s.st.Next[mac]
	return s.file.Machines[mac] != nil || next
}

func byIP(f *File) map[netip.Addr]*Machine {
	m := map[netip.Addr]*Machine{}
	for _, machine := range f.Machines {
		if machine.IP.IsValid() {
			m[machine.IP] = machine
		}
	}
	return m
}

// Resolve returns what mac boots next, without changing anything.
func (s *Store) Resolve(mac net.HardwareAddr) Resolution {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolve(mac.String())
}

func (s *Store) resolve(mac string) Resolution {
	f := s.file
	target := func(name, source string, once bool) Resolution {
		r := Resolution{Served: true, Target: name, Source: source, Once: once}
		if name == "" {
			r.Target = Local
		}
		if p := f.Profiles[name]; p != nil {
			r.Profile = p
		} else {
			r.Target = Local // a profile removed since: boot from disk
		}
		return r
	}
	if nb, ok := s.st.Next[mac]; ok {
		return target(nb.Target, "api", nb.Once)
	}
	m := f.Machines[mac]
	if m == nil {
		if f.DenyUnknown {
			return Resolution{Source: "deny-unknown"}
		}
		return target(f.Default, "default", false)
	}
	if m.Once && s.st.Used[mac] == m.key() {
		if m.Then == "default" {
			return target(f.Default, "machine-then", false)
		}
		return target(Local, "machine-then", false)
	}
	if m.Profile == "" {
		return target(f.Default, "machine", m.Once)
	}
	return target(m.Profile, "machine", m.Once)
}

// Commit records that mac boots now (its iPXE script was served) and
// returns what it boots. A once-only boot is used up: the next boot
// falls back. The state is saved; a failure to save is returned with
// the resolution, which is still valid.
func (s *Store) Commit(mac net.HardwareAddr) (Resolution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := mac.String()
	r := s.resolve(key)
	if !r.Once {
		return r, nil
	}
	switch r.Source {
	case "api":
		delete(s.st.Next, key)
	case "machine":
		s.st.Used[key] = s.file.Machines[key].key()
	}
	return r, s.save()
}

// Next returns the next boot set through the API, if any.
func (s *Store) Next(mac net.HardwareAddr) (NextBoot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nb, ok := s.st.Next[mac.String()]
	return nb, ok
}

// SetNext sets a machine's next boot. The target must be a profile of
// the current file or Local.
func (s *Store) SetNext(mac net.HardwareAddr, nb NextBoot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nb.Target != Local && s.file.Profiles[nb.Target] == nil {
		names := []string{Local}
		for n := range s.file.Profiles {
			names = append(names, n)
		}
		return fmt.Errorf("no profile %q (profiles: %v)", nb.Target, names)
	}
	if nb.Set.IsZero() {
		nb.Set = time.Now().UTC()
	}
	key := mac.String()
	if _, ok := s.st.Next[key]; !ok && s.file.Machines[key] == nil {
		n := 0
		for m := range s.st.Next {
			if s.file.Machines[m] == nil {
				n++
			}
		}
		if n >= MaxUnlisted {
			return fmt.Errorf("%d machines that the lab file does not list have a next boot set already (the limit): list %s under machines: in the lab file, or clear next boots of machines done with (DELETE)", n, key)
		}
	}
	old, had := s.st.Next[key]
	s.st.Next[key] = nb
	if err := s.save(); err != nil {
		if had {
			s.st.Next[key] = old
		} else {
			delete(s.st.Next, key)
		}
		return err
	}
	return nil
}

// ClearNext removes a machine's API next boot; the file decides again.
func (s *Store) ClearNext(mac net.HardwareAddr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.st.Next, mac.String())
	return s.save()
}

// save writes the state atomically; s.mu is held.
func (s *Store) save() error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving boot state: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("saving boot state: %w", err)
	}
	return nil
}

// Reservation returns the address reserved for mac in the file.
func (s *Store) Reservation(mac net.HardwareAddr) (m *Machine, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m = s.file.Machines[mac.String()]
	return m, m != nil && m.IP.IsValid()
}

// ReservedFor returns the machine an address is reserved for.
func (s *Store) ReservedFor(ip netip.Addr) (*Machine, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.reserved[ip]
	return m, m != nil
}

// Machines returns the MACs listed in the file.
func (s *Store) Machines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for mac := range s.file.Machines {
		out = append(out, mac)
	}
	for mac := range s.st.Next {
		if s.file.Machines[mac] == nil {
			out = append(out, mac)
		}
	}
	return out
}
