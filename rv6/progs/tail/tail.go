//rl:domain

// Package tail is the tail program: it prints the last lines of each file
// named (standard input for none, or for "-"): 10, or N with -n N. With
// several files each is introduced by "==> NAME <==".
package tail

import (
	"bufio"
	"fmt"
	"io"
	"slices"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "tail [-n N] [FILE...]"

func init() { ulib.Register("tail", main) }

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
		lines, rerr := tail(r, n)
		done()
		if rerr != nil {
			status = cli.Fail(p, name, rerr)
			continue
		}
		if headers {
			if i > 0 {
				out.WriteByte('\n')
			}
			fmt.Fprintf(out, "==> %s <==\n", name)
		}
		for _, l := range lines {
			out.WriteString(l)
		}
	}
	if err := out.Flush(); err != nil {
		return cli.WriteFailed(p, err)
	}
	return status
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
