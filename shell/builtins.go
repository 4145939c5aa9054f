package shell

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/shell/syntax"
)

// builtinFunc runs a builtin with its arguments (not its name), writing to
// out and errw (the command's descriptors 1 and 2), and returns its status.
type builtinFunc func(s *Shell, out, errw io.Writer, args []string) int

// grantName is the builtin prefix that passes capabilities to a program.
const grantName = "grant"

// builtinHelp is the builtins with their summaries, as help lists them.
var builtinHelp = [...]struct{ name, summary string }{
	{"caps", "list the capabilities this shell holds (grant passes them on)"},
	{"cd", "change the working directory: cd [DIR | -] (no DIR: $HOME, or /)"},
	{"exit", "exit the shell: exit [STATUS] (no STATUS: $?)"},
	{"export", "pass variables to the programs: export [NAME[=VALUE]...] (none: list them)"},
	{"false", "do nothing, unsuccessfully"},
	{"fg", "wait for a background job: fg [%N | PID] (no argument: the newest)"},
	{grantName, "run a program with capabilities of this shell: grant CAP[,CAP...] PROGRAM [ARG...] (CAP: admin, nic:ixgbe0, or a kind such as nic)"},
	{"help", "list the builtins and the programs, or describe builtins: help [NAME...]"},
	{"history", "list the lines typed at the console"},
	{"jobs", "list the background jobs"},
	{"pwd", "print the working directory"},
	{"set", "list the shell's variables; set -- ARG... sets $1..."},
	{"true", "do nothing, successfully"},
	{"unset", "remove variables: unset NAME..."},
	{"wait", "wait for background jobs: wait [%N | PID...] (none: all of them)"},
}

func isBuiltin(name string) bool { return builtinFor(name) != nil }

// builtinFor is the builtin name, or nil.
func builtinFor(name string) builtinFunc {
	switch name {
	case "caps":
		return builtinCaps
	case "cd":
		return builtinCd
	case "exit":
		return builtinExit
	case "export":
		return builtinExport
	case "false":
		return func(*Shell, io.Writer, io.Writer, []string) int { return 1 }
	case "fg":
		return builtinFg
	case grantName:
		return builtinGrant
	case "help":
		return builtinHelpCmd
	case "history":
		return builtinHistory
	case "jobs":
		return builtinJobs
	case "pwd":
		return builtinPwd
	case "set":
		return builtinSet
	case "true":
		return func(*Shell, io.Writer, io.Writer, []string) int { return 0 }
	case "unset":
		return builtinUnset
	case "wait":
		return builtinWait
	}
	return nil
}

// runBuiltin runs the builtin of st with the stage's descriptors. In a
// pipeline exit does nothing, as it would end only a subshell.
func (s *Shell) runBuiltin(st *stage, inPipeline bool) int {
	fd := func(i int) int {
		if i < len(st.fds) {
			return st.fds[i]
		}
		return -1
	}
	out := s.h.File(fd(1))
	errw := s.h.File(fd(2))
	if inPipeline && st.args[0] == "exit" {
		return 0
	}
	return builtinFor(st.args[0])(s, out, errw, st.args[1:]) & 0xff
}

// grant turns `grant CAPS COMMAND ARG...` into COMMAND ARG... spawned with
// CAPS, or fails st with the reason.
func (s *Shell) grant(st *stage) {
	if len(st.args) == 0 || st.args[0] != grantName {
		return
	}
	if len(st.args) < 3 {
		s.fail(st, StatusSyntax, "usage: grant CAP[,CAP...] PROGRAM [ARG...]")
		return
	}
	caps, err := s.resolveCaps(st.args[1])
	if err != nil {
		s.fail(st, StatusDenied, "grant: %v", err)
		return
	}
	if name := st.args[2]; isBuiltin(name) {
		s.fail(st, StatusDenied, "grant: %s is a builtin: it runs in the shell itself, with what the shell holds", name)
		return
	}
	st.caps, st.args = caps, st.args[2:]
}

// resolveCaps turns a grant's list (full names and kinds, separated by
// commas) into names the shell holds.
func (s *Shell) resolveCaps(list string) ([]string, error) {
	held := s.h.Caps()
	var caps []string
	for spec := range strings.SplitSeq(list, ",") {
		if spec == "" {
			return nil, fmt.Errorf("%q: an empty capability name (want CAP[,CAP...])", list)
		}
		n := len(caps)
		for _, h := range held {
			if (h == spec || strings.HasPrefix(h, spec+":")) && !slices.Contains(caps, h) {
				caps = append(caps, h)
			}
		}
		if len(caps) == n {
			has := "none"
			if len(held) > 0 {
				has = strings.Join(held, ", ")
			}
			return nil, fmt.Errorf("%s: this shell does not hold it, so it cannot pass it on (it holds: %s)", spec, has)
		}
	}
	return caps, nil
}

// builtinGrant runs only when grant has no command: a usage error (grant
// is a prefix that execPipeline takes off).
func builtinGrant(s *Shell, _, errw io.Writer, args []string) int {
	io.WriteString(errw, "usage: grant CAP[,CAP...] PROGRAM [ARG...]\n")
	return StatusSyntax
}

func builtinCaps(s *Shell, out, errw io.Writer, args []string) int {
	if len(args) > 0 {
		io.WriteString(errw, "usage: caps\n")
		return StatusSyntax
	}
	for _, c := range s.h.Caps() {
		io.WriteString(out, c+"\n")
	}
	return 0
}

