package idl

import "github.com/rlgo/redleaf/kernel/rref"

// Rv6's interfaces: the syscalls a process gets (Sys), what a program is
// (Program), and the kernel services the Rv6 domain is granted (Loader,
// Console, Monitor). See rv6/sys for the semantics and rv6/ulib for the
// library programs use.

// IOSize is the size of an IOBuf: the most one Read or Write moves.
const IOSize = 64 << 10

// An IOBuf is the data of a Read or a Write. A process owns one (or a few)
// and moves it into Read, which fills it and moves it back, or lends it to
// Write: the data crosses the boundary without a copy.
type IOBuf [IOSize]byte

// Open flags (Sys.Open), as in POSIX.
const (
	ORdOnly    int32 = 0x0
	OWrOnly    int32 = 0x1
	ORdWr      int32 = 0x2
	OAccMode   int32 = 0x3
	OCreate    int32 = 0x40
	OExcl      int32 = 0x80
	OTrunc     int32 = 0x200
	OAppend    int32 = 0x400
	ODirectory int32 = 0x10000
)

// Seek whences (Sys.Seek).
const (
	SeekSet int32 = 0
	SeekCur int32 = 1
	SeekEnd int32 = 2
)

// File types in FileStat.Type.
const (
	FileTypeNone    uint8 = 0
	FileTypeDir     uint8 = 1
	FileTypeFile    uint8 = 2
	FileTypeDevice  uint8 = 3 // the console
	FileTypePipe    uint8 = 4
	FileTypeSymlink uint8 = 5
	FileTypeSocket  uint8 = 6
)

// FileStat is what Stat and Fstat return.
type FileStat struct {
	Dev   uint32
	Inum  uint32
	Type  uint8
	Nlink uint16
	Size  int64
	Mtime int64 // nanoseconds since the epoch; 0 when the file system keeps none
}

// DirEnt is one directory entry.
type DirEnt struct {
	Inum uint32
	Type uint8
	Name string
}

// DirBatchSize is how many entries one ReadDir returns at most.
const DirBatchSize = 64

// A DirBatch is the result of one ReadDir: N entries.
type DirBatch struct {
	N    int32
	Ents [DirBatchSize]DirEnt
}

// MaxSpawnFds is how many descriptors a spawn can hand the child.
const MaxSpawnFds = 8

// SpawnReq asks for a new process running program Prog.
type SpawnReq struct {
	Prog string // the registered program name (see rv6/ulib.Register)
	Argv string // arguments, argv[0] first, each ended by a NUL byte
	Env  string // NAME=value entries, each ended by a NUL byte
	// Fds[i] is the caller's descriptor that becomes the child's i,
	// for i < NFds; -1 leaves the child's i closed.
	Fds  [MaxSpawnFds]int32
	NFds int32
	// Cwd is the child's working directory; "" inherits the caller's.
	Cwd string
	// Caps names the capabilities of the caller the child gets, each
	// ended by a NUL byte: its domain is granted each under its name (see
	// CapAdmin). A child gets no other; naming one the caller does not
	// hold fails the spawn (EPERM).
	Caps string
}

// Capabilities a process can hold besides its Sys (SpawnReq.Caps), by
// name. The kernel grants Rv6 the ones it may hand out; Rv6 hands one to a
// process only when its spawner passes it, and the process's domain is
// then granted it under its name.
const (
	// CapAdmin is the kernel monitor with every command (kill, inject,
	// restart, device writes, poweroff, ...): an idl.Monitor. Only the
	// console's login shell holds it (init passes it).
	CapAdmin = "admin"
	// CapNICPrefix starts the name of a NIC port's driver, an idl.Net:
	// "nic:ixgbe0". The same name with CapPortSuffix is the kernel's
	// control of that port, an idl.Port: "nic:ixgbe0.ctl".
	CapNICPrefix  = "nic:"
	CapPortSuffix = ".ctl"
	// CapBlockPrefix starts the name of a block device's driver, an
	// idl.BlockDevice: "blk:nvme".
	CapBlockPrefix = "blk:"
	// CapInetPrefix (socket.go) starts the name of a network stack's
	// sockets, an idl.Inet: "inet:virtio0".
)

