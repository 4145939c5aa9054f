package maglev

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxWeight bounds a backend's weight: a table of M entries gives a
// backend of weight 1 among weights up to MaxWeight at least a few
// entries for any reasonable pool.
const MaxWeight = 1000

// ParseBackend reads one backend, NAME=MAC[/WEIGHT], e.g.
// web1=02:00:00:00:00:01/2 (weight 1 if absent).
func ParseBackend(s string) (Backend, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return Backend{}, fmt.Errorf("maglev: backend %q: want NAME=MAC[/WEIGHT], e.g. web1=02:00:00:00:00:01/2", s)
	}
	if strings.ContainsAny(name, " \t,=/") {
		return Backend{}, fmt.Errorf("maglev: backend %q: the name may not contain spaces, commas, '=' or '/'", s)
	}
	b := Backend{Name: name, Weight: 1}
	macText, w, hasW := strings.Cut(rest, "/")
	mac, err := ParseMAC(macText)
	if err != nil {
		return Backend{}, fmt.Errorf("maglev: backend %q: %w", s, err)
	}
	b.MAC = mac
	if hasW {
		if b.Weight, err = ParseWeight(w); err != nil {
			return Backend{}, fmt.Errorf("maglev: backend %q: %w", s, err)
		}
	}
	return b, nil
}

// ParseWeight reads a weight, 1..MaxWeight.
func ParseWeight(s string) (int, error) {
	w, err := strconv.Atoi(s)
	if err != nil || w < 1 || w > MaxWeight {
		return 0, fmt.Errorf("bad weight %q: want 1..%d", s, MaxWeight)
	}
	return w, nil
}

// ParseBackends reads a comma-separated list of backends (see
// ParseBackend); names must be unique.
func ParseBackends(s string) ([]Backend, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("maglev: no backends: give at least one as NAME=MAC[/WEIGHT]")
	}
	var bs []Backend
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		b, err := ParseBackend(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		if seen[b.Name] {
			return nil, fmt.Errorf("maglev: backend %s given twice", b.Name)
		}
		seen[b.Name] = true
		bs = append(bs, b)
	}
	return bs, nil
}

// ParseMAC reads a unicast MAC address written as six hex bytes separated
// by colons.
func ParseMAC(s string) ([6]byte, error) {
	var mac [6]byte
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return mac, fmt.Errorf("bad MAC address %q: want six hex bytes, e.g. 02:00:00:00:00:01", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) != 2 {
			return mac, fmt.Errorf("bad MAC address %q: want six hex bytes, e.g. 02:00:00:00:00:01", s)
		}
		mac[i] = byte(v)
	}
	if mac[0]&1 != 0 || mac == [6]byte{} {
		return mac, fmt.Errorf("bad MAC address %q: a backend's address must be unicast and not zero", s)
	}
	return mac, nil
}

// FormatMAC writes mac as ParseMAC reads it.
func FormatMAC(mac [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
}
