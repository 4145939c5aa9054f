//rl:domain

// Package stat is the stat program: it describes each file named: type,
// inode number, links, size, device and modification time.
package stat

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "stat FILE..."

func init() { ulib.Register("stat", main) }

func main(p *ulib.Proc) int {
	_, files, err := cli.Parse(p.Args, "")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(files) == 0 {
		return cli.Usage(p, usage)
	}
	status := ulib.StatusOK
	for _, name := range files {
		st, err := p.Stat(name)
		if err != nil {
			status = cli.Fail(p, name, err)
			continue
		}
		mtime := "-"
		if st.Mtime != 0 {
			mtime = time.Unix(0, st.Mtime).UTC().Format("2006-01-02 15:04:05.000000000 UTC")
		}
		if _, err := fmt.Fprintf(p.Stdout, "  File: %s\n  Type: %s\n Inode: %d\n Links: %d\n  Size: %d\nDevice: %d\nModify: %s\n",
			name, cli.TypeName(st.Type), st.Inum, st.Nlink, st.Size, st.Dev, mtime); err != nil {
			return cli.WriteFailed(p, err)
		}
	}
	return status
}