// WaitStatus is how a process ended.
type WaitStatus struct {
	Pid    int32
	Status int32 // the exit status: 0..255 when it exited, 128+signal otherwise
	// Exited is true when the program returned from Main or called Exit;
	// false when it was killed or it failed (a panic).
	Exited bool
	Killed bool   // ended by Kill
	Reason string // for a failure: the panic, as the domain kernel reports it
}

// ProcBatchSize is how many processes one Procs returns at most.
const ProcBatchSize = 64

// ProcInfo is one line of the process listing.
type ProcInfo struct {
	Pid    int32
	PPid   int32
	State  string // running, sleeping, zombie
	Name   string // the program
	Args   string // its arguments, space-separated
	Domain uint32 // the domain running it
	Start  int64  // when it started, ns of uptime
}

// ProcBatch is the result of Procs.
type ProcBatch struct {
	N     int32
	Procs [ProcBatchSize]ProcInfo
}

// FSStat is what Statfs returns.
type FSStat struct {
	BlockSize   uint32
	Blocks      uint64
	FreeBlocks  uint64
	Inodes      uint64
	FreeInodes  uint64
	Device      string // the block device's domain: ramdisk, nvme
	CacheBlocks uint64 // blocks in the buffer cache
	Commits     uint64 // log commits since mount
}

