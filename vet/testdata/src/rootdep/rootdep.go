// Package rootdep is a domain that imports the composition root and
// kernel-only packages, even ones marked as domains.
package rootdep

import (
	_ "github.com/rlgo/redleaf/kernel/boot"   // want `^import: domains may not import "github.com/rlgo/redleaf/kernel/boot": it is kernel-only`
	_ "github.com/rlgo/redleaf/system"        // want `^import: domains may not import "github.com/rlgo/redleaf/system": it is the composition root`
	_ "github.com/rlgo/redleaf/system/marked" // want `^import: domains may not import "github.com/rlgo/redleaf/system/marked": it is the composition root`
)
