// Package system stands in for the composition root: it may use the os
// package, goroutines, recover and the kernel's whole API, but not unsafe,
// assembly or linkname.
package system

import (
	"os"
	_ "unsafe" // want `^unsafe: the composition root may not import "unsafe"`

	"github.com/rlgo/redleaf/kernel/domain"
)

//go:linkname nanotime runtime.nanotime // want `^directive: the composition root may not use //go:linkname`
func nanotime() int64 // want `^asm: function nanotime has no body`

var started int

func Boot() {
	started++
	m := domain.NewManager()
	go func() {
		defer func() { recover() }()
		_ = m.Kill(1)
	}()
	_ = os.Args
}
