//rl:domain

// Package rm is the rm program: it removes each file named. -r removes
// directories and everything in them; -f ignores names that do not exist
// (and a missing operand).
package rm

import (
	"errors"
	"path"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "rm [-rf] FILE..."

func init() { ulib.Register("rm", main) }

func main(p *ulib.Proc) int {
	opts, files, err := cli.Parse(p.Args, "rRf")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	force, recursive := opts.Has('f'), opts.Has('r') || opts.Has('R')
	if len(files) == 0 && !force {
		return cli.Usage(p, usage)
	}
	status := ulib.StatusOK
	for _, name := range files {
		if b := path.Base(name); b == "." || b == ".." {
			p.Errorf("%s: refusing to remove '.' or '..'", name)
			status = ulib.StatusError
			continue
		}
		st, err := p.Stat(name)
		if err == nil && st.Type == idl.FileTypeDir {
			if !recursive {
				p.Errorf("%s: is a directory", name)
				status = ulib.StatusError
				continue
			}
			err = removeAll(p, name)
		} else if err == nil {
			err = p.Unlink(name)
		}
		if err != nil && !(force && errors.Is(err, errno.ENOENT)) {
			status = cli.Fail(p, name, err)
		}
	}
	return status
}

// removeAll removes dir and everything under it, depth first. The first
// failure stops it (and names the path that failed).
func removeAll(p *ulib.Proc, dir string) error {
	ents, err := p.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		path := cli.Join(dir, e.Name)
		if e.Type == idl.FileTypeDir {
			err = removeAll(p, path)
		} else {
			err = p.Unlink(path)
		}
		if err != nil {
			return err
		}
	}
	return p.Rmdir(dir)
}
