package ulib

import (
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
)

// Declared capabilities. A program may declare at registration that it
// needs a network stack (Register(name, main, NeedsInet)): a shell that
// runs it without grant then passes it the inet: capabilities the shell
// holds (ImplicitCaps), so that `httpd &` works as it does on Unix. Only
// network stacks can be declared: admin, NICs and block devices are
// passed by grant alone, and a program that declared nothing gets nothing
// without grant. grant overrides the declaration: the program then gets
// exactly what grant names. The declarations are the domain kernel's
// (domain.Declare): fixed when the image is built, made only by the
// program's own package.

// A Need is a kind of capability a program declares it needs.
type Need string

// NeedsInet declares that the program needs a network stack (inet:NAME).
const NeedsInet Need = "needs " + idl.CapInetPrefix

func declare(name string, needs []Need) {
	for _, n := range needs {
		if n != NeedsInet {
			panic("ulib.Register " + name + ": only ulib.NeedsInet can be declared, not " + string(n))
		}
		domain.Declare(KindPrefix+name, string(n))
	}
}

// ImplicitCaps are the capabilities a shell holding held passes to program
// prog run without grant: those of the kinds prog declared (none for a
// program that declared nothing or is unknown).
func ImplicitCaps(prog string, held []string) []string {
	var out []string
	for _, fact := range domain.Declared(KindPrefix + prog) {
		if Need(fact) != NeedsInet {
			continue
		}
		for _, c := range held {
			if strings.HasPrefix(c, idl.CapInetPrefix) && len(c) > len(idl.CapInetPrefix) {
				out = append(out, c)
			}
		}
	}
	return out
}
