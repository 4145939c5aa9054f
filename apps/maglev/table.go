//rl:domain

// Package maglev is the Maglev load balancer (Eisenbud et al., NSDI
// 2016): consistent hashing through a lookup table of prime size M
// (65537 by default) filled by the paper's population algorithm, with
// backend weights; connection tracking, so that a flow stays on its
// backend when the table changes; and forwarding loops that send each
// IPv4 packet to its backend by rewriting the destination MAC address:
// Ports between two NICs (idl.Net), in place in the drivers' packet
// deques, which Rv6's maglev program runs, and Forward over the stack's
// Link.
package maglev

import (
	"errors"
	"fmt"
	"hash/fnv"
)

// DefaultSize is the paper's table size.
const DefaultSize = 65537

// MaxSize bounds a table's size (64 MiB of entries); the paper's large
// pools use 655373.
const MaxSize = 1 << 24

// A Backend is a server behind the balancer.
type Backend struct {
	Name   string  // identifies it: its offset and skip come from hashes of it
	Weight int     // relative share of the table (default 1)
	MAC    [6]byte // where its packets go
}

// A Table is a Maglev lookup table: entry[j] is the index (in Backends())
// of the backend serving hash bucket j.
type Table struct {
	m        int
	backends []Backend
	entry    []int32
	// Scratch space of Populate, kept to refill without allocating.
	next, offset, skip []uint64
}

// ErrNoBackends: a table needs at least one backend.
var ErrNoBackends = errors.New("maglev: no backends")

// NewTable makes a table of size m (a prime; 0 takes DefaultSize) for
// backends, filled by Populate.
func NewTable(m int, backends []Backend) (*Table, error) {
	if m == 0 {
		m = DefaultSize
	}
	if m > MaxSize {
		return nil, fmt.Errorf("maglev: table size %d is too large: at most %d (use 65537, or 655373 for large pools)", m, MaxSize)
	}
	if m < 2 || !isPrime(m) {
		return nil, fmt.Errorf("maglev: table size %d is not a prime (use 65537, or 655373 for large pools)", m)
	}
	t := &Table{m: m, entry: make([]int32, m)}
	if err := t.Populate(backends); err != nil {
		return nil, err
	}
	return t, nil
}

func isPrime(n int) bool {
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return n >= 2
}

// Size is M.
func (t *Table) Size() int { return t.m }

// Backends are the backends, in the order entries index them.
func (t *Table) Backends() []Backend { return t.backends }

// hashes are the two hashes of a backend name the paper uses for its
// permutation: offset from h1, skip from h2 (FNV-1a with two salts).
func hashes(name string) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte("maglev-offset:"))
	h.Write([]byte(name))
	h1 := h.Sum64()
	h.Reset()
	h.Write([]byte("maglev-skip:"))
	h.Write([]byte(name))
	return h1, h.Sum64()
}

// Populate fills the table for backends (Algorithm 1 of the paper): each
// backend, in turn, takes the next free entry of its permutation
// (offset + j*skip) mod M until the table is full. A backend of weight w
// takes a turn in w of every wmax rounds, so shares follow the weights.
func (t *Table) Populate(backends []Backend) error {
	if len(backends) == 0 {
		return ErrNoBackends
	}
	if len(backends) > t.m {
		return fmt.Errorf("maglev: %d backends for a table of %d entries", len(backends), t.m)
	}
	seen := make(map[string]bool, len(backends))
	wmax := 0
	bs := make([]Backend, len(backends))
	for i, b := range backends {
		if b.Weight == 0 {
			b.Weight = 1
		}
		if b.Weight < 0 || b.Name == "" || seen[b.Name] {
			return fmt.Errorf("maglev: backend %d (%q): names must be unique and non-empty, weights positive", i, b.Name)
		}
		seen[b.Name] = true
		wmax = max(wmax, b.Weight)
		bs[i] = b
	}
	n := len(bs)
	t.backends = bs
	t.next, t.offset, t.skip = make([]uint64, n), make([]uint64, n), make([]uint64, n)
	m := uint64(t.m)
	for i, b := range bs {
		h1, h2 := hashes(b.Name)
		t.offset[i] = h1 % m
		t.skip[i] = h2%(m-1) + 1
	}
	for j := range t.entry {
		t.entry[j] = -1
	}
	filled := 0
	for round := 0; ; round++ {
		for i := range bs {
			// Weighted turns: backend i plays in this round if its
			// credit crosses an integer.
			w := bs[i].Weight
			if (round+1)*w/wmax == round*w/wmax {
				continue
			}
			c := (t.offset[i] + t.next[i]*t.skip[i]) % m
			for t.entry[c] >= 0 {
				t.next[i]++
				c = (t.offset[i] + t.next[i]*t.skip[i]) % m
			}
			t.entry[c] = int32(i)
			t.next[i]++
			filled++
			if filled == t.m {
				return nil
			}
		}
	}
}

// Lookup is the backend index for a flow hash.
func (t *Table) Lookup(hash uint64) int { return int(t.entry[hash%uint64(t.m)]) }

// Counts returns how many entries each backend has.
func (t *Table) Counts() []int {
	c := make([]int, len(t.backends))
	for _, e := range t.entry {
		c[e]++
	}
	return c
}
