//rl:domain

// Package touch is the touch program: it creates each file named that does
// not exist, empty. (Rv6 has no call that sets a file's times, so an
// existing file is left as it is.)
package touch

import (
	"errors"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "touch FILE..."

func init() { ulib.Register("touch", main) }

func main(p *ulib.Proc) int {
	_, files, err := cli.Parse(p.Args, "")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(files) == 0 {
		return cli.Usage(p, usage)
	}
	status := ulib.StatusOK
	for _, name := range files {
		_, err := p.Stat(name)
		if err == nil {
			continue
		}
		if errors.Is(err, errno.ENOENT) {
			var f *ulib.File
			if f, err = p.Open(name, idl.OWrOnly|idl.OCreate); err == nil {
				err = f.Close()
			}
		}
		if err != nil {
			status = cli.Fail(p, name, err)
		}
	}
	return status
}
