package shell

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/shell/syntax"
)

// Exec runs the statements of l in order, until exit runs, and returns the
// status of the last.
func (s *Shell) Exec(l *syntax.List) int {
	for _, st := range l.Stmts {
		if s.exited {
			break
		}
		if st.Background {
			s.background(st)
			continue
		}
		s.execAndOr(st.AndOr)
	}
	return s.status
}

func (s *Shell) execAndOr(ao *syntax.AndOr) {
	s.status = s.execPipeline(ao.First, nil)
	for _, r := range ao.Rest {
		if s.exited {
			return
		}
		if (r.Op == syntax.AndThen) == (s.status == 0) {
			s.status = s.execPipeline(r.Pipeline, nil)
		}
	}
}

// background starts st as a job. A pipeline of programs runs as itself;
// an and-or list of several pipelines, or a pipeline with a builtin, runs
// in a shell of its own (sh -c), as in a subshell: it sees the exported
// variables only, and changes nothing in this shell.
func (s *Shell) background(st *syntax.Stmt) {
	pl := st.AndOr.First
	if len(st.AndOr.Rest) > 0 || !programsOnly(pl) {
		pl = &syntax.Pipeline{Cmds: []*syntax.Cmd{shellCmd(st.AndOr.String())}}
	}
	var pids []int
	s.status = s.execPipeline(pl, &pids)
	if len(pids) == 0 {
		return // builtins or host commands only: they ran already
	}
	j := s.jobs.add(pids, st.AndOr.String())
	s.lastBg = pids[len(pids)-1]
	if s.interactive {
		fmt.Fprintf(s.h.File(2), "[%d] %d\n", j.id, s.lastBg)
	}
}

// programsOnly reports whether every command of pl names a program (or a
// host command): a literal name that is not a builtin's (grant is a
// prefix of programs).
func programsOnly(pl *syntax.Pipeline) bool {
	for _, c := range pl.Cmds {
		if len(c.Args) == 0 {
			return false
		}
		name, ok := c.Args[0].Literal()
		if !ok || (isBuiltin(name) && name != grantName) {
			return false
		}
	}
	return true
}

// shellCmd is the command `sh -c src`.
func shellCmd(src string) *syntax.Cmd {
	lit := func(s string) syntax.Word {
		return syntax.Word{Parts: []syntax.Part{{Kind: syntax.Lit, Text: s, Quoted: true}}}
	}
	return &syntax.Cmd{Args: []syntax.Word{lit("sh"), lit("-c"), lit(src)}}
}

// A stage is one command of a pipeline, ready to run: its words expanded,
// its descriptors (the shell's descriptors that become the command's 0, 1,
// 2, ...; -1: closed) wired.
type stage struct {
	cmd     *syntax.Cmd
	args    []string
	caps    []string // what grant passes the program
	assigns []nameValue
	fds     []int
	pipeIn  int  // the shell's read end of the pipe into the stage; 0: none
	failed  bool // expanding, granting or redirecting failed (reported): status failStatus
	failSt  int

	pid     int  // the program's process, once spawned
	command bool // no program of the name: a host command
	status  int  // a builtin's or host command's status
}

// fail marks st failed with status, reporting the message on the stage's
// standard error.
func (s *Shell) fail(st *stage, status int, format string, args ...any) {
	s.stageErrorf(st, format, args...)
	st.failed, st.failSt = true, status
}

// execPipeline runs pl and returns its status (its last command's). With
// bg set, it waits for nothing and appends the pids of its programs to
// *bg instead.
//
// The order matters: the shell makes every pipe, spawns every program,
// then runs the builtins and host commands (which write to pipes whose
// readers now run), right to left (a builtin's output pipe has no reader
// left once the stage after it is done: the builtin sees EPIPE rather than
// blocking), then closes its copies of the descriptors (the readers see
// the end of their input) and waits for the programs.
func (s *Shell) execPipeline(pl *syntax.Pipeline, bg *[]int) int {
	n := len(pl.Cmds)
	var owned []int // descriptors the shell opened for the pipeline
	closeOwned := func(fd int) {
		for i, o := range owned {
			if o == fd {
				s.h.Close(fd)
				owned = append(owned[:i], owned[i+1:]...)
				return
			}
		}
	}
	defer func() {
		for _, fd := range owned {
			s.h.Close(fd)
		}
	}()

	stages := make([]*stage, n)
	prevRead := 0 // the shell's descriptor the next command reads: stdin, then each pipe
	for i, c := range pl.Cmds {
		st := &stage{cmd: c, fds: []int{prevRead, 1, 2}}
		if i > 0 {
			st.pipeIn = prevRead
		}
		stages[i] = st
		if i < n-1 {
			r, w, err := s.h.Pipe()
			if err != nil {
				s.errorf("pipe: %s", ErrText(err))
				return 1
			}
			owned = append(owned, r, w)
			st.fds[1] = w
			prevRead = r
		}
		s.expand(st)
		if !st.failed {
			fds, opened, err := s.redirect(c.Redirs, st.fds)
			owned = append(owned, opened...)
			st.fds = fds
			if err != nil {
				s.errorf("%v", err)
				st.failed, st.failSt = true, 1
			}
		}
		if !st.failed {
			s.grant(st)
		}
		if st.failed || len(st.args) == 0 || isBuiltin(st.args[0]) {
			continue
		}
		pid, err := s.h.Spawn(Spawn{Args: st.args, Fds: st.fds, Env: s.environ(st.assigns), Caps: st.caps})
		switch {
		case errors.Is(err, ErrNotFound):
			st.command = true
		case err != nil:
			s.fail(st, StatusDenied, "%s: %s", st.args[0], ErrText(err))
		default:
			st.pid = pid
		}
	}

	for i := n - 1; i >= 0; i-- {
		st := stages[i]
		switch {
		case st.failed:
			st.status = st.failSt
		case len(st.args) == 0:
			st.status = 0
			if n == 1 {
				for _, a := range st.assigns { // NAME=value alone sets the shell's variables
					s.setVar(a.name, a.value)
				}
			}
		case st.pid != 0:
		case st.command:
			st.status = s.runCommand(st)
		default:
			st.status = s.runBuiltin(st, n > 1)
		}
		if st.pipeIn != 0 {
			closeOwned(st.pipeIn) // the stage has its own copy, or is done
		}
	}
	for _, fd := range append([]int(nil), owned...) {
		closeOwned(fd)
	}

	if bg != nil {
		for _, st := range stages {
			if st.pid != 0 {
				*bg = append(*bg, st.pid)
			}
		}
		return 0
	}
	for _, st := range stages {
		if st.pid != 0 {
			st.status = s.waitFor(st.pid, st.args[0])
		}
	}
	return stages[n-1].status
}

