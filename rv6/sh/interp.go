// Package sh is the console shell of the domain kernel: its monitor, the
// fallback console when Rv6 does not run, and the home of the kernel's
// commands (system registers them in a Registry). Rv6's own shell is
// the program rv6/progs/sh.
//
// It is a library: a LineReader for console input, the shell language of
// rv6/sh/syntax (Parse and the AST: List, Stmt, AndOr, Pipeline, Cmd, Word),
// and an interpreter (Shell) that runs commands from a Registry. Commands
// run in-process: a Command is Go code given a Proc (arguments, standard
// streams, environment). Pipelines run their commands concurrently,
// connected by in-memory pipes.
//
// It runs the whole language of rv6/sh/syntax except background jobs (&),
// which it reports as not supported; redirections name host files and the
// descriptors 0-2.
package sh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/rlgo/redleaf/rv6/sh/syntax"
)

// DefaultPrompt is the prompt the interactive loop prints.
const DefaultPrompt = "$ "

// Command is a command the shell can run. Run returns the exit status
// (0 success, 1-255 failure).
type Command interface {
	Run(ctx context.Context, p *Proc) int
}

// Func adapts a function to a Command.
type Func func(ctx context.Context, p *Proc) int

// Run calls f.
func (f Func) Run(ctx context.Context, p *Proc) int { return f(ctx, p) }

// Proc is one run of a command: what a process is to a Unix command.
type Proc struct {
	// Args are the expanded words; Args[0] is the command name.
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Shell is the shell running the command (help uses its registry).
	Shell *Shell

	env  map[string]string
	exit func(code int)
}

// Name is Args[0].
func (p *Proc) Name() string {
	if len(p.Args) == 0 {
		return ""
	}
	return p.Args[0]
}

// Getenv returns the value of a variable as the command sees it: the
// shell's variables with the command's NAME=value prefixes on top.
func (p *Proc) Getenv(name string) string { return p.env[name] }

// Environ returns the command's variables as sorted "NAME=value" strings.
func (p *Proc) Environ() []string {
	env := make([]string, 0, len(p.env))
	for k, v := range p.env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// Printf writes to standard output.
func (p *Proc) Printf(format string, args ...any) {
	fmt.Fprintf(p.Stdout, format, args...)
}

// Errorf writes "name: message\n" to standard error.
func (p *Proc) Errorf(format string, args ...any) {
	fmt.Fprintf(p.Stderr, "%s: %s\n", p.Name(), strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}

// Exit asks the shell to exit with code after this command. It does
// nothing in a pipeline (where, as in a subshell, exit only ends the
// pipeline element).
func (p *Proc) Exit(code int) {
	if p.exit != nil {
		p.exit(code)
	}
}

// StatusBrokenPipe is the status of a command that stopped because the
// reader of its pipe went away: 128+SIGPIPE, as for a Unix process killed
// by SIGPIPE.
const StatusBrokenPipe = 141

// IsBrokenPipe reports whether err is a write to a pipe whose reader has
// finished. In a pipeline a command that gets it should stop quietly and
// return StatusBrokenPipe, as a Unix command dies of SIGPIPE.
func IsBrokenPipe(err error) bool {
	return errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.EPIPE)
}

// Entry is a registered command.
type Entry struct {
	Name    string
	Summary string // one line, for help
	Command Command
}

// Registry maps command names to commands. It is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Entry{}} }

// Register adds or replaces the command name.
func (r *Registry) Register(name, summary string, cmd Command) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[name] = Entry{Name: name, Summary: summary, Command: cmd}
}

// Unregister removes the command name.
func (r *Registry) Unregister(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, name)
}

// Lookup finds the command name.
func (r *Registry) Lookup(name string) (Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.m[name]
	return e, ok
}

// Entries returns the commands sorted by name.
func (r *Registry) Entries() []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	es := make([]Entry, 0, len(r.m))
	for _, e := range r.m {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return es
}

// Options configure a Shell.
type Options struct {
	Stdin  io.Reader // default: no input
	Stdout io.Writer // default: discard
	Stderr io.Writer // default: Stdout
	// Registry holds the commands. Default: Builtins().
	Registry *Registry
	// Prompt is printed before each line read by Run. Default
	// DefaultPrompt.
	Prompt string
	// Env initialises the shell variables ("NAME=value", as os.Environ).
	Env []string
	// Name is $0 and the prefix of the shell's messages. Default "sh".
	Name string
	// Args are the positional parameters $1...
	Args []string
	// Debug adds a stack trace to the report of a panicking command.
	Debug bool
	// Fallback, if set, is asked for a command the registry does not
	// have (e.g. the kernel's runner for programs in the initramfs).
	Fallback func(name string) (Command, bool)
}

// Shell is the interpreter. The interactive loop (Run) and Eval must not
// be called concurrently.
type Shell struct {
	reg      *Registry
	in       *LineReader
	stdout   io.Writer
	stderr   io.Writer
	prompt   string
	name     string
	args     []string
	debug    bool
	fallback func(name string) (Command, bool)

	mu       sync.Mutex // guards the fields below (pipelines expand concurrently)
	vars     map[string]string
	status   int
	exited   bool
	exitCode int
}

