//rl:domain

// Package sh is Rv6's shell, a program like any other (ulib.Register
// "sh"): every command it runs is a process of its own, spawned with its
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
// The language is rv6/sh/syntax's: pipelines, redirections (<, >, >>,
// n>&m, n>&-), lists with ;, &&, || and & (background jobs), quoting,
// parameters ($?, $$, $!, $#, $0-$9, $@, $VAR, ${VAR}), assignments and
// comments. A command name is looked up as a builtin (help lists them),
// then as a program, then as a command of the kernel's monitor (domains,
// inject, ...: idl.Sys.Monitor); none of them: "sh: NAME: command not
// found", status 127.
//
// Builtins run in the shell itself; in a pipeline they run after the
// programs of the pipeline have been started, so that their output has a
// reader. Programs in the background are jobs: jobs lists them, wait and fg
// wait for them, and an interactive shell reports those that ended before
// each prompt ("[1] Done  CMD").
package sh

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/sh/syntax"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("sh", Main) }

// Prompts of an interactive shell: the first line of a command, and the
// lines that continue it (after an unterminated quote, a trailing |, ...).
const (
	Prompt     = "$ "
	ContPrompt = "> "
)

// Statuses the shell gives.
const (
	statusSyntax    = 2   // a syntax error or bad usage of a builtin
	statusNotFound  = 127 // no builtin, program or monitor command of the name
	statusInterrupt = 130 // a line discarded with ^C (128+SIGINT)
)

// Main runs the shell on p; see the package documentation for its usage.
func Main(p *ulib.Proc) int {
	s := newShell(p)
	args := p.Args
	if len(args) > 0 {
		args = args[1:]
	}
	switch {
	case len(args) > 0 && args[0] == "-c":
		if len(args) < 2 {
			return cli.Usage(p, "sh [-c CMD [NAME [ARG...]] | FILE [ARG...]]")
		}
		if len(args) > 2 {
			s.name, s.args = args[2], args[3:]
		}
		return s.runSource(args[1], "")
	case len(args) > 0 && args[0] == "--":
		args = args[1:]
		if len(args) == 0 {
			return s.runInput()
		}
		return s.runScript(args[0], args[1:])
	case len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-":
		p.Errorf("unknown option %s", args[0])
		return cli.Usage(p, "sh [-c CMD [NAME [ARG...]] | FILE [ARG...]]")
	case len(args) > 0 && args[0] != "-":
		return s.runScript(args[0], args[1:])
	}
	return s.runInput()
}

// shell is the state of one shell process. It is not safe for concurrent
// use: the shell has one thread.
type shell struct {
	p    *ulib.Proc
	name string   // $0
	args []string // $1...

	vars     map[string]string
	exported map[string]bool // names of vars passed to the programs
	status   int             // $?
	lastBg   int             // $!: the pid of the last background job

	exited   bool // exit ran: stop running commands
	exitCode int

	interactive bool
	jobs        jobTable
	hist        history
}

func newShell(p *ulib.Proc) *shell {
	s := &shell{p: p, name: "sh", vars: map[string]string{}, exported: map[string]bool{}}
	for _, kv := range p.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && syntax.IsName(k) {
			s.vars[k] = v
			s.exported[k] = true
		}
	}
	return s
}

// errorf reports a message of the shell on its standard error: "sh: ...".
func (s *shell) errorf(format string, args ...any) {
	fmt.Fprintf(s.p.Stderr, "sh: %s\n", fmt.Sprintf(format, args...))
}

// runScript runs the file path with $0 path and $1... args.
func (s *shell) runScript(path string, args []string) int {
	src, err := s.p.ReadFile(path)
	if err != nil {
		s.errorf("%s: %s", path, cli.Text(err))
		return statusNotFound
	}
	s.name, s.args = path, args
	return s.runSource(string(src), path)
}

// runSource parses and runs src, a whole script (or the -c command); what
// is the script's name for messages ("" for -c). A syntax error runs
// nothing.
func (s *shell) runSource(src, what string) int {
	l, err := syntax.Parse(src)
	if err != nil {
		s.syntaxError(err, what)
		return statusSyntax
	}
	s.execList(l)
	return s.finish()
}

func (s *shell) syntaxError(err error, what string) {
	if what != "" {
		s.errorf("%s: %v", what, err)
	} else {
		s.errorf("%v", err)
	}
	s.status = statusSyntax
}

// finish is the shell's exit status: exit's, or the last command's.
func (s *shell) finish() int {
	if s.exited {
		return s.exitCode
	}
	return s.status
}

