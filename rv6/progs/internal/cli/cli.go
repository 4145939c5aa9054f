//rl:domain

// Package cli is what Rv6's programs share besides ulib: short options as
// POSIX getopt parses them (the flag package is not for domains: it reads
// os.Args), and the conventions of their messages: "usage: ..." and exit
// status 2 for bad arguments, "NAME: FILE: errno text" for failed
// operations.
package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/ulib"
)

// Opts are the options Parse found.
type Opts struct {
	set map[byte]string // option letter -> its argument ("" for a flag)
}

// Has reports whether option c was given.
func (o Opts) Has(c byte) bool {
	_, ok := o.set[c]
	return ok
}

// Value is the argument of option c ("" if it was not given).
func (o Opts) Value(c byte) string { return o.set[c] }

// Parse parses the options at the front of args[1:] (args[0] is the
// program's name) as getopt does with spec: each letter is an option, a
// letter followed by ':' takes an argument ("-n 5" or "-n5"). Flags may be
// grouped ("-rf"); "--" ends the options, and so does the first argument
// that does not start with '-' (or is "-" alone, which means standard
// input). It returns the options and the remaining arguments.
func Parse(args []string, spec string) (Opts, []string, error) {
	o := Opts{set: map[byte]string{}}
	if len(args) > 0 {
		args = args[1:]
	}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return o, args[1:], nil
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		for i := 1; i < len(a); i++ {
			c := a[i]
			j := strings.IndexByte(spec, c)
			if j < 0 || c == ':' {
				return o, nil, fmt.Errorf("unknown option -%c", c)
			}
			if j+1 < len(spec) && spec[j+1] == ':' {
				switch {
				case i+1 < len(a):
					o.set[c] = a[i+1:]
				case len(args) > 0:
					o.set[c] = args[0]
					args = args[1:]
				default:
					return o, nil, fmt.Errorf("option -%c needs an argument", c)
				}
				break
			}
			o.set[c] = ""
		}
	}
	return o, args, nil
}

// Usage writes "usage: LINE" to standard error and returns
// ulib.StatusUsage, for `return cli.Usage(p, "...")`.
func Usage(p *ulib.Proc, line string) int {
	fmt.Fprintf(p.Stderr, "usage: %s\n", line)
	return ulib.StatusUsage
}

// BadUsage reports what was wrong with the arguments (err, from Parse or
// the program) and the usage line, and returns ulib.StatusUsage.
func BadUsage(p *ulib.Proc, err error, line string) int {
	p.Errorf("%v", err)
	return Usage(p, line)
}

