//rl:domain

// Package ln is the ln program: it makes NEW another name (a hard link) of
// the file OLD; if NEW is a directory, the link is made in it under OLD's
// last name element.
package ln

import (
	"path"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "ln OLD NEW"

func init() { ulib.Register("ln", main) }

func main(p *ulib.Proc) int {
	_, args, err := cli.Parse(p.Args, "")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) != 2 {
		return cli.Usage(p, usage)
	}
	oldpath, newpath := args[0], args[1]
	if st, err := p.Stat(newpath); err == nil && st.Type == idl.FileTypeDir {
		newpath = cli.Join(newpath, path.Base(oldpath))
	}
	if err := p.Link(oldpath, newpath); err != nil {
		return cli.Fail(p, newpath, err)
	}
	return ulib.StatusOK
}
