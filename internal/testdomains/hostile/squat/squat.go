// Package squat is a hostile package (see package hostile): it registers
// the kind name "ramdisk", which belongs to the RAM disk driver, hoping to
// be created in its place (its import path sorts before the driver's, so
// it is initialized first). Both registrations stand at init, and the
// kernel creates neither: Create("ramdisk") fails, naming both packages.
package squat

import (
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
)

// Kind is the name it takes.
const Kind = "ramdisk"

// Created counts the instances the kernel made of it: it must stay 0.
var Created int

func init() {
	domain.Register(Kind, func(*domain.Context) (idl.BlockDevice, error) {
		Created++
		return nil, nil
	})
}
