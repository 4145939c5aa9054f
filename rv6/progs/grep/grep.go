//rl:domain

// Package grep is the grep program: it prints the lines of each file named
// (standard input for none) that match a regular expression (Go's RE2
// syntax). -v selects the lines that do not match, -c prints only how many
// lines were selected, -i ignores case, -n prefixes each line with its
// number. With several files each line is prefixed with the file's name.
// The exit status is 0 if a line was selected, 1 if none was, 2 on an
// error.
package grep

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "grep [-vcin] PATTERN [FILE...]"

func init() { ulib.Register("grep", main) }

func main(p *ulib.Proc) int {
	opts, args, err := cli.Parse(p.Args, "vcin")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) == 0 {
		return cli.Usage(p, usage)
	}
	expr := args[0]
	if opts.Has('i') {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		p.Errorf("bad pattern %q: %v", args[0], err)
		return ulib.StatusUsage
	}
	files := args[1:]
	prefix := len(files) > 1
	if len(files) == 0 {
		files = []string{"-"}
	}
	g := grep{re: re, invert: opts.Has('v'), count: opts.Has('c'), number: opts.Has('n'),
		out: bufio.NewWriterSize(p.Stdout, 32<<10)}
	failed, matched := false, false
	for _, name := range files {
		r, done, err := cli.Input(p, name)
		if err != nil {
			cli.Fail(p, name, err)
			failed = true
			continue
		}
		label := ""
		if prefix {
			label = name
		}
		n, rerr, werr := g.file(r, label)
		done()
		if werr != nil {
			return cli.WriteFailed(p, werr)
		}
		if rerr != nil {
			cli.Fail(p, name, rerr)
			failed = true
		}
		matched = matched || n > 0
	}
	if err := g.out.Flush(); err != nil {
		return cli.WriteFailed(p, err)
	}
	switch {
	case failed:
		return ulib.StatusUsage
	case matched:
		return ulib.StatusOK
	default:
		return ulib.StatusError
	}
}

type grep struct {
	re                    *regexp.Regexp
	invert, count, number bool
	out                   *bufio.Writer
}

// file greps one file and returns how many lines it selected.
func (g *grep) file(r io.Reader, label string) (n int, rerr, werr error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for lineno := 1; ; lineno++ {
		line, err := br.ReadString('\n')
		if line != "" {
			text := strings.TrimSuffix(line, "\n")
			if g.re.MatchString(text) != g.invert {
				n++
				if !g.count {
					if werr = g.line(label, lineno, text); werr != nil {
						return n, nil, werr
					}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err, nil
		}
	}
	if g.count {
		if label != "" {
			_, werr = fmt.Fprintf(g.out, "%s:%d\n", label, n)
		} else {
			_, werr = fmt.Fprintf(g.out, "%d\n", n)
		}
	}
	return n, nil, werr
}

func (g *grep) line(label string, lineno int, text string) error {
	if label != "" {
		g.out.WriteString(label)
		g.out.WriteByte(':')
	}
	if g.number {
		fmt.Fprintf(g.out, "%d:", lineno)
	}
	g.out.WriteString(text)
	return g.out.WriteByte('\n')
}
