//rl:domain

// Package mv is the mv program: it renames SRC to DST (replacing DST), or
// moves each SRC into the directory DST.
package mv

import (
	"path"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "mv SRC DST | mv SRC... DIR"

func init() { ulib.Register("mv", main) }

func main(p *ulib.Proc) int {
	_, args, err := cli.Parse(p.Args, "")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) < 2 {
		return cli.Usage(p, usage)
	}
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	st, err := p.Stat(dst)
	intoDir := err == nil && st.Type == idl.FileTypeDir
	if len(srcs) > 1 && !intoDir {
		p.Errorf("%s: not a directory", dst)
		return ulib.StatusError
	}
	status := ulib.StatusOK
	for _, src := range srcs {
		to := dst
		if intoDir {
			to = cli.Join(dst, path.Base(src))
		}
		if _, err := p.Stat(src); err != nil {
			status = cli.Fail(p, src, err)
			continue
		}
		if err := p.Rename(src, to); err != nil {
			status = cli.Fail(p, src+" -> "+to, err)
		}
	}
	return status
}
