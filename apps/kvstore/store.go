//rl:domain

// Package kvstore is a key-value store speaking memcached's text protocol
// (get/gets, gat/gats, set/add/replace, append/prepend, cas, delete,
// incr/decr, touch, flush_all, stats, version, verbosity, quit, noreply),
// with bounded memory and LRU eviction, over any byte stream (an
// io.ReadWriter: a socket of the Rv6 stack, or a host net.Conn in tests).
//
// A Store is safe for concurrent use by the connections of a Server; each
// connection is served by one call of Server.ServeConn. Clients are
// treated as hostile: lines, keys and values have limits, a connection's
// buffers are fixed in size, the connection count is bounded and an idle
// connection is dropped when its stream supports deadlines.
package kvstore

import (
	"strconv"
	"sync"
	"time"
)

// Limits of the protocol (memcached's).
const (
	MaxKeyLen = 250
	// itemOverhead is what an item costs besides its key and value, for
	// the memory bound: the struct, the map entry, the list links.
	itemOverhead = 96
)

type item struct {
	key        string
	val        []byte
	flags      uint32
	exp        int64 // unix seconds; 0: never
	cas        uint64
	stored     int64 // unix seconds, for flush_all with a delay
	prev, next *item
}

func (it *item) size() int64 { return int64(len(it.key) + len(it.val) + itemOverhead) }

// Stats are the store's counters, as memcached's stats names them.
type Stats struct {
	CurrItems, TotalItems, Bytes               int64
	CmdGet, CmdSet, CmdTouch, CmdFlush         uint64
	GetHits, GetMisses, GetExpired, GetFlushed uint64
	DeleteHits, DeleteMisses                   uint64
	IncrHits, IncrMisses, DecrHits, DecrMisses uint64
	CasHits, CasMisses, CasBadval              uint64
	TouchHits, TouchMisses                     uint64
	Evictions, Expired                         uint64
	CurrConns, TotalConns, RejectedConns       int64
	LimitMaxBytes                              int64
}

// A Store is the cache: a map and an LRU list, bounded by bytes.
type Store struct {
	mu       sync.Mutex
	items    map[string]*item
	head     *item // most recently used
	tail     *item
	maxBytes int64
	maxItem  int
	cas      uint64
	flushAt  int64 // items stored at or before it are gone once now >= it; 0: none
	now      func() time.Time
	started  time.Time
	st       Stats
}

// NewStore makes a store of at most maxBytes (keys, values and overhead)
// whose items are at most maxItem bytes of value; now is its clock (nil:
// time.Now).
func NewStore(maxBytes int64, maxItem int, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{items: make(map[string]*item), maxBytes: maxBytes, maxItem: maxItem, now: now, started: now(), st: Stats{LimitMaxBytes: maxBytes}}
}

func (s *Store) unix() int64 { return s.now().Unix() }

// expTime turns a protocol exptime into unix seconds (0: never; negative:
// already expired): up to 30 days it is relative, beyond an absolute time.
func expTime(v int64, now int64) int64 {
	switch {
	case v == 0:
		return 0
	case v < 0:
		return now - 1
	case v <= 60*60*24*30:
		return now + v
	}
	return v
}

// live returns the item for key if it exists and has not expired or been
// flushed; a dead one is removed.
func (s *Store) live(key []byte, now int64) *item {
	it := s.items[string(key)]
	if it == nil {
		return nil
	}
	if it.exp != 0 && it.exp <= now {
		s.st.Expired++
		s.remove(it)
		return nil
	}
	if s.flushAt != 0 && now >= s.flushAt && it.stored <= s.flushAt {
		s.remove(it)
		return nil
	}
	return it
}

func (s *Store) unlink(it *item) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		s.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		s.tail = it.prev
	}
	it.prev, it.next = nil, nil
}

func (s *Store) pushFront(it *item) {
	it.next = s.head
	if s.head != nil {
		s.head.prev = it
	}
	s.head = it
	if s.tail == nil {
		s.tail = it
	}
}

func (s *Store) touchLRU(it *item) {
	if s.head != it {
		s.unlink(it)
		s.pushFront(it)
	}
}

func (s *Store) remove(it *item) {
	s.unlink(it)
	delete(s.items, it.key)
	s.st.CurrItems--
	s.st.Bytes -= it.size()
}

// insert stores it (replacing any item of its key) and evicts from the
// LRU end until the store fits.
func (s *Store) insert(it *item, now int64) {
	if old := s.items[it.key]; old != nil {
		s.remove(old)
	}
	s.cas++
	it.cas = s.cas
	it.stored = now
	s.items[it.key] = it
	s.pushFront(it)
	s.st.CurrItems++
	s.st.TotalItems++
	s.st.Bytes += it.size()
	for s.st.Bytes > s.maxBytes && s.tail != nil && s.tail != it {
		s.remove(s.tail)
		s.st.Evictions++
	}
}

// Mode is a storage command.
type Mode uint8

// The storage commands.
const (
	Set Mode = iota
	Add
	Replace
	Append
	Prepend
	Cas
)