// lineReader reads one line of commands; prompt is the prompt to show
// (interactive shells only).
type lineReader func(prompt string) (string, error)

// runInput reads and runs commands from standard input until it ends or
// exit runs. On the console it is interactive: a prompt, the line editor
// (in raw mode), and the job notices. Otherwise it reads plain lines, one
// byte at a time, so as to leave the rest of the input to the commands.
func (s *shell) runInput() int {
	in := &byteReader{f: s.p.Stdin}
	s.interactive = s.p.Stdin.Isatty()
	var read lineReader
	switch {
	case s.interactive && s.p.Stdin.SetRaw(false) == nil:
		ed := newEditor(in, s.p.Stdout, &s.hist)
		read = func(prompt string) (string, error) {
			if err := s.p.Stdin.SetRaw(true); err != nil {
				// No raw mode after all: the console edits lines.
				s.p.Stdout.WriteString(prompt)
				return readPlainLine(in)
			}
			line, err := ed.readLine(prompt)
			s.p.Stdin.SetRaw(false)
			return line, err
		}
	case s.interactive:
		read = func(prompt string) (string, error) {
			s.p.Stdout.WriteString(prompt)
			return readPlainLine(in)
		}
	default:
		read = func(string) (string, error) { return readPlainLine(in) }
	}
	for !s.exited {
		if s.interactive {
			s.jobs.notify(s)
		}
		src, l, parseErr, err := s.readCommand(read)
		if errors.Is(err, errInterrupt) {
			s.status = statusInterrupt
			continue
		}
		if err != nil {
			if err != io.EOF {
				s.errorf("reading input: %s", cli.Text(err))
				return 1
			}
			break
		}
		if s.interactive {
			s.hist.add(strings.TrimRight(src, "\n"))
		}
		if parseErr != nil {
			s.syntaxError(parseErr, "")
			if !s.interactive {
				break // a script with bad syntax stops, as in POSIX shells
			}
			continue
		}
		s.execList(l)
	}
	return s.finish()
}

// readCommand reads lines until they make a complete command, or a syntax
// error that more lines would not fix, and returns them, parsed (or the
// syntax error). err is an error reading (io.EOF, errInterrupt).
func (s *shell) readCommand(read lineReader) (src string, l *syntax.List, parseErr, err error) {
	prompt := s.prompt()
	for {
		line, err := read(prompt)
		if err != nil {
			if err == io.EOF && src != "" {
				// The parser says what is missing.
				_, perr := syntax.Parse(src)
				return src, nil, perr, nil
			}
			return "", nil, nil, err
		}
		src += line + "\n"
		l, perr := syntax.Parse(src)
		var se *syntax.SyntaxError
		if perr == nil || !errors.As(perr, &se) || !se.Incomplete {
			return src, l, perr, nil
		}
		prompt = ContPrompt
	}
}

// prompt is $PS1 if set, else Prompt.
func (s *shell) prompt() string {
	if ps1, ok := s.vars["PS1"]; ok {
		return ps1
	}
	return Prompt
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

// lookup is the value of parameter name, for expansion.
func (s *shell) lookup(name string) string {
	switch name {
	case "?":
		return strconv.Itoa(s.status)
	case "$":
		return strconv.Itoa(s.p.Pid)
	case "!":
		if s.lastBg == 0 {
			return ""
		}
		return strconv.Itoa(s.lastBg)
	case "#":
		return strconv.Itoa(len(s.args))
	case "0":
		return s.name
	case "@", "*":
		return strings.Join(s.args, " ")
	case "-":
		if s.interactive {
			return "i"
		}
		return ""
	}
	if name != "" && strings.Trim(name, "0123456789") == "" {
		n, err := strconv.Atoi(name)
		if err != nil || n < 1 || n > len(s.args) {
			return ""
		}
		return s.args[n-1]
	}
	return s.vars[name]
}

// environ is the environment of a program: the exported variables, then
// the command's own assignments.
func (s *shell) environ(assigns []nameValue) []string {
	var env []string
	assigned := func(name string) bool {
		for _, a := range assigns {
			if a.name == name {
				return true
			}
		}
		return false
	}
	for _, k := range sortedKeys(s.vars) {
		if s.exported[k] && !assigned(k) {
			env = append(env, k+"="+s.vars[k])
		}
	}
	for _, a := range assigns {
		env = append(env, a.name+"="+a.value)
	}
	return env
}

type nameValue struct{ name, value string }

// setVar sets a shell variable (exported if it already was).
func (s *shell) setVar(name, value string) { s.vars[name] = value }
