//rl:domain

// Package head is the head program: it prints the first lines of each file
// named (standard input for none, or for "-"): 10, or N with -n N. With
// several files each is introduced by "==> NAME <==".
package head

import (
	"bufio"
	"fmt"
	"io"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "head [-n N] [FILE...]"

func init() { ulib.Register("head", main) }

func main(p *ulib.Proc) int {
	opts, files, err := cli.Parse(p.Args, "n:")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	n, err := cli.LineCount(opts, 'n', 10)
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	headers := len(files) > 1
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := bufio.NewWriterSize(p.Stdout, 32<<10)
	status := ulib.StatusOK
	for i, name := range files {
		r, done, err := cli.Input(p, name)
		if err != nil {
			status = cli.Fail(p, name, err)
			continue
		}
		if headers {
			if i > 0 {
				out.WriteByte('\n')
			}
			fmt.Fprintf(out, "==> %s <==\n", name)
		}
		rerr := head(out, r, n)
		done()
		if rerr != nil {
			status = cli.Fail(p, name, rerr)
		}
	}
	if err := out.Flush(); err != nil {
		return cli.WriteFailed(p, err)
	}
	return status
}

// head copies r's first n lines to out. It reads no more than it needs
// beyond them (one buffer), so that `head` ends a pipeline early.
func head(out *bufio.Writer, r io.Reader, n int) error {
	br := bufio.NewReaderSize(r, 4096)
	for range n {
		line, err := br.ReadSlice('\n')
		out.Write(line)
		if err == bufio.ErrBufferFull {
			// A long line: copy the rest of it.
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				out.Write(line)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
