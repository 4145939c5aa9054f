//rl:domain

// Package shell is the one interpreter of the shell language (package
// shell/syntax): Rv6's shell program (rv6/progs/sh) runs it over Rv6's
// syscalls, and the kernel's console shell (system/sh) over commands that
// run in the kernel. What differs between them is a Host: where programs,
// descriptors and files come from.
//
// Every command but a builtin is a program the host spawns, with its
// descriptors wired to files and pipes; a name no program has goes to the
// host's Command (Rv6: the kernel's monitor), and a name nothing has is
// "sh: NAME: command not found", status 127. Builtins run in the shell
// itself; in a pipeline they run after the pipeline's programs have been
// started, so that their output has a reader. Programs in the background
// are jobs: jobs lists them, wait and fg wait for them, and an interactive
// shell reports those that ended before each prompt ("[1] Done  CMD").
//
// # Capabilities
//
// A program gets only what the shell passes it, explicitly:
//
//	grant CAPS COMMAND [ARG...]
//
// runs COMMAND with the capabilities CAPS, a comma-separated list of
// names the shell holds (caps lists them): a full name (admin, nic:ixgbe0,
// blk:nvme) or a kind (nic: every nic:... the shell holds). A capability
// the shell does not hold is refused before anything runs; grant before a
// builtin is refused too (a builtin runs in the shell, with what the shell
// holds). Without grant a program gets none.
//
// The package is a domain library: it starts no thread and recovers no
// panic (the host's commands run wherever the host runs them).
package shell

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/shell/syntax"
)

// Prompts of an interactive shell: the first line of a command, and the
// lines that continue it (after an unterminated quote, a trailing |, ...).
const (
	Prompt     = "$ "
	ContPrompt = "> "
)

// Statuses the shell gives.
const (
	StatusSyntax    = 2   // a syntax error or bad usage of a builtin
	StatusDenied    = 126 // a command that may not run: a path, a capability not held
	StatusNotFound  = 127 // no builtin, program or host command of the name
	StatusInterrupt = 130 // a line discarded with ^C (128+SIGINT)
)

// ErrInterrupt is what a LineReader returns for a line discarded with ^C.
var ErrInterrupt = errors.New("interrupt")

// A LineReader reads one line of commands, showing prompt when the shell
// is interactive. At the end of the input it returns io.EOF.
type LineReader func(prompt string) (string, error)

// Options configure a Shell.
type Options struct {
	// Name is $0 and Args are $1...: the script's, or the shell's.
	Name string
	Args []string
	// Env is the environment the shell starts with (NAME=value): its
	// variables, exported to the programs.
	Env []string
}

// A Shell is the state of one shell: its variables, parameters, status,
// jobs and history. It is not safe for concurrent use.
type Shell struct {
	h    Host
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
	// History is the lines read by an interactive shell (RunInput).
	History History
}

// New returns a shell running commands on h.
func New(h Host, opts Options) *Shell {
	s := &Shell{h: h, name: opts.Name, args: opts.Args, vars: map[string]string{}, exported: map[string]bool{}}
	if s.name == "" {
		s.name = "sh"
	}
	for _, kv := range opts.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && syntax.IsName(k) {
			s.vars[k] = v
			s.exported[k] = true
		}
	}
	return s
}

// Status is $?, the status of the last command.
func (s *Shell) Status() int { return s.status }

// Var returns a shell variable.
func (s *Shell) Var(name string) (string, bool) {
	v, ok := s.vars[name]
	return v, ok
}

// errorf reports a message of the shell on its standard error: "sh: ...".
func (s *Shell) errorf(format string, args ...any) {
	fmt.Fprintf(s.h.File(2), "sh: %s\n", fmt.Sprintf(format, args...))
}

// RunScript runs the file path with $0 path and $1... args, and returns
// the shell's exit status.
func (s *Shell) RunScript(path string, args []string) int {
	src, err := s.h.ReadFile(path)
	if err != nil {
		s.errorf("%s: %s", path, ErrText(err))
		return StatusNotFound
	}
	s.name, s.args = path, args
	return s.RunSource(string(src), path)
}

// RunSource parses and runs src, a whole script (or sh -c's command);
// what is the script's name for messages ("" for -c). A syntax error runs
// nothing. It returns the shell's exit status.
func (s *Shell) RunSource(src, what string) int {
	l, err := syntax.Parse(src)
	if err != nil {
		s.syntaxError(err, what)
		return StatusSyntax
	}
	s.Exec(l)
	return s.finish()
}

func (s *Shell) syntaxError(err error, what string) {
	if what != "" {
		s.errorf("%s: %v", what, err)
	} else {
		s.errorf("%v", err)
	}
	s.status = StatusSyntax
}

// finish is the shell's exit status: exit's, or the last command's.
func (s *Shell) finish() int {
	if s.exited {
		return s.exitCode
	}
	return s.status
}

// Exited reports whether exit ran, and its status.
func (s *Shell) Exited() (int, bool) { return s.exitCode, s.exited }

// RunInput reads and runs commands with read until the input ends or exit
// runs, and returns the shell's exit status. An interactive shell (a
// person at a console) reports the jobs that ended before each prompt,
// keeps the history, and goes on after a syntax error; otherwise a syntax
// error ends the input, as in POSIX shells.
func (s *Shell) RunInput(read LineReader, interactive bool) int {
	s.interactive = interactive
	for !s.exited {
		if s.interactive {
			s.jobs.notify(s)
		}
		src, l, parseErr, err := s.readCommand(read)
		if errors.Is(err, ErrInterrupt) {
			s.status = StatusInterrupt
			continue
		}
		if err != nil {
			if err != io.EOF {
				s.errorf("reading input: %s", ErrText(err))
				return 1
			}
			break
		}
		if s.interactive {
			s.History.Add(strings.TrimRight(src, "\n"))
		}
		if parseErr != nil {
			s.syntaxError(parseErr, "")
			if !s.interactive {
				break
			}
			continue
		}
		s.Exec(l)
	}
	return s.finish()
}

// readCommand reads lines until they make a complete command, or a syntax
// error that more lines would not fix, and returns them, parsed (or the
// syntax error). err is an error reading (io.EOF, ErrInterrupt).
func (s *Shell) readCommand(read LineReader) (src string, l *syntax.List, parseErr, err error) {
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
func (s *Shell) prompt() string {
	if ps1, ok := s.vars["PS1"]; ok {
		return ps1
	}
	return Prompt
}

// lookup is the value of parameter name, for expansion.
func (s *Shell) lookup(name string) string {
	switch name {
	case "?":
		return strconv.Itoa(s.status)
	case "$":
		return strconv.Itoa(s.h.Pid())
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
func (s *Shell) environ(assigns []nameValue) []string {
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
func (s *Shell) setVar(name, value string) { s.vars[name] = value }

// ErrText is the text of err a shell shows: its innermost error's (an
// errno's "no such file or directory", without the wrapping that names
// the call).
func ErrText(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
