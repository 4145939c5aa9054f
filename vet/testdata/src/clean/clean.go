//rl:domain // want package:"domain"

// Package clean is a well-behaved domain: it holds its state in values it
// creates and reaches the world only through what it is given.
package clean

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"example.com/domains/other"
)

// ErrFull is a sentinel error.
var ErrFull = errors.New("clean: full")

const capacity = 4

var names = map[int]string{0: "zero", 1: "one"}

// A Store is one instance's state; its mutex is per instance.
type Store struct {
	mu    sync.Mutex
	items []string
	out   io.Writer
}

func New(out io.Writer) *Store { return &Store{out: out} }

func (s *Store) Add(item string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == capacity {
		return fmt.Errorf("add %q: %w", item, ErrFull)
	}
	s.items = append(s.items, item)
	sort.Strings(s.items)
	_, err := fmt.Fprintf(s.out, "%s %s %s\n", names[len(s.items)%2], strings.Join(s.items, ","), other.Hello())
	return err
}
