// Package unsafecase imports unsafe.
package unsafecase

import "unsafe" // want `^unsafe: domains may not import "unsafe": it breaks memory safety`

func Size() uintptr { return unsafe.Sizeof(int64(0)) }
