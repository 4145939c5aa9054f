//rl:domain

// Package head is the head program: it prints the first lines of each file
// named (standard input for none, or for "-"): 10, or N with -n N. With
// several files each is introduced by "==> NAME <==".
package head

import (
	"bufio"
	"io"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "head [-n N] [FILE...]"

func init() { ulib.Register("head", main) }

func main(p *ulib.Proc) int {
	return cli.LineFilter(p, usage, func(out *bufio.Writer, r io.Reader, n int, header func()) error {
		header()
		return head(out, r, n)
	})
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
