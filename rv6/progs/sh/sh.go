//rl:domain

// Package sh is Rv6's shell, a program like any other (ulib.Register
// "sh"): the interpreter of package shell over the process's syscalls.
// Every command it runs is a process of its own, spawned with its
// descriptors wired to files and pipes, and a command that crashes is
// reported while the shell goes on.
//
// Usage:
//
//	sh                  read commands from standard input; interactive
//	                    (prompt "$ ", line editing, history, job notices)
//	                    when it is the console
//	sh FILE [ARG...]    run the script FILE, with $0 FILE and $1... ARGs
//	sh -c CMD [NAME [ARG...]]
//	                    run CMD, with $0 NAME and $1... ARGs
//
// The language is shell/syntax's; the builtins and the rules are package
// shell's. A command name is looked up as a builtin (help lists them), then
// as a program, then as a command of the kernel's monitor: its read-only
// views (domains, lspci, ifconfig) for any shell, every command (inject,
// kill, restart, poweroff, ...) for a shell holding the admin capability,
// which only the console's login shell does (init passes it). A name with
// a / is refused: Rv6 runs programs by name and has no executable files.
//
// A program gets only the capabilities the shell passes it explicitly:
// `grant admin kill null`, `grant nic fwd -t 3s`, `grant blk:nvme benchnvme`
// (see package shell); `caps` lists what the shell holds. The one
// exception: a program that declared at registration that it needs a
// network stack (ulib.NeedsInet: httpd, kvstore), run without grant, gets
// the inet: capabilities the shell holds, and nothing else (never admin).
package sh

import (
	"errors"
	"io"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
	"github.com/rlgo/redleaf/shell"
)

func init() { ulib.Register("sh", Main) }

// Prompts of an interactive shell (package shell's).
const (
	Prompt     = shell.Prompt
	ContPrompt = shell.ContPrompt
)

const usage = "sh [-c CMD [NAME [ARG...]] | FILE [ARG...]]"

// Main runs the shell on p; see the package documentation for its usage.
func Main(p *ulib.Proc) int {
	h, err := newHost(p)
	if err != nil {
		p.Errorf("%s", cli.Text(err))
		return ulib.StatusError
	}
	s := shell.New(h, shell.Options{Name: "sh", Env: p.Environ()})
	args := p.Args
	if len(args) > 0 {
		args = args[1:]
	}
	switch {
	case len(args) > 0 && args[0] == "-c":
		if len(args) < 2 {
			return cli.Usage(p, usage)
		}
		if len(args) > 2 {
			s = shell.New(h, shell.Options{Name: args[2], Args: args[3:], Env: p.Environ()})
		}
		return s.RunSource(args[1], "")
	case len(args) > 0 && args[0] == "--":
		args = args[1:]
		if len(args) == 0 {
			return runInput(p, s)
		}
		return s.RunScript(args[0], args[1:])
	case len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-":
		p.Errorf("unknown option %s", args[0])
		return cli.Usage(p, usage)
	case len(args) > 0 && args[0] != "-":
		return s.RunScript(args[0], args[1:])
	}
	return runInput(p, s)
}

// runInput runs commands from standard input until it ends or exit runs.
// On the console it is interactive: a prompt, the line editor (in raw
// mode), the history and the job notices. Otherwise it reads plain lines,
// one byte at a time, so as to leave the rest of the input to the
// commands.
func runInput(p *ulib.Proc, s *shell.Shell) int {
	in := &byteReader{f: p.Stdin}
	interactive := p.Stdin.Isatty()
	var read shell.LineReader
	switch {
	case interactive && p.Stdin.SetRaw(false) == nil:
		ed := newEditor(in, p.Stdout, &s.History)
		read = func(prompt string) (string, error) {
			if err := p.Stdin.SetRaw(true); err != nil {
				// No raw mode after all: the console edits lines.
				p.Stdout.WriteString(prompt)
				return readPlainLine(in)
			}
			line, err := ed.readLine(prompt)
			p.Stdin.SetRaw(false)
			return line, err
		}
	case interactive:
		read = func(prompt string) (string, error) {
			p.Stdout.WriteString(prompt)
			return readPlainLine(in)
		}
	default:
		read = func(string) (string, error) { return readPlainLine(in) }
	}
	return s.RunInput(read, interactive)
}

// readPlainLine reads a line (to "\n", or to the end of the input) without
// its end; a "\r" before the "\n" goes too.
func readPlainLine(in io.ByteReader) (string, error) {
	var b []byte
	for {
		c, err := in.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				break
			}
			return "", err
		}
		if c == '\n' {
			break
		}
		b = append(b, c)
	}
	return strings.TrimSuffix(string(b), "\r"), nil
}

