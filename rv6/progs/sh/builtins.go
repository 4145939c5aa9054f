package sh

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/sh/syntax"
	"github.com/rlgo/redleaf/rv6/ulib"
)

// builtinFunc runs a builtin with its arguments (not its name), writing to
// out and errw (the command's descriptors 1 and 2), and returns its status.
type builtinFunc func(s *shell, out, errw io.Writer, args []string) int

// builtinHelp is the builtins with their summaries, as help lists them.
var builtinHelp = [...]struct{ name, summary string }{
	{"cd", "change the working directory: cd [DIR | -] (no DIR: $HOME, or /)"},
	{"exit", "exit the shell: exit [STATUS] (no STATUS: $?)"},
	{"export", "pass variables to the programs: export [NAME[=VALUE]...] (none: list them)"},
	{"false", "do nothing, unsuccessfully"},
	{"fg", "wait for a background job: fg [%N | PID] (no argument: the newest)"},
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
	case "cd":
		return builtinCd
	case "exit":
		return builtinExit
	case "export":
		return builtinExport
	case "false":
		return func(*shell, io.Writer, io.Writer, []string) int { return 1 }
	case "fg":
		return builtinFg
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
		return func(*shell, io.Writer, io.Writer, []string) int { return 0 }
	case "unset":
		return builtinUnset
	case "wait":
		return builtinWait
	}
	return nil
}

// runBuiltin runs the builtin of st with the stage's descriptors. In a
// pipeline exit does nothing, as it would end only a subshell.
func (s *shell) runBuiltin(st *stage, inPipeline bool) int {
	fd := func(i int) int {
		if i < len(st.fds) {
			return st.fds[i]
		}
		return -1
	}
	out := s.p.NewFile(int32(fd(1)), "stdout")
	errw := s.p.NewFile(int32(fd(2)), "stderr")
	if inPipeline && st.args[0] == "exit" {
		return 0
	}
	return builtinFor(st.args[0])(s, out, errw, st.args[1:]) & 0xff
}

func builtinCd(s *shell, out, errw io.Writer, args []string) int {
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
	old, _ := s.p.Getwd()
	if err := s.p.Chdir(dir); err != nil {
		io.WriteString(errw, "sh: cd: "+dir+": "+cli.Text(err)+"\n")
		return 1
	}
	if old != "" {
		s.setVar("OLDPWD", old)
	}
	if wd, err := s.p.Getwd(); err == nil {
		s.setVar("PWD", wd)
	}
	return 0
}

func builtinPwd(s *shell, out, errw io.Writer, args []string) int {
	wd, err := s.p.Getwd()
	if err != nil {
		io.WriteString(errw, "sh: pwd: "+cli.Text(err)+"\n")
		return 1
	}
	io.WriteString(out, wd+"\n")
	return 0
}

func builtinExit(s *shell, _, errw io.Writer, args []string) int {
	code := s.status
	switch {
	case len(args) > 1:
		io.WriteString(errw, "sh: exit: too many arguments\n")
		return 1
	case len(args) == 1:
		n, err := strconv.Atoi(args[0])
		if err != nil {
			io.WriteString(errw, "sh: exit: "+args[0]+": numeric argument required\n")
			n = statusSyntax
		}
		code = n & 0xff
	}
	s.exited, s.exitCode = true, code
	return code
}

func builtinExport(s *shell, out, errw io.Writer, args []string) int {
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

func builtinUnset(s *shell, _, errw io.Writer, args []string) int {
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

func builtinSet(s *shell, out, errw io.Writer, args []string) int {
	if len(args) > 0 {
		if args[0] != "--" {
			io.WriteString(errw, "usage: set [-- ARG...]\n")
			return statusSyntax
		}
		s.args = append([]string(nil), args[1:]...)
		return 0
	}
	for _, k := range sortedKeys(s.vars) {
		io.WriteString(out, k+"="+syntax.Quote(s.vars[k])+"\n")
	}
	return 0
}

func builtinHistory(s *shell, out, _ io.Writer, args []string) int {
	for i, line := range s.hist.lines {
		fmt.Fprintf(out, "%5d  %s\n", i+1, line)
	}
	return 0
}

// builtinHelpCmd lists the builtins, the programs and where other names
// go; with names, it describes those builtins.
func builtinHelpCmd(s *shell, out, errw io.Writer, args []string) int {
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
	if progs := programs(); len(progs) > 0 {
		io.WriteString(out, "Programs:\n")
		writeColumns(out, progs, 72)
	}
	io.WriteString(out, "Other names run as commands of the kernel's monitor (domains, inject, restart, blk, nvme, lspci, call, poweroff, ...).\n")
	return 0
}

// programs lists the programs compiled into the system: the domain kinds
// that ulib.Register registered. (idl.Sys has no call that lists them; the
// kinds are fixed when the image is built, so reading them is no
// authority.)
func programs() []string {
	var out []string
	for _, k := range domain.Kinds() {
		if name, ok := strings.CutPrefix(k, ulib.KindPrefix); ok {
			out = append(out, name)
		}
	}
	return out
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
