package httpboot

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/rlgo/redleaf/netboot/journal"
)

// Limits bound what the HTTP side keeps and accepts. Zero fields take
// the defaults.
type Limits struct {
	// TokenTTL is how long a boot's token is accepted (default 24 h).
	TokenTTL time.Duration
	// BootsPerMachine is how many boots are remembered per machine
	// (default 8); a machine's new boot replaces its oldest, never
	// another machine's.
	BootsPerMachine int
	// MaxMachines bounds the machines not in the lab file whose boots
	// are remembered (default 4096); beyond it the one whose last boot
	// is oldest is forgotten. Machines in the lab file (and those with
	// a next boot set through the API) are always kept.
	MaxMachines int
	// MaxPost bounds one post's body (default 1 MiB).
	MaxPost int64
	// PostsPerBoot and BytesPerBoot bound what one boot may post
	// (default 64 posts, 4 MiB).
	PostsPerBoot int
	BytesPerBoot int64
	// TotalBytes bounds the results kept over all boots (default 256
	// MiB). When it is reached, the results of the oldest boots whose
	// token has expired make room; if there are none, posts are
	// refused.
	TotalBytes int64
	// MaxRanges bounds the ranges of one Range header (default 16).
	MaxRanges int
}

func (l Limits) withDefaults() Limits {
	if l.TokenTTL <= 0 {
		l.TokenTTL = 24 * time.Hour
	}
	if l.BootsPerMachine <= 0 {
		l.BootsPerMachine = 8
	}
	if l.MaxMachines <= 0 {
		l.MaxMachines = 4096
	}
	if l.MaxPost <= 0 {
		l.MaxPost = 1 << 20
	}
	if l.PostsPerBoot <= 0 {
		l.PostsPerBoot = 64
	}
	if l.BytesPerBoot <= 0 {
		l.BytesPerBoot = 4 << 20
	}
	if l.TotalBytes <= 0 {
		l.TotalBytes = 256 << 20
	}
	if l.MaxRanges <= 0 {
		l.MaxRanges = 16
	}
	return l
}

// Boot is the API's view of one boot of a machine.
type Boot struct {
	ID      string    `json:"id"`
	MAC     string    `json:"mac"`
	IP      string    `json:"ip"` // the address the boot is bound to
	Profile string    `json:"profile"`
	Source  string    `json:"source"`
	Time    time.Time `json:"time"`
	Expires time.Time `json:"token_expires"`
	Booted  time.Time `json:"booted,omitzero"`
	// Results lists what the image posted, newest last, without the
	// bodies (GET /api/boots/{id}/results has them, for the operator).
	Results []ResultInfo `json:"results,omitempty"`
}

// ResultInfo describes one post to /api/results.
type ResultInfo struct {
	Time  time.Time `json:"time"`
	Bytes int64     `json:"bytes"`
}

// Result is one post to /api/results with its body.
type Result struct {
	Time time.Time       `json:"time"`
	Body json.RawMessage `json:"body"`
}

// boot is a boot as kept.
type boot struct {
	id, mac, profile, source string
	ip                       netip.Addr
	time, expires, booted    time.Time
	token                    [32]byte // SHA-256 of the token: the state file holds no usable token
	results                  []result
	bytes                    int64 // of the results' bodies
}

type result struct {
	time time.Time
	size int64           // of the body
	off  int64           // of its record in the journal
	n    int             // record length with newline
	body json.RawMessage // in-memory store only
}

func (b *boot) view() Boot {
	v := Boot{ID: b.id, MAC: b.mac, IP: b.ip.String(), Profile: b.profile, Source: b.source, Time: b.time, Expires: b.expires, Booted: b.booted}
	for _, r := range b.results {
		v.Results = append(v.Results, ResultInfo{Time: r.time, Bytes: r.size})
	}
	return v
}

