//rl:domain

// Package crash is the crash program: it panics on purpose, to show (and
// test) that a failing program is reported to its parent and takes nothing
// else down. With arguments it writes them first, so a test can see it ran.
package crash

import (
	"strings"

	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("crash", main) }

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 {
		p.Println(strings.Join(p.Args[1:], " "))
	}
	panic("crash: panicking on purpose")
}