// expand expands the words and the assignments of st.cmd.
func (s *Shell) expand(st *stage) {
	for _, w := range st.cmd.Args {
		st.args = append(st.args, syntax.ExpandFields(w, s.lookup)...)
	}
	for _, a := range st.cmd.Assigns {
		st.assigns = append(st.assigns, nameValue{a.Name, syntax.ExpandString(a.Value, s.lookup)})
	}
}

// redirect applies rs, left to right, to fds (the command's descriptors,
// as the shell's descriptors) and returns them, with the descriptors it
// opened (the caller closes them, also on an error).
func (s *Shell) redirect(rs []syntax.Redir, fds []int) ([]int, []int, error) {
	var opened []int
	fds = append([]int(nil), fds...)
	for _, r := range rs {
		if r.Fd < 0 || r.Fd >= idl.MaxSpawnFds {
			return fds, opened, &redirError{strconv.Itoa(r.Fd), "bad file descriptor (0 to " + strconv.Itoa(idl.MaxSpawnFds-1) + ")"}
		}
		for len(fds) <= r.Fd {
			fds = append(fds, -1)
		}
		target := syntax.ExpandString(r.Target, s.lookup)
		switch r.Op {
		case syntax.RedirIn, syntax.RedirOut, syntax.RedirAppend:
			flags := idl.ORdOnly
			switch r.Op {
			case syntax.RedirOut:
				flags = idl.OWrOnly | idl.OCreate | idl.OTrunc
			case syntax.RedirAppend:
				flags = idl.OWrOnly | idl.OCreate | idl.OAppend
			}
			fd, err := s.h.Open(target, flags)
			if err != nil {
				return fds, opened, &redirError{target, ErrText(err)}
			}
			opened = append(opened, fd)
			fds[r.Fd] = fd
		case syntax.RedirDupIn, syntax.RedirDupOut:
			if target == "-" {
				fds[r.Fd] = -1
				continue
			}
			src, err := strconv.Atoi(target)
			if err != nil || src < 0 || src >= len(fds) || fds[src] < 0 {
				return fds, opened, &redirError{target, "bad file descriptor"}
			}
			fds[r.Fd] = fds[src]
		}
	}
	return fds, opened, nil
}

// redirError is a failed redirection: "FILE: what".
type redirError struct{ target, msg string }

func (e *redirError) Error() string { return e.target + ": " + e.msg }

// waitFor waits for the program pid (named name) and returns its status,
// reporting a crash or a kill.
func (s *Shell) waitFor(pid int, name string) int {
	ws, err := s.h.Wait(pid)
	if err != nil {
		s.errorf("%s: wait: %s", name, ErrText(err))
		return 1
	}
	if msg := EndMessage(ws); msg != "" {
		s.errorf("%s: %s", name, msg)
	}
	return int(ws.Status)
}

// EndMessage says how a process that did not exit ended: "" if it exited.
func EndMessage(ws idl.WaitStatus) string {
	switch {
	case ws.Exited:
		return ""
	case ws.Killed:
		return "Killed"
	case ws.Reason != "":
		return "crashed: " + strings.TrimSpace(ws.Reason)
	}
	return "ended with status " + strconv.Itoa(int(ws.Status))
}

// runCommand runs st as a command of the host (Rv6: the kernel's
// monitor), its output to the stage's standard output.
func (s *Shell) runCommand(st *stage) int {
	status, err := s.h.Command(st.args, st.fds)
	switch {
	case errors.Is(err, ErrNotFound):
		s.stageErrorf(st, "%s: command not found", st.args[0])
		return StatusNotFound
	case err != nil:
		s.stageErrorf(st, "%s: %s", st.args[0], ErrText(err))
		return StatusDenied
	}
	return status
}

// stageErrorf reports a message of the shell about st on the stage's
// standard error, which its redirections may have moved.
func (s *Shell) stageErrorf(st *stage, format string, args ...any) {
	if len(st.fds) > 2 && st.fds[2] >= 0 && st.fds[2] != 2 {
		fmt.Fprintf(s.h.File(st.fds[2]), "sh: %s\n", fmt.Sprintf(format, args...))
		return
	}
	s.errorf(format, args...)
}