// Result is the outcome of a storage command.
type Result uint8

// The outcomes, as the protocol words them.
const (
	Stored Result = iota
	NotStored
	Exists
	NotFound
	TooLarge
)

// Store runs a storage command. val is kept by the store (the caller must
// not reuse it).
func (s *Store) Store(mode Mode, key []byte, flags uint32, exptime int64, val []byte, cas uint64) Result {
	if len(val) > s.maxItem || int64(len(key)+len(val)+itemOverhead) > s.maxBytes {
		return TooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.unix()
	s.st.CmdSet++
	old := s.live(key, now)
	switch mode {
	case Add:
		if old != nil {
			s.touchLRU(old)
			return NotStored
		}
	case Replace:
		if old == nil {
			return NotStored
		}
	case Append, Prepend:
		if old == nil {
			return NotStored
		}
		if len(old.val)+len(val) > s.maxItem {
			return TooLarge
		}
		joined := make([]byte, 0, len(old.val)+len(val))
		if mode == Append {
			joined = append(append(joined, old.val...), val...)
		} else {
			joined = append(append(joined, val...), old.val...)
		}
		s.insert(&item{key: old.key, val: joined, flags: old.flags, exp: old.exp}, now)
		return Stored
	case Cas:
		if old == nil {
			s.st.CasMisses++
			return NotFound
		}
		if old.cas != cas {
			s.st.CasBadval++
			return Exists
		}
		s.st.CasHits++
	}
	s.insert(&item{key: string(key), val: val, flags: flags, exp: expTime(exptime, now)}, now)
	return Stored
}

// An Item is what Get returns: a copy of the value's header and the value
// itself, which the store never changes in place (updates replace it).
type Item struct {
	Flags uint32
	Cas   uint64
	Value []byte
}

// Get looks key up; with touch it also sets a new exptime (gat).
func (s *Store) Get(key []byte, touch bool, exptime int64) (Item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.unix()
	s.st.CmdGet++
	if touch {
		s.st.CmdTouch++
	}
	it := s.live(key, now)
	if it == nil {
		s.st.GetMisses++
		if touch {
			s.st.TouchMisses++
		}
		return Item{}, false
	}
	s.st.GetHits++
	if touch {
		s.st.TouchHits++
		it.exp = expTime(exptime, now)
	}
	s.touchLRU(it)
	return Item{Flags: it.flags, Cas: it.cas, Value: it.val}, true
}

// Touch sets key's exptime.
func (s *Store) Touch(key []byte, exptime int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.unix()
	s.st.CmdTouch++
	it := s.live(key, now)
	if it == nil {
		s.st.TouchMisses++
		return false
	}
	s.st.TouchHits++
	it.exp = expTime(exptime, now)
	s.touchLRU(it)
	return true
}

// Delete removes key.
func (s *Store) Delete(key []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.live(key, s.unix())
	if it == nil {
		s.st.DeleteMisses++
		return false
	}
	s.st.DeleteHits++
	s.remove(it)
	return true
}

// IncrResult is the outcome of Incr.
type IncrResult uint8

// The outcomes.
const (
	IncrOK IncrResult = iota
	IncrNotFound
	IncrNonNumeric
)

// Incr adds delta to (or, with decr, subtracts it from, stopping at 0) the
// decimal value of key; incr wraps at 2^64 as memcached does.
func (s *Store) Incr(key []byte, delta uint64, decr bool) (uint64, IncrResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.unix()
	it := s.live(key, now)
	if it == nil {
		if decr {
			s.st.DecrMisses++
		} else {
			s.st.IncrMisses++
		}
		return 0, IncrNotFound
	}
	v, ok := parseUint(it.val)
	if !ok {
		return 0, IncrNonNumeric
	}
	if decr {
		s.st.DecrHits++
		if delta > v {
			v = 0
		} else {
			v -= delta
		}
	} else {
		s.st.IncrHits++
		v += delta
	}
	nv := strconv.AppendUint(make([]byte, 0, 20), v, 10)
	s.insert(&item{key: it.key, val: nv, flags: it.flags, exp: it.exp}, now)
	return v, IncrOK
}

// parseUint parses a decimal uint64 (memcached's strtoull, without
// leading spaces; trailing spaces are allowed, as decr leaves them).
func parseUint(b []byte) (uint64, bool) {
	n := len(b)
	for n > 0 && b[n-1] == ' ' {
		n--
	}
	if n == 0 || n > 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:n]), 10, 64)
	return v, err == nil
}

// Flush invalidates every item, now (delay 0) or in delay seconds.
func (s *Store) Flush(delay int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.CmdFlush++
	now := s.unix()
	if delay <= 0 {
		clear(s.items)
		s.head, s.tail = nil, nil
		s.st.CurrItems, s.st.Bytes = 0, 0
		s.flushAt = 0
		return
	}
	s.flushAt = now + delay
}

// Stats reads the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *Store) conns(d int64, rejected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rejected {
		s.st.RejectedConns++
		return
	}
	s.st.CurrConns += d
	if d > 0 {
		s.st.TotalConns++
	}
}
