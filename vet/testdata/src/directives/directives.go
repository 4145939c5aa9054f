//go:build !never

// Package directives uses compiler directives and assembly.
package directives

import (
	_ "embed"
	_ "unsafe" // want `^unsafe: `
)

//go:embed data.txt
var data string

//go:linkname nanotime runtime.nanotime // want `^directive: domains may not use //go:linkname: it binds a name to any symbol`
func nanotime() int64 // want `^asm: function nanotime has no body`

//go:noescape // want `^directive: domains may not use //go:noescape: it makes an unchecked claim`
func add(a, b int) int // want `^asm: function add has no body`

//go:nocheckptr // want `^directive: domains may not use //go:nocheckptr`
//go:systemstack // want `^directive: domains may not use //go:systemstack: domains may use only go:build`
func f() {}

// Harmless directives.
//
//go:noinline
//go:nosplit
//go:norace
func g() string { return data }

//go:generate echo generating