// Sys is a process's syscalls: the capability every program is granted
// under the name "sys". Each process has its own (its descriptors, working
// directory, pid). Errors are POSIX-style errno values (rv6/fs/errno),
// wrapped with what failed.
type Sys interface {
	Open(path string, flags int32) (int32, error)
	Close(fd int32) error
	// Read reads up to n bytes (at most IOSize) into buf and moves buf
	// back; 0 bytes at the end of the file.
	Read(fd int32, buf rref.RRef[IOBuf], n int32) (rref.RRef[IOBuf], int32, error)
	// Write writes buf[:n].
	Write(fd int32, buf rref.Borrow[IOBuf], n int32) (int32, error)
	Seek(fd int32, off int64, whence int32) (int64, error)
	Fstat(fd int32) (FileStat, error)
	Stat(path string) (FileStat, error)
	Dup(fd int32) (int32, error)
	// Dup2 makes newfd refer to what fd refers to, closing newfd first.
	Dup2(fd int32, newfd int32) (int32, error)
	// Pipe returns the read end and the write end.
	Pipe() (int32, int32, error)
	Link(oldpath string, newpath string) error
	Unlink(path string) error
	Rename(oldpath string, newpath string) error
	Mkdir(path string) error
	Rmdir(path string) error
	Chdir(path string) error
	Getcwd() (string, error)
	// ReadDir returns the next entries of directory fd; N == 0 at its end.
	ReadDir(fd int32) (DirBatch, error)
	Ftruncate(fd int32, size int64) error
	Fsync(fd int32) error
	Sync() error
	Statfs() (FSStat, error)
	// Isatty reports whether fd is the console; SetRaw switches the
	// console between line mode (the kernel echoes and edits lines) and
	// raw mode (every byte as typed, no echo), for line editors.
	Isatty(fd int32) (bool, error)
	SetRaw(fd int32, raw bool) error

	// Spawn starts a process (no fork) and returns its pid.
	Spawn(req SpawnReq) (int32, error)
	// Wait waits for a child to end (pid -1: any child) and reaps it.
	Wait(pid int32) (WaitStatus, error)
	// Exit ends the calling process with status: it does not return.
	Exit(status int32) error
	Kill(pid int32) error
	Getpid() (int32, error)
	// Uptime is the time since Rv6 started, in nanoseconds.
	Uptime() (int64, error)
	// Sleep sleeps ns nanoseconds, or until the process is killed.
	Sleep(ns int64) error
	// Procs lists the processes from the pid after after (0: from the
	// first); N == 0 past the last.
	Procs(after int32) (ProcBatch, error)

	// Sockets (see rv6/sys/socket.go). Socket opens a socket of type
	// (SockStream or SockDgram, optionally ORed with SockNonblock) on the
	// network stack capability inet ("inet:virtio0"), which the process
	// must hold (EACCES otherwise). The descriptor reads, writes, dups,
	// passes to children and closes as a file does; the stack's socket
	// closes with the last descriptor.
	Socket(inet string, typ int32) (int32, error)
	// Bind sets the local port (the address must be 0.0.0.0 or the
	// stack's): a TCP socket then listens on it, a UDP socket receives
	// on it.
	Bind(fd int32, addr SockAddr) error
	// Listen makes a bound TCP socket a listener with a SYN backlog.
	Listen(fd int32, backlog int32) error
	// Accept waits for a connection of listener fd and returns its
	// descriptor and the peer's address.
	Accept(fd int32) (int32, SockAddr, error)
	// Connect connects a TCP socket (waiting until it is established or
	// fails), or sets a UDP socket's default peer (for Write). A
	// non-blocking TCP socket fails with EAGAIN at once: poll it for
	// PollOut, then Connect again for the outcome.
	Connect(fd int32, addr SockAddr) error
	// ShutdownSock closes one or both directions of a connection
	// (ShutRead, ShutWrite, ShutBoth).
	ShutdownSock(fd int32, how uint8) error
	// SockName and PeerName are the local and the remote address.
	SockName(fd int32) (SockAddr, error)
	PeerName(fd int32) (SockAddr, error)
	// SendTo sends buf[:n] as one datagram to to (UDP).
	SendTo(fd int32, buf rref.Borrow[IOBuf], n int32, to SockAddr) (int32, error)
	// RecvFrom receives one datagram, up to n bytes of it, into buf and
	// moves buf back, with its sender (UDP).
	RecvFrom(fd int32, buf rref.RRef[IOBuf], n int32) (rref.RRef[IOBuf], int32, SockAddr, error)
	// SetNonblock switches fd (a socket) between blocking calls and
	// calls that fail with EAGAIN instead of blocking.
	SetNonblock(fd int32, on bool) error
	// Poll waits until one of the first req.N descriptors is ready for
	// its events, or timeoutNs passes (< 0: no limit; 0: just look), and
	// returns req with Revents filled in and how many are ready.
	Poll(req PollReq, timeoutNs int64) (PollReq, int32, error)

	// Monitor runs a read-only view of the domain kernel's monitor
	// (domains, lspci, ifconfig; see system) with argv as in SpawnReq,
	// writing its output to descriptor out, and returns its status. The
	// commands that change the system need the admin capability
	// (CapAdmin) instead.
	Monitor(argv string, out int32) (int32, error)
}

// Socket types (Sys.Socket).
const (
	SockStream   int32 = 1     // TCP
	SockDgram    int32 = 2     // UDP
	SockNonblock int32 = 0x800 // ORed into the type: SetNonblock from the start
)

// SockAddr is an IPv4 address and port.
type SockAddr struct {
	Addr [4]byte
	Port uint16
}

// Poll events (PollFd), as in POSIX.
const (
	PollIn   uint8 = 0x01 // readable: data, end of file, or a connection to accept
	PollOut  uint8 = 0x04 // writable
	PollErr  uint8 = 0x08 // an error is pending (reported whatever Events says)
	PollHup  uint8 = 0x10 // the other end is gone (likewise)
	PollNval uint8 = 0x20 // not an open descriptor (likewise)
)

// MaxPoll is how many descriptors one Poll waits for.
const MaxPoll = 64

// PollFd is one descriptor of a Poll.
type PollFd struct {
	Fd      int32 // < 0: ignored
	Events  uint8
	Revents uint8
}

// PollReq is the request and the result of Sys.Poll.
type PollReq struct {
	N   int32
	Fds [MaxPoll]PollFd
}

