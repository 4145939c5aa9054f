//rl:domain

// Package sys is the Rv6 domain: the syscalls of Rv6's processes, its
// processes (each one a domain of its own), pipes and the console, over the
// Rv6 file system (rv6/fs). It registers the domain kind "rv6" (Kind), whose
// instance the kernel calls through idl.Rv6 (Mount, Run, Shutdown).
//
// # Grants
//
// The constructor imports "disk" (idl.BlockDevice: the file system's
// device, through rv6/fs/blockdev/idldev), "loader" (idl.Loader: makes
// program instances into domains), "console" (idl.Console) and, optionally,
// "monitor" (idl.Monitor: the read-only views of the domain kernel's
// command monitor, for Sys.Monitor) and the capabilities it may hand to
// processes: the device "caps" lists their names, each granted as
// "cap:NAME" (see caps.go and idl.CapAdmin).
//
// # Capabilities
//
// A process holds the capabilities its spawner named in SpawnReq.Caps,
// each one the spawner held (the kernel's Run may name any Rv6 was
// granted); a spawn naming one the spawner lacks fails with EPERM. The
// process's domain is granted exactly those, under their names, besides
// "sys": Rv6 imports its own capability at its first use and passes it to
// the loader, which rebinds it for the new domain. Children inherit
// nothing. ProcStart.Caps tells the program what it holds.
//
// # Processes
//
// A process is a pid, a table of descriptors, a working directory (an
// fs.Cwd) and a domain running its program. Spawn makes the process, then
// asks the loader for a domain of the program (named "proc.PID.PROG")
// granted the process's idl.Sys, an object of this domain that the kernel
// exports to the new domain as its own capability. A thread of this domain
// (Context.Spawn) calls the program's Main; the program runs on that thread.
//
// A process ends once, whichever comes first:
//
//   - Main returns: it exited with the status Main returned (0..255).
//   - Sys.Exit: it exited with that status. The domain is unloaded before
//     Exit returns, so the calling thread unwinds at the crossing it came
//     through: Exit never returns to the program (rv6/ulib.Exit relies on
//     it).
//   - Main fails (the program panicked): the status is 128+6 (as SIGABRT)
//     and WaitStatus.Reason is the domain kernel's report of the failure.
//   - Sys.Kill, Rv6.Shutdown, or the kernel killing the domain: the status
//     is 128+9 (as SIGKILL) and WaitStatus.Killed is set.
//
// Ending a process wakes it if it is blocked in this domain (a pipe, the
// console, Sleep, Wait: the call returns EINTR), unloads its domain (the
// loader kills it: its RRefs are reclaimed, its threads unwind), closes its
// descriptors and working directory, gives its children to pid 1 (or, if pid
// 1 is gone, to nobody: they are reaped when they end), and makes it a
// zombie that its parent's Wait reaps. Processes the kernel started (Run)
// have no parent: Run reaps them. The ending does not wait for the
// process's thread: a program spinning in its own code is killed all the
// same (its thread lingers, as the domain kernel documents).
//
// Pid 1 cannot be killed with Sys.Kill (EPERM), as init on Unix; the kernel
// ends it with Shutdown.
//
// # Descriptors
//
// A descriptor refers to an open file description (a file, a directory, a
// pipe end, the console or a socket), which dup, dup2 and spawn share: they share its
// offset, its O_APPEND flag and its directory cursor. A description is
// released when the last descriptor referring to it is closed and no call
// uses it any more; only then does a pipe end count as closed. Writes with
// O_APPEND go through fs.File.Append (atomic against other writers). Each
// process has at most MaxFds descriptors.
//
// ReadDir returns the next entries of an open directory: the first call
// lists the directory, the following ones go through that listing; Seek
// to 0 (SeekSet) lists it again.
//
// # Sockets and poll
//
// A socket is a description whose stack socket is closed with it (see
// socket.go): opening one needs the stack's capability. Poll waits for
// several descriptors of any kind (see poll.go).
//
// # Pipes and the console
//
// A pipe is a ring buffer of PipeSize bytes in this domain. Read blocks
// until there are bytes, and returns 0 (end of file) once every write end is
// closed; Write blocks until everything is written (a write of at most
// PipeAtomic bytes is never interleaved with another) and fails with EPIPE
// once every read end is closed.
//
// The console's input is read by a thread of this domain, started at the
// first read of a console descriptor, into a queue that readers take from.
// In line mode a read returns at most one line (the console edits and
// echoes lines); in raw mode (SetRaw) whatever has been typed. An empty
// read of the console (Ctrl-D) is one end of file for one reader; io.EOF
// from the console (its input ended for good) is the end of file for every
// read after the queued input; any other error stops the reader thread and
// later reads fail with EIO. Output goes to Console.Write, one write at a
// time. The reader thread, once started, waits in Console.Read until the
// console answers, even past this domain's death (it then unwinds).
//
// # Errors
//
// Errors are errno values (rv6/fs/errno: ENOENT, EBADF, EPIPE, ECHILD,
// ESRCH, EINTR, ...) wrapped with what failed (fs's *PathError, or
// fmt.Errorf's), so that a program tests them with errors.Is. They are
// immutable once returned, as values crossing a domain boundary must be.
//
// # Durability
//
// The file system is mounted with fs.SyncEachOp: a write, or any change of
// the file system, that has returned is on the device.
package sys
