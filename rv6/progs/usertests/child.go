package usertests

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

// child runs one child mode: what a test's child process does.
//
//	exit N               exit with status N
//	panic MSG            panic with MSG
//	sleep SECONDS        sleep (until killed)
//	cat                  copy standard input to standard output
//	pwd                  print the working directory
//	append FILE TAG N    append N records tagged TAG to FILE (O_APPEND),
//	                     and write the same records to FILE.TAG
func child(p *ulib.Proc, args []string) int {
	if len(args) == 0 {
		return cli.Usage(p, "usertests -child MODE ARGS...")
	}
	switch mode, args := args[0], args[1:]; {
	case mode == "exit" && len(args) == 1:
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return cli.Usage(p, "usertests -child exit N")
		}
		return n
	case mode == "panic" && len(args) == 1:
		panic(args[0])
	case mode == "sleep" && len(args) == 1:
		s, err := strconv.ParseFloat(args[0], 64)
		if err != nil {
			return cli.Usage(p, "usertests -child sleep SECONDS")
		}
		if err := p.Sleep(time.Duration(s * float64(time.Second))); err != nil {
			return cli.Fail(p, "sleep", err)
		}
		return 0
	case mode == "cat" && len(args) == 0:
		_, rerr, werr := cli.Copy(p.Stdout, p.Stdin, make([]byte, idl.IOSize))
		if rerr != nil || werr != nil {
			p.Errorf("cat: read %v, write %v", rerr, werr)
			return 1
		}
		return 0
	case mode == "pwd" && len(args) == 0:
		wd, err := p.Getwd()
		if err != nil {
			return cli.Fail(p, "getcwd", err)
		}
		p.Println(wd)
		return 0
	case mode == "append" && len(args) == 3:
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return cli.Usage(p, "usertests -child append FILE TAG N")
		}
		return appendRecords(p, args[0], args[1], n)
	}
	p.Errorf("bad child mode %q", strings.Join(args, " "))
	return ulib.StatusUsage
}

// recordSize is the size of one record of the concurrent writers.
const recordSize = 64

// record is the i'th record of writer tag: recordSize bytes, ended by a
// newline.
func record(tag string, i int) string {
	s := fmt.Sprintf("%-8s %08d ", tag, i)
	return s + strings.Repeat(".", recordSize-1-len(s)) + "\n"
}

func appendRecords(p *ulib.Proc, file, tag string, n int) int {
	shared, err := p.Open(file, idl.OWrOnly|idl.OAppend|idl.OCreate)
	if err != nil {
		return cli.Fail(p, file, err)
	}
	defer shared.Close()
	own, err := p.Create(file + "." + tag)
	if err != nil {
		return cli.Fail(p, file+"."+tag, err)
	}
	defer own.Close()
	for i := range n {
		r := record(tag, i)
		if _, err := shared.WriteString(r); err != nil {
			return cli.Fail(p, file, err)
		}
		if _, err := own.WriteString(r); err != nil {
			return cli.Fail(p, file+"."+tag, err)
		}
	}
	return 0
}
