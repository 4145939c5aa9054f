//rl:domain

// Package tail is the tail program: it prints the last lines of each file
// named (standard input for none, or for "-"): 10, or N with -n N. With
// several files each is introduced by "==> NAME <==".
package tail

import (
	"bufio"
	"io"
	"slices"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "tail [-n N] [FILE...]"

func init() { ulib.Register("tail", main) }

func main(p *ulib.Proc) int {
	return cli.LineFilter(p, usage, func(out *bufio.Writer, r io.Reader, n int, header func()) error {
		lines, err := tail(r, n)
		if err != nil {
			return err
		}
		header()
		for _, l := range lines {
			out.WriteString(l)
		}
		return nil
	})
}

// tail returns r's last n lines, each with its newline (the last may have
// none), keeping no more than n lines at a time.
func tail(r io.Reader, n int) ([]string, error) {
	if n == 0 {
		_, err := io.Copy(io.Discard, r)
		return nil, err
	}
	ring := make([]string, 0, min(n, 1024))
	next := 0 // where the next line goes once the ring is full
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if len(ring) < n {
				ring = append(ring, line)
			} else {
				ring[next] = line
				next = (next + 1) % n
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return slices.Concat(ring[next:], ring[:next]), nil
}
