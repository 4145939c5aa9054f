package maglev

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	lb "github.com/rlgo/redleaf/apps/maglev"
	"github.com/rlgo/redleaf/rv6/ulib"
)

// A control is what the control thread hands the forwarding thread: a
// table filled for a new set of backends, or a request.
type control struct {
	table    *lb.Table
	backends []lb.Backend
	what     string // "removed web2", "added web5", "web1 weight 3"
	removed  string // the backend the change removed, if any

	stats bool // print the counters
	quit  bool // end the run (eof: because the input ended)
	eof   bool
}

// maxLine bounds a command line.
const maxLine = 4096

// controlLoop reads commands from q's standard input, one per line, until
// quit or the end of the input, and hands them to the forwarding thread
// (which owns the balancer) on out; it stops once done is closed. The
// table for a change is filled here, on this thread, so forwarding goes
// on meanwhile; the forwarding thread only swaps it in. Commands:
//
//	add NAME MAC [WEIGHT]   a new backend
//	remove NAME             take a backend out (its flows move; the others stay)
//	weight NAME WEIGHT      change a backend's weight
//	stats                   print the counters
//	quit                    end the run
//
// Empty lines and lines starting with # are ignored; a bad command is
// reported on the standard error and changes nothing.
func controlLoop(q *ulib.Proc, out chan<- control, done <-chan struct{}, m int, backends []lb.Backend) {
	cur := slices.Clone(backends)
	send := func(c control) bool {
		select {
		case out <- c:
			return true
		case <-done:
			return false
		}
	}
	sc := bufio.NewScanner(q.Stdin)
	sc.Buffer(make([]byte, 256), maxLine)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var c control
		switch f[0] {
		case "stats":
			c.stats = true
		case "quit":
			c.quit = true
		case "add", "remove", "weight":
			next, what, removed, err := change(cur, f)
			if err != nil {
				q.Errorf("%v", err)
				continue
			}
			t, err := lb.NewTable(m, next)
			if err != nil {
				q.Errorf("%s: %v", what, err)
				continue
			}
			c = control{table: t, backends: next, what: what, removed: removed}
			cur = next
		default:
			q.Errorf("unknown command %q: want add NAME MAC [WEIGHT], remove NAME, weight NAME WEIGHT, stats or quit", f[0])
			continue
		}
		if !send(c) || c.quit {
			return
		}
	}
	if err := sc.Err(); err != nil {
		q.Errorf("reading commands: %v", err)
	}
	send(control{quit: true, eof: true})
}

// change returns the backends after command f (add, remove, weight), what
// it did, and the name it removed.
func change(cur []lb.Backend, f []string) (next []lb.Backend, what, removed string, err error) {
	find := func(name string) int {
		return slices.IndexFunc(cur, func(b lb.Backend) bool { return b.Name == name })
	}
	switch {
	case f[0] == "add" && (len(f) == 3 || len(f) == 4):
		spec := f[1] + "=" + f[2]
		if len(f) == 4 {
			spec += "/" + f[3]
		}
		b, err := lb.ParseBackend(spec)
		if err != nil {
			return nil, "", "", err
		}
		if find(b.Name) >= 0 {
			return nil, "", "", fmt.Errorf("add %s: there is a backend of that name already", b.Name)
		}
		return append(slices.Clone(cur), b), "added " + b.Name, "", nil
	case f[0] == "remove" && len(f) == 2:
		i := find(f[1])
		if i < 0 {
			return nil, "", "", fmt.Errorf("remove %s: no such backend (backends: %s)", f[1], names(cur))
		}
		if len(cur) == 1 {
			return nil, "", "", fmt.Errorf("remove %s: it is the last backend", f[1])
		}
		return slices.Delete(slices.Clone(cur), i, i+1), "removed " + f[1], f[1], nil
	case f[0] == "weight" && len(f) == 3:
		i := find(f[1])
		if i < 0 {
			return nil, "", "", fmt.Errorf("weight %s: no such backend (backends: %s)", f[1], names(cur))
		}
		w, err := lb.ParseWeight(f[2])
		if err != nil {
			return nil, "", "", fmt.Errorf("weight %s: %w", f[1], err)
		}
		next = slices.Clone(cur)
		next[i].Weight = w
		return next, fmt.Sprintf("%s weight %d", f[1], w), "", nil
	}
	return nil, "", "", fmt.Errorf("bad command %q: want add NAME MAC [WEIGHT], remove NAME, weight NAME WEIGHT", strings.Join(f, " "))
}

func names(bs []lb.Backend) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = b.Name
	}
	return strings.Join(s, ", ")
}
