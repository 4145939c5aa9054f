// Package cgocase uses cgo; see TestCgo.
package cgocase

// #include <stdlib.h>
import "C" // want `^cgo: domains may not use cgo \(import "C"\)`

func Rand() int { return int(C.rand()) }