// ProcStart is what a program's Main gets: who it is, its arguments and
// the names of the capabilities its domain was granted besides "sys".
type ProcStart struct {
	Pid  int32
	Argv string // as in SpawnReq
	Env  string // as in SpawnReq
	Caps string // as in SpawnReq
}

// Program is a program instance: a domain created for one process and
// granted its Sys (under "sys") and the capabilities its spawner passed
// (under their names). Main runs the program to the end and returns its
// exit status.
type Program interface {
	Main(start ProcStart) (int32, error)
}

// Loader is the kernel service that makes processes into domains: the Rv6
// domain is granted it under "loader". A program domain is made in steps,
// as a process is spawned with handles (Fuchsia's spawn actions): Prepare
// reserves it, each Grant adds a capability of the caller's to what it
// will be granted, and Start creates it.
type Loader interface {
	// Prepare reserves a domain of the program registered as prog, named
	// name, and returns its handle.
	Prepare(prog string, name string) (uint64, error)
	// GrantMonitor, GrantNet, GrantPort, GrantBlock and GrantInet add c, a
	// capability the caller holds, to what the domain of handle is
	// granted, under name ("sys" is Start's).
	GrantMonitor(handle uint64, name string, c Monitor) error
	GrantNet(handle uint64, name string, c Net) error
	GrantPort(handle uint64, name string, c Port) error
	GrantBlock(handle uint64, name string, c BlockDevice) error
	GrantInet(handle uint64, name string, c Inet) error
	// Start creates the domain of handle, granted sys under "sys" and
	// what the Grants added, and returns the capability to its Program.
	Start(handle uint64, sys Sys) (Program, error)
	// Unload terminates the domain of handle (if it still runs, or was
	// only prepared) and forgets it: everything it held is reclaimed.
	Unload(handle uint64) error
	// Has reports whether a program is registered as prog.
	Has(prog string) (bool, error)
	// DomainID is the domain id of handle, for the process listing.
	DomainID(handle uint64) (uint32, error)
}

// Console is the machine's console, granted to the Rv6 domain under
// "console".
type Console interface {
	// Read reads up to n bytes of input (blocking until there is some).
	Read(buf rref.RRef[IOBuf], n int32) (rref.RRef[IOBuf], int32, error)
	Write(buf rref.Borrow[IOBuf], n int32) (int32, error)
	// SetRaw switches between line mode and raw mode.
	SetRaw(raw bool) error
}

// Monitor is the domain kernel's command monitor: the commands that show
// and exercise the domains. The Rv6 domain is granted one with the
// read-only views under "monitor" (for Sys.Monitor), and one with every
// command as the capability CapAdmin, which it hands on only as its
// processes pass it.
type Monitor interface {
	// Run runs argv (as in SpawnReq) and returns its output and status.
	// Output longer than MonitorOutput bytes is cut.
	Run(argv string) (MonitorResult, error)
}

// MonitorOutput is the most output one Monitor.Run returns.
const MonitorOutput = 32 << 10

// MonitorResult is the outcome of Monitor.Run.
type MonitorResult struct {
	Status int32
	N      int32
	Out    [MonitorOutput]byte
}

// Rv6 is the Rv6 domain (rv6/sys) as the kernel sees it.
type Rv6 interface {
	// Mount mounts the file system on the block device the domain was
	// granted (under "disk"), formatting it first when cfg.Format is set
	// and the device holds no file system, and returns its statistics.
	//
	//idl:init
	Mount(cfg Rv6Config) (FSStat, error)
	// Run starts a process with the console as its descriptors 0, 1 and
	// 2 (req.Fds is ignored) and waits for it to end: the kernel runs
	// init this way. Its children are reparented to it when it ends
	// before them.
	Run(req SpawnReq) (WaitStatus, error)
	// Shutdown kills every process, syncs and unmounts the file system.
	Shutdown() error
}

// Rv6Config configures Rv6.Mount.
type Rv6Config struct {
	Format bool   // format a device that holds no Rv6 file system
	Device string // the block device's name, for Statfs and df: ramdisk, nvme
}
