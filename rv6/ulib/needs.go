package ulib

import (
	"fmt"
	"strings"

	"github.com/rlgo/redleaf/idl"
)

// Declared capabilities. A program may declare at registration that it
// needs a network stack (Register(name, main, NeedsInet)): a shell that
// runs it without grant then passes it the inet: capabilities the shell
// holds (ImplicitCaps), so that `httpd &` works as it does on Unix. Only
// network stacks can be declared: admin, NICs and block devices are
// passed by grant alone, and a program that declared nothing gets nothing
// without grant. grant overrides the declaration: the program then gets
// exactly what grant names. The declarations are fixed when the image is
// built (init functions), so reading them is no authority.

// An Option is a setting of Register.
type Option struct{ prefix string }

// NeedsInet declares that the program needs a network stack (inet:NAME).
var NeedsInet = Option{prefix: idl.CapInetPrefix}

// declared maps a program to the capability name prefixes it declared;
// written only by Register, from init functions.
var declared = map[string][]string{}

func declare(name string, opts []Option) {
	for _, o := range opts {
		if o.prefix != idl.CapInetPrefix {
			panic(fmt.Sprintf("ulib.Register %s: only ulib.NeedsInet can be declared", name))
		}
		declared[name] = append(declared[name], o.prefix)
	}
}

// ImplicitCaps are the capabilities a shell holding held passes to program
// prog run without grant: those of the kinds prog declared (none for a
// program that declared nothing or is unknown).
func ImplicitCaps(prog string, held []string) []string {
	var out []string
	for _, prefix := range declared[prog] {
		for _, c := range held {
			if strings.HasPrefix(c, prefix) && len(c) > len(prefix) {
				out = append(out, c)
			}
		}
	}
	return out
}
