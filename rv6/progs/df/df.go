//rl:domain

// Package df is the df program: it prints the file system's size and use
// in blocks and inodes, the device it is on, its buffer cache and how many
// times its log has committed.
package df

import (
	"fmt"
	"text/tabwriter"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "df"

func init() { ulib.Register("df", main) }

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 {
		return cli.Usage(p, usage)
	}
	st, err := p.Statfs()
	if err != nil {
		return cli.Fail(p, "statfs", err)
	}
	used := st.Blocks - st.FreeBlocks
	pct := 0.0
	if st.Blocks > 0 {
		pct = 100 * float64(used) / float64(st.Blocks)
	}
	tw := tabwriter.NewWriter(p.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "DEVICE\tBLOCKS\tUSED\tFREE\tUSE%%\tINODES\tIFREE\tBSIZE\n")
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f%%\t%d\t%d\t%d\n", st.Device, st.Blocks, used, st.FreeBlocks, pct, st.Inodes, st.FreeInodes, st.BlockSize)
	tw.Flush()
	_, err = fmt.Fprintf(p.Stdout, "size %s, used %s, free %s; buffer cache %d blocks (%s); %d log commits\n",
		cli.Size(st.Blocks*uint64(st.BlockSize)), cli.Size(used*uint64(st.BlockSize)), cli.Size(st.FreeBlocks*uint64(st.BlockSize)),
		st.CacheBlocks, cli.Size(st.CacheBlocks*uint64(st.BlockSize)), st.Commits)
	if err != nil {
		return cli.WriteFailed(p, err)
	}
	return ulib.StatusOK
}
