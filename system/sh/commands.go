package sh

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Builtins returns a new registry holding the commands every console
// shell has: echo, uname and commands (the list of commands with their
// summaries). The caller adds its own (the kernel adds poweroff and
// reboot). (cd, exit, help, true, false and the rest are the interpreter's
// builtins.)
func Builtins() *Registry {
	r := NewRegistry()
	r.RegisterView("echo", "write the arguments to standard output (-n: no newline)", Func(Echo))
	r.RegisterView("uname", "print system information: uname [-asnrvm]", UnameCommand(SysUname))
	r.RegisterView("commands", "list the commands with what each does, or describe some: commands [NAME...]", Func(func(ctx context.Context, p *Proc) int { return listCommands(r, p) }))
	return r
}

// Echo writes its arguments separated by spaces and a newline; -n omits
// the newline.
func Echo(_ context.Context, p *Proc) int {
	args := p.Args[1:]
	nl := true
	for len(args) > 0 && args[0] == "-n" {
		nl = false
		args = args[1:]
	}
	s := strings.Join(args, " ")
	if nl {
		s += "\n"
	}
	if _, err := fmt.Fprint(p.Stdout, s); err != nil {
		if IsBrokenPipe(err) {
			return StatusBrokenPipe
		}
		p.Errorf("write error: %v", err)
		return 1
	}
	return 0
}

// listCommands lists reg's commands with their summaries, or describes
// the commands named as arguments.
func listCommands(reg *Registry, p *Proc) int {
	if len(p.Args) > 1 {
		st := 0
		for _, name := range p.Args[1:] {
			e, ok := reg.Lookup(name)
			if !ok {
				p.Errorf("no command %q", name)
				st = 1
				continue
			}
			p.Printf("%s: %s\n", e.Name, e.Summary)
		}
		return st
	}
	es := reg.Entries()
	w := 0
	for _, e := range es {
		w = max(w, len(e.Name))
	}
	for _, e := range es {
		p.Printf("  %-*s  %s\n", w, e.Name, e.Summary)
	}
	return 0
}

// UnameInfo is what uname prints.
type UnameInfo struct {
	Sysname, Nodename, Release, Version, Machine string
}

// SysUname reads UnameInfo from uname(2).
func SysUname() (UnameInfo, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return UnameInfo{}, err
	}
	return UnameInfo{
		Sysname:  unix.ByteSliceToString(u.Sysname[:]),
		Nodename: unix.ByteSliceToString(u.Nodename[:]),
		Release:  unix.ByteSliceToString(u.Release[:]),
		Version:  unix.ByteSliceToString(u.Version[:]),
		Machine:  unix.ByteSliceToString(u.Machine[:]),
	}, nil
}

// UnameCommand returns the uname command reading from get. Flags: -s
// (default), -n, -r, -v, -m, -a (all), combinable (-sr); output in the
// order s n r v m, like GNU uname.
func UnameCommand(get func() (UnameInfo, error)) Command {
	return Func(func(_ context.Context, p *Proc) int {
		want := map[byte]bool{}
		for _, a := range p.Args[1:] {
			switch a {
			case "--all":
				a = "-a"
			case "--kernel-name":
				a = "-s"
			case "--nodename":
				a = "-n"
			case "--kernel-release":
				a = "-r"
			case "--kernel-version":
				a = "-v"
			case "--machine":
				a = "-m"
			}
			if len(a) < 2 || a[0] != '-' {
				p.Errorf("extra operand %q\nusage: uname [-asnrvm]", a)
				return 1
			}
			for i := 1; i < len(a); i++ {
				switch c := a[i]; c {
				case 'a':
					for _, f := range "snrvm" {
						want[byte(f)] = true
					}
				case 's', 'n', 'r', 'v', 'm':
					want[c] = true
				default:
					p.Errorf("invalid option -- '%c'\nusage: uname [-asnrvm]", c)
					return 1
				}
			}
		}
		if len(want) == 0 {
			want['s'] = true
		}
		u, err := get()
		if err != nil {
			p.Errorf("%v", err)
			return 1
		}
		var out []string
		for _, f := range []struct {
			flag byte
			val  string
		}{{'s', u.Sysname}, {'n', u.Nodename}, {'r', u.Release}, {'v', u.Version}, {'m', u.Machine}} {
			if want[f.flag] {
				out = append(out, f.val)
			}
		}
		p.Printf("%s\n", strings.Join(out, " "))
		return 0
	})
}
