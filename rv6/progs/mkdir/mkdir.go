//rl:domain

// Package mkdir is the mkdir program: it makes each directory named; with
// -p it makes the missing parents too and accepts directories that exist.
package mkdir

import (
	"errors"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "mkdir [-p] DIR..."

func init() { ulib.Register("mkdir", main) }

func main(p *ulib.Proc) int {
	opts, dirs, err := cli.Parse(p.Args, "p")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(dirs) == 0 {
		return cli.Usage(p, usage)
	}
	status := ulib.StatusOK
	for _, d := range dirs {
		if opts.Has('p') {
			err = mkdirAll(p, d)
		} else {
			err = p.Mkdir(d)
		}
		if err != nil {
			status = cli.Fail(p, d, err)
		}
	}
	return status
}

// mkdirAll makes dir and its missing parents, from the top down.
func mkdirAll(p *ulib.Proc, dir string) error {
	prefix := ""
	if strings.HasPrefix(dir, "/") {
		prefix = "/"
	}
	for _, part := range strings.Split(dir, "/") {
		if part == "" {
			continue
		}
		prefix += part
		if err := p.Mkdir(prefix); err != nil {
			if !errors.Is(err, errno.EEXIST) {
				return err
			}
			st, serr := p.Stat(prefix)
			if serr != nil {
				return serr
			}
			if st.Type != idl.FileTypeDir {
				return errno.ENOTDIR
			}
		}
		prefix += "/"
	}
	return nil
}
