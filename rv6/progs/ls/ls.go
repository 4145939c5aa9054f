//rl:domain

// Package ls is the ls program: it lists each directory named (the working
// directory for none), sorted by name, and names each file named. -a shows
// the names starting with '.'; -l prints one long line per name: type
// (d directory, - file, c console, p pipe), inode number, links, size and
// name.
package ls

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "ls [-la] [PATH...]"

func init() { ulib.Register("ls", main) }

type lister struct {
	p        *ulib.Proc
	long     bool
	all      bool
	out      *bufio.Writer
	failures int
}

func main(p *ulib.Proc) int {
	opts, paths, err := cli.Parse(p.Args, "la")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	l := &lister{p: p, long: opts.Has('l'), all: opts.Has('a'), out: bufio.NewWriterSize(p.Stdout, 32<<10)}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	// Files first, then directories, as ls does.
	var dirs []string
	var files []string
	for _, path := range paths {
		st, err := p.Stat(path)
		if err != nil {
			l.fail(path, err)
			continue
		}
		if st.Type == idl.FileTypeDir {
			dirs = append(dirs, path)
		} else {
			files = append(files, path)
		}
	}
	l.entries("", files)
	for i, dir := range dirs {
		if len(paths) > 1 {
			if i > 0 || len(files) > 0 {
				l.out.WriteByte('\n')
			}
			fmt.Fprintf(l.out, "%s:\n", dir)
		}
		l.dir(dir)
	}
	if err := l.out.Flush(); err != nil {
		return cli.WriteFailed(p, err)
	}
	if l.failures > 0 {
		return ulib.StatusError
	}
	return ulib.StatusOK
}

func (l *lister) fail(path string, err error) {
	l.out.Flush()
	cli.Fail(l.p, path, err)
	l.failures++
}

func (l *lister) dir(dir string) {
	ents, err := l.p.ReadDir(dir)
	if err != nil {
		l.fail(dir, err)
		return
	}
	var names []string
	for _, e := range ents {
		if l.all || !strings.HasPrefix(e.Name, ".") {
			names = append(names, e.Name)
		}
	}
	slices.Sort(names)
	l.entries(dir, names)
}

// entries lists names, which are in dir ("" for paths as given).
func (l *lister) entries(dir string, names []string) {
	if !l.long {
		for _, n := range names {
			l.out.WriteString(n)
			l.out.WriteByte('\n')
		}
		return
	}
	type row struct {
		name string
		st   idl.FileStat
	}
	var rows []row
	var wi, wl, ws int // column widths
	for _, n := range names {
		st, err := l.p.Stat(cli.Join(dir, n))
		if err != nil {
			l.fail(cli.Join(dir, n), err)
			continue
		}
		rows = append(rows, row{n, st})
		wi = max(wi, len(fmt.Sprint(st.Inum)))
		wl = max(wl, len(fmt.Sprint(st.Nlink)))
		ws = max(ws, len(fmt.Sprint(st.Size)))
	}
	for _, r := range rows {
		fmt.Fprintf(l.out, "%c %*d %*d %*d %s\n", cli.TypeLetter(r.st.Type), wi, r.st.Inum, wl, r.st.Nlink, ws, r.st.Size, r.name)
	}
}