func builtinCd(s *Shell, out, errw io.Writer, args []string) int {
	if len(args) > 1 {
		io.WriteString(errw, "sh: cd: too many arguments\n")
		return 1
	}
	dir := "/"
	if home := s.vars["HOME"]; home != "" {
		dir = home
	}
	if len(args) == 1 {
		dir = args[0]
	}
	if dir == "-" {
		if dir = s.vars["OLDPWD"]; dir == "" {
			io.WriteString(errw, "sh: cd: OLDPWD not set\n")
			return 1
		}
		io.WriteString(out, dir+"\n")
	}
	old, _ := s.h.Getwd()
	if err := s.h.Chdir(dir); err != nil {
		io.WriteString(errw, "sh: cd: "+dir+": "+ErrText(err)+"\n")
		return 1
	}
	if old != "" {
		s.setVar("OLDPWD", old)
	}
	if wd, err := s.h.Getwd(); err == nil {
		s.setVar("PWD", wd)
	}
	return 0
}

func builtinPwd(s *Shell, out, errw io.Writer, args []string) int {
	wd, err := s.h.Getwd()
	if err != nil {
		io.WriteString(errw, "sh: pwd: "+ErrText(err)+"\n")
		return 1
	}
	io.WriteString(out, wd+"\n")
	return 0
}

func builtinExit(s *Shell, _, errw io.Writer, args []string) int {
	code := s.status
	switch {
	case len(args) > 1:
		io.WriteString(errw, "sh: exit: too many arguments\n")
		return 1
	case len(args) == 1:
		n, err := strconv.Atoi(args[0])
		if err != nil {
			io.WriteString(errw, "sh: exit: "+args[0]+": numeric argument required\n")
			n = StatusSyntax
		}
		code = n & 0xff
	}
	s.exited, s.exitCode = true, code
	return code
}

func builtinExport(s *Shell, out, errw io.Writer, args []string) int {
	if len(args) == 0 {
		for _, k := range sortedKeys(s.vars) {
			if s.exported[k] {
				io.WriteString(out, "export "+k+"="+syntax.Quote(s.vars[k])+"\n")
			}
		}
		return 0
	}
	status := 0
	for _, a := range args {
		name, value, set := strings.Cut(a, "=")
		if !syntax.IsName(name) {
			io.WriteString(errw, "sh: export: "+syntax.Quote(a)+": not a valid name\n")
			status = 1
			continue
		}
		if set {
			s.setVar(name, value)
		} else if _, ok := s.vars[name]; !ok {
			s.setVar(name, "")
		}
		s.exported[name] = true
	}
	return status
}

func builtinUnset(s *Shell, _, errw io.Writer, args []string) int {
	status := 0
	for _, name := range args {
		if !syntax.IsName(name) {
			io.WriteString(errw, "sh: unset: "+syntax.Quote(name)+": not a valid name\n")
			status = 1
			continue
		}
		delete(s.vars, name)
		delete(s.exported, name)
	}
	return status
}

func builtinSet(s *Shell, out, errw io.Writer, args []string) int {
	if len(args) > 0 {
		if args[0] != "--" {
			io.WriteString(errw, "usage: set [-- ARG...]\n")
			return StatusSyntax
		}
		s.args = append([]string(nil), args[1:]...)
		return 0
	}
	for _, k := range sortedKeys(s.vars) {
		io.WriteString(out, k+"="+syntax.Quote(s.vars[k])+"\n")
	}
	return 0
}

func builtinHistory(s *Shell, out, _ io.Writer, args []string) int {
	for i, line := range s.History.Lines {
		fmt.Fprintf(out, "%5d  %s\n", i+1, line)
	}
	return 0
}

// builtinHelpCmd lists the builtins, the programs and where other names
// go; with names, it describes those builtins.
func builtinHelpCmd(s *Shell, out, errw io.Writer, args []string) int {
	if len(args) > 0 {
		status := 0
		for _, name := range args {
			summary, ok := "", false
			for _, b := range builtinHelp {
				if b.name == name {
					summary, ok = b.summary, true
				}
			}
			if !ok {
				io.WriteString(errw, "sh: help: "+name+": not a builtin\n")
				status = 1
				continue
			}
			io.WriteString(out, name+": "+summary+"\n")
		}
		return status
	}
	w := 0
	for _, b := range builtinHelp {
		w = max(w, len(b.name))
	}
	io.WriteString(out, "Builtins:\n")
	for _, b := range builtinHelp {
		fmt.Fprintf(out, "  %-*s  %s\n", w, b.name, b.summary)
	}
	if progs := s.h.Programs(); len(progs) > 0 {
		io.WriteString(out, "Programs:\n")
		writeColumns(out, progs, 72)
	}
	io.WriteString(out, "Other names run as commands of the kernel's monitor: domains, lspci, ifconfig for every shell; "+
		"kill, restart, inject, blk, nvme, call, poweroff, ... only for a shell holding admin (the console's login shell).\n")
	return 0
}

// writeColumns writes words indented, as many to a line as fit in width.
func writeColumns(out io.Writer, words []string, width int) {
	line := " "
	for _, w := range words {
		if len(line)+1+len(w) > width && line != " " {
			io.WriteString(out, line+"\n")
			line = " "
		}
		line += " " + w
	}
	if line != " " {
		io.WriteString(out, line+"\n")
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
