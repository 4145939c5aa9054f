// Package imports imports forbidden and allowed packages.
package imports

import (
	_ "go/ast"        // want `^import: domains may not import "go/ast": it is not on the allowlist of pure standard packages`
	_ "log"           // want `^import: domains may not import "log": it writes to the process's standard error`
	_ "math/rand"     // want `^import: domains may not import "math/rand": its global source`
	_ "net"           // want `^import: domains may not import "net": it opens network connections`
	_ "net/netip"     // want `^import: domains may not import "net/netip": it opens network connections`
	_ "os"            // want `^import: domains may not import "os": it gives ambient authority over files, processes and the environment`
	_ "os/exec"       // want `^import: domains may not import "os/exec": it runs host programs`
	_ "path/filepath" // want `^import: domains may not import "path/filepath"`
	_ "plugin"        // want `^import: domains may not import "plugin": it loads code the checker has not seen`
	_ "reflect"       // want `^import: domains may not import "reflect": it reads unexported fields`
	_ "runtime"       // want `^import: domains may not import "runtime": it controls the runtime`
	_ "runtime/debug" // want `^import: domains may not import "runtime/debug": it controls the runtime`
	_ "syscall"       // want `^import: domains may not import "syscall": system calls bypass the kernel`

	_ "example.com/domains/plain"           // want `^import: domains may not import "example.com/domains/plain": third-party`
	_ "example.com/thirdparty"              // want `^import: domains may not import "example.com/thirdparty": third-party packages are not vetted`
	_ "github.com/rlgo/redleaf/kernel/boot" // want `^import: domains may not import "github.com/rlgo/redleaf/kernel/boot": it is kernel-only`

	// Allowed: pure standard packages, the kernel's domain API, other domains.
	_ "bufio"
	_ "context"
	_ "encoding/binary"
	_ "errors"
	_ "fmt"
	_ "io"
	_ "math/bits"
	_ "math/rand/v2"
	_ "path"
	_ "sort"
	_ "strings"
	_ "sync"
	_ "sync/atomic"
	_ "time"
	_ "unicode/utf8"

	_ "example.com/domains/other"
	_ "github.com/rlgo/redleaf/idl/fs"
	_ "github.com/rlgo/redleaf/kernel/rref"
)