// byteReader reads a file one byte at a time: no read-ahead, so the bytes
// after a line stay in the file (the console, a pipe) for the commands.
type byteReader struct {
	f *ulib.File
	b [1]byte
}

func (r *byteReader) ReadByte() (byte, error) {
	n, err := r.f.Read(r.b[:])
	if n == 1 {
		return r.b[0], nil
	}
	if err == nil {
		err = io.EOF
	}
	return 0, err
}

// host is the shell's Host: the process's syscalls, and the monitor
// through the admin capability when the shell holds it.
type host struct {
	p     *ulib.Proc
	admin idl.Monitor // nil: not held
}

func newHost(p *ulib.Proc) (*host, error) {
	h := &host{p: p}
	if p.Holds(ulib.CapAdmin) {
		adm, err := ulib.Cap[idl.Monitor](p, ulib.CapAdmin)
		if err != nil {
			return nil, err
		}
		h.admin = adm
	}
	return h, nil
}

// errPath is Spawn's answer to a name with a /.
var errPath = errors.New("not a program name: Rv6 runs programs by name and has no executable files (help lists the programs)")

func (h *host) Spawn(req shell.Spawn) (int, error) {
	if strings.Contains(req.Args[0], "/") {
		return 0, errPath
	}
	caps := req.Caps
	if len(caps) == 0 { // no grant: what the program declared it needs (ulib.NeedsInet), if the shell holds it
		caps = ulib.ImplicitCaps(req.Args[0], h.p.Caps())
	}
	pid, err := h.p.Spawn(req.Args[0], req.Args, ulib.SpawnOptions{Fds: req.Fds, Env: req.Env, Caps: caps})
	if errors.Is(err, errno.ENOENT) {
		return 0, shell.ErrNotFound
	}
	return pid, err
}

func (h *host) Wait(pid int) (idl.WaitStatus, error) { return h.p.Wait(pid) }

func (h *host) Running() (map[int]bool, error) {
	procs, err := h.p.Procs()
	if err != nil {
		return nil, err
	}
	running := map[int]bool{}
	for _, pi := range procs {
		if pi.State != "zombie" {
			running[int(pi.Pid)] = true
		}
	}
	return running, nil
}

func (h *host) Pipe() (int, int, error) {
	r, w, err := h.p.Sys().Pipe()
	return int(r), int(w), err
}

func (h *host) Open(path string, flags int32) (int, error) {
	fd, err := h.p.Sys().Open(path, flags)
	return int(fd), bare(err)
}

// bare is the errno behind an error from Rv6, which names the path itself:
// the shell names it in its own message ("sh: /x: no such file or
// directory"). Errors cross domains as values (domain.CalleeError), which
// keep the errno for errors.As but unwrap to nothing.
func bare(err error) error {
	var e errno.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

func (h *host) Close(fd int) error    { return h.p.Sys().Close(int32(fd)) }
func (h *host) File(fd int) io.Writer { return h.p.NewFile(int32(fd), "fd") }
func (h *host) ReadFile(path string) ([]byte, error) {
	b, err := h.p.ReadFile(path)
	return b, bare(err)
}
func (h *host) Getwd() (string, error) { return h.p.Getwd() }
func (h *host) Chdir(dir string) error { return bare(h.p.Chdir(dir)) }
func (h *host) Pid() int               { return h.p.Pid }
func (h *host) Caps() []string         { return h.p.Caps() }

// Command runs args on the kernel's monitor: every command through the
// admin capability, the read-only views through Sys.Monitor otherwise.
func (h *host) Command(args []string, fds []int) (int, error) {
	out := -1
	if len(fds) > 1 {
		out = fds[1]
	}
	if h.admin == nil {
		st, err := h.p.Sys().Monitor(ulib.JoinNul(args), int32(out))
		if err == nil && st == statusUnknown {
			err = shell.ErrNotFound
		}
		return int(st), err
	}
	res, err := h.admin.Run(ulib.JoinNul(args))
	if err != nil {
		return 0, err
	}
	if res.Status == statusUnknown {
		return 0, shell.ErrNotFound
	}
	n := min(max(int(res.N), 0), len(res.Out))
	if _, err := h.p.NewFile(int32(out), "stdout").Write(res.Out[:n]); err != nil {
		return 1, err
	}
	return int(res.Status), nil
}

// statusUnknown is the monitor's status for a name it has no command of
// (system/monitor.StatusUnknown).
const statusUnknown = 127

// Programs lists the programs compiled into the system: the domain kinds
// that ulib.Register registered. (idl.Sys has no call that lists them; the
// kinds are fixed when the image is built, so reading them is no
// authority.)
func (h *host) Programs() []string {
	var out []string
	for _, k := range domain.Kinds() {
		if name, ok := strings.CutPrefix(k, ulib.KindPrefix); ok {
			out = append(out, name)
		}
	}
	return out
}