// record is one line of the boots journal.
type record struct {
	Op      string          `json:"op"` // "boot", "booted", "result"
	ID      string          `json:"id"`
	MAC     string          `json:"mac,omitempty"`
	IP      netip.Addr      `json:"ip,omitzero"`
	Profile string          `json:"profile,omitempty"`
	Source  string          `json:"source,omitempty"`
	Time    time.Time       `json:"time"`
	Expires time.Time       `json:"expires,omitzero"`
	Token   string          `json:"token_sha256,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// boots is the bounded store of boots and their results, journaled
// (package journal) to StateDir/http-boots.jsonl: appends only, one
// record per boot, report and result, compacted when dead records make
// up half the file. Its owner holds a lock around every call.
type boots struct {
	lim   Limits
	known func(mac string) bool

	byID    map[string]*boot
	byToken map[[32]byte]*boot
	byMAC   map[string][]*boot
	// unknown orders the machines not known to the lab file by their
	// last boot, oldest first; elem finds their entries.
	unknown *list.List
	elem    map[string]*list.Element

	j           *journal.Journal // nil: in memory
	live        int64            // journal bytes of remembered records
	resultBytes int64
}

func newBoots(lim Limits, known func(string) bool) *boots {
	if known == nil {
		known = func(string) bool { return false }
	}
	return &boots{lim: lim.withDefaults(), known: known, byID: map[string]*boot{}, byToken: map[[32]byte]*boot{},
		byMAC: map[string][]*boot{}, unknown: list.New(), elem: map[string]*list.Element{}}
}

// open loads the journal at path; the damage it skipped is returned to
// be logged.
func (s *boots) open(path string) (*journal.Damage, error) {
	j, damage, err := journal.Open(path, s.replay)
	if err != nil {
		return nil, fmt.Errorf("boots file: %w", err)
	}
	s.j = j
	return damage, s.compact()
}

func (s *boots) replay(line []byte, off int64) error {
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("not a boot record: %v", err)
	}
	n := len(line) + 1
	switch r.Op {
	case "boot":
		sum, err := hex.DecodeString(r.Token)
		if err != nil || len(sum) != 32 || r.ID == "" || r.MAC == "" {
			return errors.New("not a boot record: bad id, mac or token")
		}
		b := &boot{id: r.ID, mac: r.MAC, ip: r.IP, profile: r.Profile, source: r.Source, time: r.Time, expires: r.Expires}
		copy(b.token[:], sum)
		s.insert(b, n)
	case "booted":
		if b := s.byID[r.ID]; b != nil {
			b.booted = r.Time
			s.live += int64(n)
		}
	case "result":
		if b := s.byID[r.ID]; b != nil {
			s.addResult(b, result{time: r.Time, size: int64(len(r.Body)), off: off, n: n})
			s.live += int64(n)
		}
	default:
		return fmt.Errorf("unknown op %q", r.Op)
	}
	return nil
}

// insert remembers a boot: it replaces the machine's oldest beyond
// BootsPerMachine, and a machine not known to the lab file may push out
// the unknown machine whose last boot is oldest.
func (s *boots) insert(b *boot, recLen int) {
	s.byID[b.id] = b
	s.byToken[b.token] = b
	s.live += int64(recLen)
	list := append(s.byMAC[b.mac], b)
	for len(list) > s.lim.BootsPerMachine {
		s.forget(list[0])
		list = list[1:]
	}
	s.byMAC[b.mac] = list
	if s.known(b.mac) {
		if e := s.elem[b.mac]; e != nil {
			s.unknown.Remove(e)
			delete(s.elem, b.mac)
		}
		return
	}
	if e := s.elem[b.mac]; e != nil {
		s.unknown.MoveToBack(e)
	} else {
		s.elem[b.mac] = s.unknown.PushBack(b.mac)
	}
	for s.unknown.Len() > s.lim.MaxMachines {
		mac := s.unknown.Remove(s.unknown.Front()).(string)
		delete(s.elem, mac)
		if s.known(mac) {
			continue // listed since: kept
		}
		for _, old := range s.byMAC[mac] {
			s.forget(old)
		}
		delete(s.byMAC, mac)
	}
}

// forget drops a boot from the indexes (not from byMAC).
func (s *boots) forget(b *boot) {
	delete(s.byID, b.id)
	delete(s.byToken, b.token)
	s.dropResults(b)
	s.live -= int64(s.recordLen(b))
}

func (s *boots) dropResults(b *boot) {
	for _, r := range b.results {
		s.live -= int64(r.n)
	}
	s.resultBytes -= b.bytes
	b.results, b.bytes = nil, 0
}

// recordLen estimates the journal bytes of a boot's own records.
func (s *boots) recordLen(b *boot) int {
	line, _ := json.Marshal(bootRecord(b))
	n := len(line) + 1
	if !b.booted.IsZero() {
		line, _ = json.Marshal(record{Op: "booted", ID: b.id, Time: b.booted})
		n += len(line) + 1
	}
	return n
}

func bootRecord(b *boot) record {
	return record{Op: "boot", ID: b.id, MAC: b.mac, IP: b.ip, Profile: b.profile, Source: b.source, Time: b.time, Expires: b.expires, Token: hex.EncodeToString(b.token[:])}
}

func (s *boots) addResult(b *boot, r result) {
	b.results = append(b.results, r)
	b.bytes += r.size
	s.resultBytes += r.size
}

// add journals and remembers a new boot.
func (s *boots) add(b *boot) error {
	n := 0
	if s.j != nil {
		var err error
		if _, n, err = s.j.Append(bootRecord(b)); err != nil {
			return err
		}
	}
	s.insert(b, n)
	s.maybeCompact()
	return nil
}

// markBooted records a boot's "booted" report.
func (s *boots) markBooted(b *boot, t time.Time) error {
	if s.j != nil {
		_, n, err := s.j.Append(record{Op: "booted", ID: b.id, Time: t})
		if err != nil {
			return err
		}
		s.live += int64(n)
	}
	b.booted = t
	s.maybeCompact()
	return nil
}

// errFull and errBootLimit say why a result is refused.
var (
	errFull      = errors.New("results storage is full")
	errBootLimit = errors.New("this boot has posted as much as it may")
)

// addResult records a post, within the limits.
func (s *boots) post(b *boot, t, now time.Time, body json.RawMessage) error {
	size := int64(len(body))
	if len(b.results) >= s.lim.PostsPerBoot || b.bytes+size > s.lim.BytesPerBoot {
		return fmt.Errorf("%w (%d posts, %d bytes; the limits are %d posts and %d bytes per boot)", errBootLimit, len(b.results), b.bytes, s.lim.PostsPerBoot, s.lim.BytesPerBoot)
	}
	if s.resultBytes+size > s.lim.TotalBytes {
		s.makeRoom(size, now)
		if s.resultBytes+size > s.lim.TotalBytes {
			return fmt.Errorf("%w (%d bytes kept, the limit is %d, and no expired boot's results can make room)", errFull, s.resultBytes, s.lim.TotalBytes)
		}
	}
	r := result{time: t, size: size}
	if s.j != nil {
		off, n, err := s.j.Append(record{Op: "result", ID: b.id, Time: t, Body: body})
		if err != nil {
			return err
		}
		r.off, r.n = off, n
		s.live += int64(n)
	} else {
		r.body = body
	}
	s.addResult(b, r)
	s.maybeCompact()
	return nil
}

// makeRoom drops the results of the oldest boots whose token expired
// until size more bytes fit.
func (s *boots) makeRoom(size int64, now time.Time) {
	var old []*boot
	for _, b := range s.byID {
		if len(b.results) > 0 && !now.Before(b.expires) {
			old = append(old, b)
		}
	}
	sort.Slice(old, func(i, j int) bool { return old[i].time.Before(old[j].time) })
	for _, b := range old {
		if s.resultBytes+size <= s.lim.TotalBytes {
			return
		}
		s.dropResults(b)
	}
}

// bodies returns a boot's results with their bodies.
func (s *boots) bodies(b *boot) ([]Result, error) {
	out := make([]Result, 0, len(b.results))
	var f *os.File
	if s.j != nil && len(b.results) > 0 {
		var err error
		if f, err = os.Open(s.j.Path()); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	for _, r := range b.results {
		body := r.body
		if f != nil {
			line := make([]byte, r.n)
			if _, err := f.ReadAt(line, r.off); err != nil {
				return nil, fmt.Errorf("reading results: %w", err)
			}
			var rec record
			if err := json.Unmarshal(line, &rec); err != nil || rec.ID != b.id {
				return nil, fmt.Errorf("results file: record at %d is not a result of boot %s", r.off, b.id)
			}
			body = rec.Body
		}
		out = append(out, Result{Time: r.time, Body: body})
	}
	return out, nil
}

// maybeCompact rewrites the journal when dead records make up more than
// half of it.
func (s *boots) maybeCompact() {
	if s.j != nil && s.j.Size() > 2*s.live+1<<20 {
		s.compact()
	}
}

// compact rewrites the journal with the remembered boots and results.
func (s *boots) compact() error {
	if s.j == nil {
		return nil
	}
	old, err := os.Open(s.j.Path())
	if err != nil {
		return err
	}
	defer old.Close()
	type move struct {
		r   *result
		off int64
	}
	var moves []move
	var live int64
	all := make([]*boot, 0, len(s.byID))
	for _, b := range s.byID {
		all = append(all, b)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].time.Before(all[j].time) })
	err = s.j.Rewrite(func(write func([]byte) (int64, error)) error {
		put := func(v any) error {
			line, err := json.Marshal(v)
			if err == nil {
				_, err = write(line)
				live += int64(len(line)) + 1
			}
			return err
		}
		for _, b := range all {
			if err := put(bootRecord(b)); err != nil {
				return err
			}
			if !b.booted.IsZero() {
				if err := put(record{Op: "booted", ID: b.id, Time: b.booted}); err != nil {
					return err
				}
			}
			for i := range b.results {
				r := &b.results[i]
				line := make([]byte, r.n)
				if _, err := old.ReadAt(line, r.off); err != nil {
					return err
				}
				off, err := write(line[:len(line)-1])
				if err != nil {
					return err
				}
				live += int64(r.n)
				moves = append(moves, move{r, off})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range moves {
		m.r.off = m.off
	}
	s.live = live
	return nil
}

func (s *boots) close() error {
	if s.j == nil {
		return nil
	}
	return s.j.Close()
}

func tokenSum(token string) [32]byte { return sha256.Sum256([]byte(token)) }