// New returns a shell.
func New(opts Options) *Shell {
	s := &Shell{
		reg:      opts.Registry,
		stdout:   opts.Stdout,
		stderr:   opts.Stderr,
		prompt:   opts.Prompt,
		name:     opts.Name,
		args:     opts.Args,
		debug:    opts.Debug,
		fallback: opts.Fallback,
		vars:     map[string]string{},
	}
	if s.reg == nil {
		s.reg = Builtins()
	}
	in := opts.Stdin
	if in == nil {
		in = strings.NewReader("")
	}
	s.in = NewLineReader(in)
	if s.stdout == nil {
		s.stdout = io.Discard
	}
	if s.stderr == nil {
		s.stderr = s.stdout
	}
	if s.prompt == "" {
		s.prompt = DefaultPrompt
	}
	if s.name == "" {
		s.name = "sh"
	}
	for _, kv := range opts.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && IsName(k) {
			s.vars[k] = v
		}
	}
	return s
}

// Registry returns the shell's command registry.
func (s *Shell) Registry() *Registry { return s.reg }

// Status returns $?, the status of the last command.
func (s *Shell) Status() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Exited reports whether the exit builtin ran, and its code.
func (s *Shell) Exited() (code int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitCode, s.exited
}

// Var returns a shell variable.
func (s *Shell) Var(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vars[name]
	return v, ok
}

// SetVar sets a shell variable.
func (s *Shell) SetVar(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vars[name] = value
}

func (s *Shell) setStatus(st int) {
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
}

func (s *Shell) requestExit(code int) {
	s.mu.Lock()
	s.exited, s.exitCode = true, code
	s.mu.Unlock()
}

// Run is the interactive loop: print the prompt, read a line, run it,
// until the exit builtin runs (Run returns its code and a nil error), the
// input ends (the last status and io.EOF), reading fails (the last status
// and the error), or ctx is done (checked between lines). Syntax errors
// and failing commands are reported and the loop goes on.
func (s *Shell) Run(ctx context.Context) (int, error) {
	for {
		if code, ok := s.Exited(); ok {
			return code, nil
		}
		if err := ctx.Err(); err != nil {
			return s.Status(), err
		}
		io.WriteString(s.stdout, s.prompt)
		line, err := s.in.ReadLine()
		if errors.Is(err, ErrLineTooLong) {
			fmt.Fprintf(s.stderr, "%s: line too long (more than %d bytes); ignored\n", s.name, MaxLine)
			s.setStatus(2)
			continue
		}
		if err != nil {
			if err == io.EOF {
				io.WriteString(s.stdout, "\n") // leave the prompt's line
			}
			return s.Status(), err
		}
		s.Eval(ctx, line)
	}
}

// Eval parses and runs src (one line or a whole script) and returns the
// status. A syntax error is reported on standard error, sets $? to 2 and
// runs nothing.
func (s *Shell) Eval(ctx context.Context, src string) int {
	l, err := Parse(src)
	if err != nil {
		fmt.Fprintf(s.stderr, "%s: %v\n", s.name, err)
		s.setStatus(2)
		return 2
	}
	return s.Exec(ctx, l)
}

// Exec runs a parsed list and returns the status of its last command.
func (s *Shell) Exec(ctx context.Context, l *List) int {
	for _, st := range l.Stmts {
		if _, ok := s.Exited(); ok {
			break
		}
		if ctx.Err() != nil {
			break
		}
		if st.Background {
			fmt.Fprintf(s.stderr, "%s: background jobs (&) are not supported yet\n", s.name)
			s.setStatus(2)
			continue
		}
		s.execAndOr(ctx, st.AndOr)
	}
	return s.Status()
}

func (s *Shell) execAndOr(ctx context.Context, ao *AndOr) {
	s.setStatus(s.execPipeline(ctx, ao.First))
	for _, r := range ao.Rest {
		if _, ok := s.Exited(); ok || ctx.Err() != nil {
			return
		}
		st := s.Status()
		if (r.Op == AndThen && st == 0) || (r.Op == OrElse && st != 0) {
			s.setStatus(s.execPipeline(ctx, r.Pipeline))
		}
	}
}

// stdio is a command's fds 0-2.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func (s *Shell) execPipeline(ctx context.Context, pl *Pipeline) int {
	top := stdio{in: s.in, out: s.stdout, err: s.stderr}
	if len(pl.Cmds) == 1 {
		return s.execCmd(ctx, pl.Cmds[0], top, false)
	}
	n := len(pl.Cmds)
	readers := make([]*io.PipeReader, n-1)
	writers := make([]*io.PipeWriter, n-1)
	for i := range readers {
		readers[i], writers[i] = io.Pipe()
	}
	status := make([]int, n)
	var wg sync.WaitGroup
	for i, c := range pl.Cmds {
		fds := top
		if i > 0 {
			fds.in = readers[i-1]
		} else {
			fds.in = strings.NewReader("") // the console stays with the shell
		}
		if i < n-1 {
			fds.out = writers[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i] = s.execCmd(ctx, c, fds, true)
			if i < n-1 {
				writers[i].Close() // EOF for the reader
			}
			if i > 0 {
				readers[i-1].Close() // writers to a gone reader fail (like SIGPIPE)
			}
		}()
	}
	wg.Wait()
	return status[n-1]
}

