package globals

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Sentinel errors, constants, tables filled in their declaration, read-only
// variables and pointers to immutable types are fine.

var ErrNotFound = errors.New("not found")

const limit = 10

var (
	keywords = []string{"if", "for"}
	ops      = map[string]int{"+": 1, "-": 2}
	digits   = [10]byte{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}
	greeting = "hello"
	ident    = regexp.MustCompile(`^[a-z]+$`)
	replacer = strings.NewReplacer("a", "b")
	vowels   = &unicode.RangeTable{R16: []unicode.Range16{{Lo: 'a', Hi: 'a', Stride: 1}}}
	nested   = [][]int{{1}}
	handlers = map[string]func(string) string{"up": strings.ToUpper}
	defaults = struct{ limit int }{limit: 3}
)

func Reads(word string, r rune) (int, error) {
	if _, ok := ops[word]; !ok {
		return 0, fmt.Errorf("%q: %w", word, ErrNotFound)
	}
	n := ops[word] + len(keywords) + cap(keywords) + int(digits[3]) + len(greeting)
	for i, k := range keywords {
		n += i + len(k)
	}
	for k, v := range ops {
		n += len(k) + v
	}
	for _, row := range nested[0] {
		n += row
	}
	if slices.Contains(keywords, word) || ident.MatchString(word) || unicode.Is(vowels, r) {
		n++
	}
	n += len(strings.Join(keywords, ",")) + len(replacer.Replace(word))
	n += len(handlers["up"](word)) + defaults.limit + limit
	local := defaults
	local.limit++
	buf := make([]byte, 4)
	copy(buf, digits[:])
	_ = base64.StdEncoding.EncodeToString(buf)
	if keywords != nil && nested[0] != nil {
		n++
	}
	_ = keywords
	if errors.Is(ErrNotFound, ErrNotFound) {
		return n, ErrNotFound
	}
	return n, nil
}
