//rl:domain

// Package cp is the cp program: it copies SRC to DST, or each SRC into the
// directory DST; -r copies directories and everything in them.
package cp

import (
	"errors"
	"fmt"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "cp [-r] SRC DST | cp [-r] SRC... DIR"

func init() { ulib.Register("cp", main) }

type copier struct {
	p         *ulib.Proc
	recursive bool
	buf       []byte
	top       uint32 // the inode of the destination directory of a -r copy, never copied into itself
}

func main(p *ulib.Proc) int {
	opts, args, err := cli.Parse(p.Args, "rR")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) < 2 {
		return cli.Usage(p, usage)
	}
	c := &copier{p: p, recursive: opts.Has('r') || opts.Has('R'), buf: make([]byte, idl.IOSize)}
	targets, err := cli.Targets(p, args)
	if err != nil {
		p.Errorf("%v", err)
		return ulib.StatusError
	}
	status := ulib.StatusOK
	for _, t := range targets {
		if err := c.copy(t.Src, t.Dst); err != nil {
			p.Errorf("%v", err)
			status = ulib.StatusError
		}
	}
	return status
}

// copy copies src to dst; its error names the path that failed.
func (c *copier) copy(src, dst string) error {
	st, err := c.p.Stat(src)
	if err != nil {
		return fmt.Errorf("%s: %s", src, cli.Text(err))
	}
	if st.Type == idl.FileTypeDir {
		if !c.recursive {
			return fmt.Errorf("%s: is a directory (not copied; use -r)", src)
		}
		return c.dir(src, dst)
	}
	if dt, err := c.p.Stat(dst); err == nil && dt.Inum == st.Inum && dt.Dev == st.Dev {
		return fmt.Errorf("%s and %s are the same file", src, dst)
	}
	return c.file(src, dst)
}

func (c *copier) file(src, dst string) error {
	in, err := c.p.Open(src, idl.ORdOnly)
	if err != nil {
		return fmt.Errorf("%s: %s", src, cli.Text(err))
	}
	defer in.Close()
	out, err := c.p.Create(dst)
	if err != nil {
		return fmt.Errorf("%s: %s", dst, cli.Text(err))
	}
	_, rerr, werr := cli.Copy(out, in, c.buf)
	cerr := out.Close()
	switch {
	case rerr != nil:
		return fmt.Errorf("%s: %s", src, cli.Text(rerr))
	case werr != nil:
		return fmt.Errorf("%s: %s", dst, cli.Text(werr))
	case cerr != nil:
		return fmt.Errorf("%s: %s", dst, cli.Text(cerr))
	}
	return nil
}

func (c *copier) dir(src, dst string) error {
	if err := c.p.Mkdir(dst); err != nil && !errors.Is(err, errno.EEXIST) {
		return fmt.Errorf("%s: %s", dst, cli.Text(err))
	}
	dt, err := c.p.Stat(dst)
	if err != nil {
		return fmt.Errorf("%s: %s", dst, cli.Text(err))
	}
	if dt.Type != idl.FileTypeDir {
		return fmt.Errorf("%s: not a directory", dst)
	}
	if c.top == 0 {
		c.top = dt.Inum
	}
	ents, err := c.p.ReadDir(src)
	if err != nil {
		return fmt.Errorf("%s: %s", src, cli.Text(err))
	}
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." || e.Inum == c.top {
			continue
		}
		if err := c.copy(cli.Join(src, e.Name), cli.Join(dst, e.Name)); err != nil {
			return err
		}
	}
	return nil
}
