//rl:domain

// Package cat is the cat program: it copies each file named (standard
// input for none, or for "-") to standard output.
package cat

import (
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "cat [FILE...]"

func init() { ulib.Register("cat", main) }

func main(p *ulib.Proc) int {
	_, files, err := cli.Parse(p.Args, "")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	buf := make([]byte, idl.IOSize)
	status := ulib.StatusOK
	for _, name := range files {
		r, done, err := cli.Input(p, name)
		if err != nil {
			status = cli.Fail(p, name, err)
			continue
		}
		_, rerr, werr := cli.Copy(p.Stdout, r, buf)
		done()
		if werr != nil {
			return cli.WriteFailed(p, werr)
		}
		if rerr != nil {
			status = cli.Fail(p, name, rerr)
		}
	}
	return status
}
