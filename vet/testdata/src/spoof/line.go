//line line_test.go:1
package spoof

import _ "syscall" // want `^import: domains may not import "syscall"`