func (s *Shell) lookup(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(name)
}

func (s *Shell) lookupLocked(name string) string {
	switch name {
	case "?":
		return strconv.Itoa(s.status)
	case "$":
		return strconv.Itoa(os.Getpid())
	case "#":
		return strconv.Itoa(len(s.args))
	case "0":
		return s.name
	case "@", "*":
		return strings.Join(s.args, " ")
	case "!", "-":
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

// execCmd expands and runs one simple command. sub is set in a pipeline,
// where assignments and exit do not affect the shell.
func (s *Shell) execCmd(ctx context.Context, c *Cmd, fds stdio, sub bool) int {
	var args []string
	for _, w := range c.Args {
		args = append(args, syntax.ExpandFields(w, s.lookup)...)
	}
	assigns := make(map[string]string, len(c.Assigns))
	var order []string
	for _, a := range c.Assigns {
		if _, ok := assigns[a.Name]; !ok {
			order = append(order, a.Name)
		}
		assigns[a.Name] = syntax.ExpandString(a.Value, s.lookup)
	}

	fds, closeAll, err := s.redirect(c.Redirs, fds)
	defer closeAll()
	if err != nil {
		fmt.Fprintf(fds.err, "%s: %v\n", s.name, err)
		return 1
	}

	if len(args) == 0 {
		if !sub {
			s.mu.Lock()
			for _, k := range order {
				s.vars[k] = assigns[k]
			}
			s.mu.Unlock()
		}
		return 0
	}

	e, ok := s.reg.Lookup(args[0])
	if !ok && s.fallback != nil {
		e.Command, ok = s.fallback(args[0])
	}
	if !ok {
		fmt.Fprintf(fds.err, "%s: %s: command not found\n", s.name, args[0])
		return 127
	}
	s.mu.Lock()
	env := make(map[string]string, len(s.vars)+len(assigns))
	for k, v := range s.vars {
		env[k] = v
	}
	s.mu.Unlock()
	for k, v := range assigns {
		env[k] = v
	}
	p := &Proc{Args: args, Stdin: fds.in, Stdout: fds.out, Stderr: fds.err, Shell: s, env: env}
	if !sub {
		p.exit = s.requestExit
	}
	return s.runCommand(ctx, e.Command, p)
}

// runCommand runs cmd, turning a panic into a message and status 2.
func (s *Shell) runCommand(ctx context.Context, cmd Command, p *Proc) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(p.Stderr, "%s: %s: panic: %v\n", s.name, p.Name(), r)
			if s.debug {
				p.Stderr.Write(debug.Stack())
			}
			status = 2
		}
	}()
	if cmd == nil {
		panic("nil command")
	}
	return cmd.Run(ctx, p) & 0xff
}

// redirect applies rs to fds, left to right. The returned function closes
// the files opened.
func (s *Shell) redirect(rs []Redir, fds stdio) (stdio, func(), error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, r := range rs {
		if r.Fd < 0 || r.Fd > 2 {
			return fds, closeAll, fmt.Errorf("%d: bad file descriptor (only 0, 1 and 2)", r.Fd)
		}
		target := syntax.ExpandString(r.Target, s.lookup)
		switch r.Op {
		case RedirIn, RedirOut, RedirAppend:
			flag := os.O_RDONLY
			switch r.Op {
			case RedirOut:
				flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			case RedirAppend:
				flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
			}
			f, err := os.OpenFile(target, flag, 0o666)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = fmt.Errorf("%s: %v", target, pe.Err)
				}
				return fds, closeAll, err
			}
			files = append(files, f)
			fds = setFd(fds, r.Fd, f, f)
		case RedirDupIn, RedirDupOut:
			if target == "-" {
				fds = setFd(fds, r.Fd, strings.NewReader(""), io.Discard)
				continue
			}
			src, err := strconv.Atoi(target)
			if err != nil || src < 0 || src > 2 {
				return fds, closeAll, fmt.Errorf("%s: bad file descriptor", target)
			}
			var rd io.Reader
			var wr io.Writer
			switch src {
			case 0:
				rd = fds.in
				wr, _ = fds.in.(io.Writer)
			case 1:
				wr = fds.out
				rd, _ = fds.out.(io.Reader)
			case 2:
				wr = fds.err
				rd, _ = fds.err.(io.Reader)
			}
			if (r.Fd == 0 && rd == nil) || (r.Fd != 0 && wr == nil) {
				return fds, closeAll, fmt.Errorf("%s: bad file descriptor", target)
			}
			fds = setFd(fds, r.Fd, rd, wr)
		}
	}
	return fds, closeAll, nil
}

func setFd(fds stdio, fd int, r io.Reader, w io.Writer) stdio {
	switch fd {
	case 0:
		fds.in = r
	case 1:
		fds.out = w
	case 2:
		fds.err = w
	}
	return fds
}
