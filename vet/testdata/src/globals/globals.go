// Package globals writes package-level variables in every way the rule knows.
package globals

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"unicode"
)

type counter struct{ n int }

func (c *counter) inc()    { c.n++ }
func (c counter) get() int { return c.n }

var (
	count   int
	name    = "x"
	table   = map[string]int{"a": 1}
	list    = []string{"b", "a"}
	arr     [4]int
	cfg     = struct{ limit int }{limit: 3}
	ptr     = &counter{}
	val     counter
	mu      sync.Mutex
	hits    atomic.Int64
	raw     int64
	events  = make(chan int, 1)
	cmds    = map[string]*counter{"a": {}}
	spare   = []string{"x"}
	aliased = []int{1}
	hook    func()
)

func Writes() {
	count = 1                 // want `^global: assigns to package-level var count: package-level variables are shared by every instance of the domain`
	count++                   // want `^global: increments package-level var count`
	count--                   // want `^global: decrements package-level var count`
	count += 2                // want `^global: assigns to package-level var count`
	name, count = "y", 3      // want `^global: assigns to package-level var name` `^global: assigns to package-level var count`
	table["b"] = 2            // want `^global: assigns to package-level var table`
	delete(table, "a")        // want `^global: deletes from package-level var table`
	clear(table)              // want `^global: clears package-level var table`
	list[0] = "c"             // want `^global: assigns to package-level var list`
	list = append(list, "d")  // want `^global: assigns to package-level var list` `^global: appends to package-level var list`
	_ = append(spare, "e")    // want `^global: appends to package-level var spare`
	copy(list, []string{"z"}) // want `^global: copies into package-level var list`
	arr[1]++                  // want `^global: increments package-level var arr`
	cfg.limit = 4             // want `^global: assigns to package-level var cfg`
	ptr.n = 5                 // want `^global: assigns to package-level var ptr`
	*ptr = counter{}          // want `^global: assigns to package-level var ptr`
	cmds["a"].n = 1           // want `^global: assigns to package-level var cmds`
	val.inc()                 // want `^global: takes the address of package-level var val, calling pointer method inc`
	mu.Lock()                 // want `^global: takes the address of package-level var mu, calling pointer method Lock`
	defer mu.Unlock()         // want `^global: takes the address of package-level var mu, calling pointer method Unlock`
	hits.Add(1)               // want `^global: takes the address of package-level var hits, calling pointer method Add`
	p := &count               // want `^global: takes the address of package-level var count`
	_ = p
	atomic.AddInt64(&raw, 1) // want `^global: takes the address of package-level var raw`
	events <- 1              // want `^global: sends on package-level var events`
	<-events                 // want `^global: receives from package-level var events`
	close(events)            // want `^global: closes package-level var events`
	for count = range 3 {    // want `^global: assigns to package-level var count`
	}
	hook = func() {}            // want `^global: assigns to package-level var hook`
	unicode.Upper = nil         // want `^global: assigns to package-level var unicode.Upper`
	errors.ErrUnsupported = nil // want `^global: assigns to package-level var errors.ErrUnsupported`
}

func Escapes() []int {
	sort.Strings(list) // want `^global: lets a reference into package-level var list \(\[\]string\) escape, passed to sort.Strings`
	m := table         // want `^global: lets a reference into package-level var table \(map\[string\]int\) escape, copied`
	_ = m
	c := cmds["a"] // want `^global: lets a reference into package-level var cmds \(\*counter\) escape, copied`
	_ = c.get()
	for _, c := range cmds { // want `^global: lets a reference into package-level var cmds .* by ranging over its reference-typed elements`
		_ = c
	}
	ptr.inc()   // want `^global: lets a reference into package-level var ptr \(\*counter\) escape, as the receiver of method inc`
	s := arr[:] // want `^global: lets a reference into package-level var arr \(\[\]int\) escape, copied`
	_ = s
	return aliased // want `^global: lets a reference into package-level var aliased`
}

// Declarations are code too: another variable's initializer may not take
// a reference to a variable or write it.
var (
	alias  = &count                 // want `^global: takes the address of package-level var count`
	joined = append(list, spare...) // want `^global: appends to package-level var list`
	unlock = mu.Unlock              // want `^global: takes the address of package-level var mu, calling pointer method Unlock`
)

func init() {
	count = 10 // want `^global: assigns to package-level var count`
}