// Text is the message of err without the operation and path its layers
// wrapped it in: the errno's text ("no such file or directory") when
// there is one, else the innermost error's message.
func Text(err error) string {
	var e errno.Errno
	if errors.As(err, &e) {
		return e.Error()
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// Fail writes "NAME: WHAT: errno text" to standard error and returns
// ulib.StatusError.
func Fail(p *ulib.Proc, what string, err error) int {
	fmt.Fprintf(p.Stderr, "%s: %s: %s\n", p.Name(), what, Text(err))
	return ulib.StatusError
}

// StatusBrokenPipe is the status of a program whose output pipe's reader
// went away (as a shell reports SIGPIPE: 128+13).
const StatusBrokenPipe = 141

// IsBrokenPipe reports whether err is a write to a pipe with no reader.
func IsBrokenPipe(err error) bool {
	var e errno.Errno
	return errors.As(err, &e) && e == errno.EPIPE
}

// WriteFailed handles an error writing standard output: a broken pipe
// ends the program quietly (status StatusBrokenPipe, like SIGPIPE); any
// other error is reported. It returns the status to exit with.
func WriteFailed(p *ulib.Proc, err error) int {
	if IsBrokenPipe(err) {
		return StatusBrokenPipe
	}
	return Fail(p, "write error", err)
}

// Join joins a directory and a name with one slash.
func Join(dir, name string) string {
	if dir == "" {
		return name
	}
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// Copy copies src to dst through buf until src ends, and tells a failed
// read (rerr) from a failed write (werr), which programs report
// differently.
func Copy(dst io.Writer, src io.Reader, buf []byte) (n int64, rerr, werr error) {
	for {
		m, err := src.Read(buf)
		if m > 0 {
			w, err := dst.Write(buf[:m])
			n += int64(w)
			if err != nil {
				return n, nil, err
			}
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// TypeName names a file type (idl.FileStat.Type, idl.DirEnt.Type).
func TypeName(t uint8) string {
	switch t {
	case idl.FileTypeDir:
		return "directory"
	case idl.FileTypeFile:
		return "file"
	case idl.FileTypeDevice:
		return "device"
	case idl.FileTypePipe:
		return "pipe"
	case idl.FileTypeSymlink:
		return "symlink"
	}
	return fmt.Sprintf("type %d", t)
}

// TypeLetter is the one-letter type of ls -l: d, -, c, p, l, ?.
func TypeLetter(t uint8) byte {
	switch t {
	case idl.FileTypeDir:
		return 'd'
	case idl.FileTypeFile:
		return '-'
	case idl.FileTypeDevice:
		return 'c'
	case idl.FileTypePipe:
		return 'p'
	case idl.FileTypeSymlink:
		return 'l'
	}
	return '?'
}

// Size formats a byte count in binary units: 512 B, 4.0 KiB, 32.0 MiB.
func Size(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// Describe says how a process ended that did not exit: "killed", or its
// failure ("panicked: ...").
func Describe(st idl.WaitStatus) string {
	switch {
	case st.Exited:
		return fmt.Sprintf("exit status %d", st.Status)
	case st.Killed:
		return "killed"
	case st.Reason != "":
		return "failed: " + st.Reason
	}
	return fmt.Sprintf("failed (status %d)", st.Status)
}

// Input opens the input file name, "-" being standard input, and returns it
// with the function that closes it (which does nothing for standard input).
func Input(p *ulib.Proc, name string) (io.Reader, func(), error) {
	if name == "-" {
		return p.Stdin, func() {}, nil
	}
	f, err := p.Open(name, idl.ORdOnly)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// LineCount is option c's value as a line count (-n N), def without it.
func LineCount(opts Opts, c byte, def int) (int, error) {
	if !opts.Has(c) {
		return def, nil
	}
	n, err := strconv.Atoi(opts.Value(c))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad line count %q", opts.Value(c))
	}
	return n, nil
}

// LineFilter is the main of head and tail: `NAME [-n N] [FILE...]`, each
// file (standard input without any) given to each with -n's count (default
// 10), and, when there are several files, a "==> NAME <==" header before a
// file's output, written when each calls header.
func LineFilter(p *ulib.Proc, usage string, each func(out *bufio.Writer, r io.Reader, n int, header func()) error) int {
	opts, files, err := Parse(p.Args, "n:")
	if err != nil {
		return BadUsage(p, err, usage)
	}
	n, err := LineCount(opts, 'n', 10)
	if err != nil {
		return BadUsage(p, err, usage)
	}
	headers := len(files) > 1
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := bufio.NewWriterSize(p.Stdout, 32<<10)
	status := ulib.StatusOK
	for i, name := range files {
		r, done, err := Input(p, name)
		if err != nil {
			status = Fail(p, name, err)
			continue
		}
		header := func() {
			if headers {
				if i > 0 {
					out.WriteByte('\n')
				}
				fmt.Fprintf(out, "==> %s <==\n", name)
			}
		}
		err = each(out, r, n, header)
		done()
		if err != nil {
			status = Fail(p, name, err)
		}
	}
	if err := out.Flush(); err != nil {
		return WriteFailed(p, err)
	}
	return status
}

// A Target is one source of `cp` or `mv` and where it goes.
type Target struct{ Src, Dst string }

// Targets resolves the operands `SRC DST` or `SRC... DIR` (at least two)
// into each source and where it goes: into DIR when the last operand is a
// directory, which it must be when there are several sources.
func Targets(p *ulib.Proc, args []string) ([]Target, error) {
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	st, err := p.Stat(dst)
	intoDir := err == nil && st.Type == idl.FileTypeDir
	if len(srcs) > 1 && !intoDir {
		return nil, fmt.Errorf("%s: not a directory", dst)
	}
	ts := make([]Target, len(srcs))
	for i, src := range srcs {
		ts[i] = Target{src, dst}
		if intoDir {
			ts[i].Dst = Join(dst, path.Base(src))
		}
	}
	return ts, nil
}
