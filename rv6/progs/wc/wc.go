//rl:domain

// Package wc is the wc program: it counts the lines, words and bytes of
// each file named (standard input for none, or for "-"); -l, -w and -c
// choose the counts printed. With several files it prints a total.
package wc

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "wc [-lwc] [FILE...]"

func init() { ulib.Register("wc", main) }

type counts struct{ lines, words, bytes int64 }

func main(p *ulib.Proc) int {
	opts, files, err := cli.Parse(p.Args, "lwc")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	show := [3]bool{opts.Has('l'), opts.Has('w'), opts.Has('c')}
	if show == [3]bool{} {
		show = [3]bool{true, true, true}
	}
	named := len(files) > 0
	if !named {
		files = []string{"-"}
	}
	status := ulib.StatusOK
	var total counts
	buf := make([]byte, idl.IOSize)
	for _, name := range files {
		r, done, err := cli.Input(p, name)
		if err != nil {
			status = cli.Fail(p, name, err)
			continue
		}
		c, err := count(r, buf)
		done()
		if err != nil {
			status = cli.Fail(p, name, err)
			continue
		}
		total.lines += c.lines
		total.words += c.words
		total.bytes += c.bytes
		label := name
		if !named {
			label = ""
		}
		if err := print(p, c, show, label); err != nil {
			return cli.WriteFailed(p, err)
		}
	}
	if len(files) > 1 {
		if err := print(p, total, show, "total"); err != nil {
			return cli.WriteFailed(p, err)
		}
	}
	return status
}

// count counts r's lines (newlines), words (runs of non-space bytes) and
// bytes.
func count(r io.Reader, buf []byte) (counts, error) {
	var c counts
	inWord := false
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' {
				c.lines++
			}
			if b < 0x80 && unicode.IsSpace(rune(b)) {
				inWord = false
			} else if !inWord {
				inWord = true
				c.words++
			}
		}
		c.bytes += int64(n)
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, err
		}
	}
}

func print(p *ulib.Proc, c counts, show [3]bool, label string) error {
	var fields []string
	for i, v := range []int64{c.lines, c.words, c.bytes} {
		if show[i] {
			fields = append(fields, fmt.Sprint(v))
		}
	}
	if label != "" {
		fields = append(fields, label)
	}
	_, err := p.Stdout.WriteString(strings.Join(fields, " ") + "\n")
	return err
}
