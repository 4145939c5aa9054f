package shell

import (
	"errors"
	"io"

	"github.com/rlgo/redleaf/idl"
)

// A Host is the operating system the interpreter runs on: its descriptors,
// its programs and its processes. Rv6's shell program implements it over its
// syscalls (idl.Sys); the kernel's console shell over commands that run in
// the kernel (system/sh). Descriptors are the host's small integers; 0, 1
// and 2 are the shell's standard input, output and error.
//
// The interpreter calls a Host from one thread at a time.
type Host interface {
	// Spawn starts the program req.Args[0] and returns its pid. An error
	// wrapping ErrNotFound says that no program has the name.
	Spawn(req Spawn) (int, error)
	// Wait waits for the child pid to end and reaps it.
	Wait(pid int) (idl.WaitStatus, error)
	// Running reports which children have not ended yet (a Wait for them
	// would block), for the job notices.
	Running() (map[int]bool, error)
	// Pipe makes a pipe: its read end and its write end.
	Pipe() (r, w int, err error)
	// Open opens path with the flags of idl.Sys.Open (idl.ORdOnly, ...).
	Open(path string, flags int32) (int, error)
	// Close closes a descriptor.
	Close(fd int) error
	// File is descriptor fd as a writer, for the builtins and the shell's
	// own messages. Writes to a closed descriptor fail.
	File(fd int) io.Writer
	// ReadFile reads a whole file (a script).
	ReadFile(path string) ([]byte, error)
	Getwd() (string, error)
	Chdir(dir string) error
	// Pid is the shell's own pid ($$).
	Pid() int
	// Programs lists the programs Spawn can start, for help.
	Programs() []string
	// Command runs args, a name no program has, as a command of the system
	// (Rv6: the kernel's monitor) with descriptors fds (fds[1] its
	// output), and returns its status. An error wrapping ErrNotFound says
	// that the system has no such command either.
	Command(args []string, fds []int) (int, error)
	// Caps lists the capabilities the shell holds (see Spawn.Caps).
	Caps() []string
}

// Spawn is a request to start a program.
type Spawn struct {
	// Args are the program's arguments: Args[0] names it.
	Args []string
	// Fds are the shell's descriptors that become the child's 0, 1, 2, ...
	// (-1: closed).
	Fds []int
	// Env is the child's environment, NAME=value.
	Env []string
	// Caps are the capabilities of the shell the child gets (grant); it
	// gets no other.
	Caps []string
}

// ErrNotFound is what Spawn and Command wrap when they have nothing of the
// name.
var ErrNotFound = errors.New("not found")
