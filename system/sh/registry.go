// Package sh is the kernel's console shell: the commands of the
// composition root (a Registry that system fills: domains, kill, inject,
// lspci, ...), and the Host on which the one interpreter of the shell
// language (package shell) runs them in the kernel. It is the console when
// Rv6 does not run (rl.rv6=0, or Rv6 failed to start), and the home of the
// commands the kernel's monitor (system/monitor) runs for Rv6.
//
// A Command is Go code given a Proc (arguments, standard streams,
// environment); on the Host every command is a "program": it runs on a
// goroutine of its own, with its descriptors wired to the console, host
// files or in-memory pipes, so pipelines and background jobs work as in
// Rv6's shell. A command that panics is reported ("crashed") and the shell
// goes on: this is kernel code, where that recover belongs; the interpreter
// itself recovers nothing.
package sh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
)

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

	env map[string]string
}

// Name is Args[0].
func (p *Proc) Name() string {
	if len(p.Args) == 0 {
		return ""
	}
	return p.Args[0]
}

// Getenv returns the value of a variable in the command's environment.
func (p *Proc) Getenv(name string) string { return p.env[name] }

// Environ returns the command's environment as sorted "NAME=value"
// strings.
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
	// View is set for a read-only view (domains, lspci): the kernel's
	// monitor runs it for any Rv6 process. The others change the system
	// and need the admin capability.
	View bool
}

// Registry maps command names to commands. It is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Entry{}} }

// Register adds or replaces the command name, one that changes the system
// (only the admin capability reaches it from Rv6).
func (r *Registry) Register(name, summary string, cmd Command) {
	r.add(Entry{Name: name, Summary: summary, Command: cmd})
}

// RegisterView adds or replaces the command name, a read-only view.
func (r *Registry) RegisterView(name, summary string, cmd Command) {
	r.add(Entry{Name: name, Summary: summary, Command: cmd, View: true})
}

func (r *Registry) add(e Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[e.Name] = e
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
