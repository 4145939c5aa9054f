package sys

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/blockdev/idldev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// Kind is the domain kind Rv6 registers as.
const Kind = "rv6"

// The names of the grants the constructor imports.
const (
	GrantDisk    = "disk"
	GrantLoader  = "loader"
	GrantConsole = "console"
	GrantMonitor = "monitor" // optional: the read-only views, for Sys.Monitor
	// GrantCaps is a device: the names ([]string) of the capabilities
	// Rv6 may hand to processes, each granted under GrantCapPrefix and its
	// name ("cap:admin", "cap:nic:ixgbe0"). Optional.
	GrantCaps      = "caps"
	GrantCapPrefix = "cap:"
)

func init() {
	domain.Register(Kind, New)
}

// Rv6 is the instance of the domain: the kernel's idl.Rv6.
type Rv6 struct {
	ctx     *domain.Context
	disk    idl.BlockDevice
	loader  idl.Loader
	monitor idl.Monitor // nil when not granted
	cons    *console
	start   time.Time

	// capMu guards caps, the capabilities Rv6 may hand out: by name, nil
	// until the first process that gets one is spawned (importing starts
	// what some of them stand for, such as a NIC's driver).
	capMu sync.Mutex
	caps  map[string]any

	// mu guards the file system's mount state, the process table and,
	// of every process, ppid, ending, zombie, status and children.
	mu      sync.Mutex
	fsys    *fs.FS
	dev     *idldev.Device
	devName string
	down    bool // Shutdown was called
	procs   map[int32]*process
	nextPid int32

	pipeSeq atomic.Uint32
}

// New is the constructor: it imports the grants (see the package doc).
func New(ctx *domain.Context) (idl.Rv6, error) {
	disk, err := domain.Import[idl.BlockDevice](ctx, GrantDisk)
	if err != nil {
		return nil, err
	}
	loader, err := domain.Import[idl.Loader](ctx, GrantLoader)
	if err != nil {
		return nil, err
	}
	con, err := domain.Import[idl.Console](ctx, GrantConsole)
	if err != nil {
		return nil, err
	}
	mon, err := domain.Import[idl.Monitor](ctx, GrantMonitor)
	if err != nil && !errors.Is(err, domain.ErrNoGrant) {
		return nil, err
	}
	names, err := domain.Device[[]string](ctx, GrantCaps)
	if err != nil && !errors.Is(err, domain.ErrNoGrant) {
		return nil, err
	}
	r := &Rv6{ctx: ctx, disk: disk, loader: loader, monitor: mon, start: time.Now(),
		procs: make(map[int32]*process), nextPid: 1, caps: map[string]any{}}
	for _, n := range names {
		if _, err := kindOf(n); err != nil {
			return nil, fmt.Errorf("rv6: grant %q: %w", GrantCaps, err)
		}
		r.caps[n] = nil
	}
	r.cons = newConsole(ctx, con)
	return r, nil
}

// Mount mounts the file system of the disk, formatting the disk first if
// cfg.Format is set and it holds no Rv6 file system (its superblock has
// not Rv6's magic number). A disk holding a damaged Rv6 file system is
// never formatted.
func (r *Rv6) Mount(cfg idl.Rv6Config) (idl.FSStat, error) {
	r.mu.Lock()
	if r.fsys != nil {
		r.mu.Unlock()
		return idl.FSStat{}, fmt.Errorf("rv6: mount: already mounted: %w", errno.EBUSY)
	}
	if r.down {
		r.mu.Unlock()
		return idl.FSStat{}, fmt.Errorf("rv6: mount: shut down: %w", errno.EINVAL)
	}
	dev, err := idldev.New(r.disk, r.ctx.Heap())
	if err != nil {
		r.mu.Unlock()
		return idl.FSStat{}, fmt.Errorf("rv6: mount: %w", err)
	}
	opts := fs.Options{Durability: fs.SyncEachOp}
	fsys, err := fs.Mount(dev, opts)
	if err != nil && cfg.Format && holdsNoFS(dev) {
		if err = fs.Format(dev, fs.FormatOptions{Time: time.Now().UnixNano()}); err == nil {
			r.ctx.Logf("formatted %s (%d blocks)", cfg.Device, dev.NumBlocks())
			fsys, err = fs.Mount(dev, opts)
		}
	}
	if err != nil {
		r.mu.Unlock()
		dev.Close()
		return idl.FSStat{}, fmt.Errorf("rv6: mount: %w", err)
	}
	r.fsys, r.dev, r.devName = fsys, dev, cfg.Device
	r.mu.Unlock()
	return r.statfs()
}

// holdsNoFS reports whether dev's superblock is not an Rv6 one.
func holdsNoFS(dev blockdev.Device) bool {
	if dev.NumBlocks() <= layout.SuperBlock {
		return false // too small to format: let Mount's error stand
	}
	b, err := blockdev.ReadBlock(dev, layout.SuperBlock)
	if err != nil {
		return false
	}
	return uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24 != layout.Magic
}

// Run starts a process on the console and waits for it (see idl.Rv6).
func (r *Rv6) Run(req idl.SpawnReq) (idl.WaitStatus, error) {
	r.mu.Lock()
	fsys := r.fsys
	r.mu.Unlock()
	if fsys == nil {
		return idl.WaitStatus{}, fmt.Errorf("rv6: run %s: no file system mounted: %w", req.Prog, errno.EINVAL)
	}
	cwd := fsys.Cwd()
	if req.Cwd != "" {
		if err := cwd.Chdir(req.Cwd); err != nil {
			cwd.Close()
			return idl.WaitStatus{}, fmt.Errorf("rv6: run %s: %w", req.Prog, err)
		}
	}
	o := r.cons.open()
	o.refs.Add(2)
	p, err := r.spawn(nil, req, []*ofile{o, o, o}, cwd)
	if err != nil {
		return idl.WaitStatus{}, fmt.Errorf("rv6: run: %w", err)
	}
	select {
	case <-p.done:
	case <-r.ctx.Done():
		r.ctx.Check()
	}
	r.mu.Lock()
	delete(r.procs, p.pid)
	ws := p.status
	r.mu.Unlock()
	return ws, nil
}

// Shutdown kills every process, then syncs and unmounts the file system.
// Rv6 runs no process after it.
func (r *Rv6) Shutdown() error {
	r.mu.Lock()
	r.down = true
	var live []*process
	for _, p := range r.procs {
		if !p.ending {
			live = append(live, p)
		}
	}
	r.mu.Unlock()
	sort.Slice(live, func(i, j int) bool { return live[i].pid > live[j].pid })
	for _, p := range live {
		r.end(p, killedStatus())
	}
	r.mu.Lock()
	fsys, dev := r.fsys, r.dev
	r.fsys, r.dev = nil, nil
	r.mu.Unlock()
	if fsys == nil {
		return nil
	}
	err := fsys.Sync()
	if uerr := fsys.Unmount(); err == nil {
		err = uerr
	}
	dev.Close()
	if err != nil {
		return fmt.Errorf("rv6: shutdown: %w", err)
	}
	return nil
}

// statfs is Statfs of the mounted file system.
func (r *Rv6) statfs() (idl.FSStat, error) {
	r.mu.Lock()
	fsys, name := r.fsys, r.devName
	r.mu.Unlock()
	if fsys == nil {
		return idl.FSStat{}, fmt.Errorf("statfs: no file system mounted: %w", errno.EINVAL)
	}
	s, err := fsys.Statfs()
	if err != nil {
		return idl.FSStat{}, err
	}
	st := fsys.Stats()
	return idl.FSStat{
		BlockSize:   uint32(s.BlockSize),
		Blocks:      uint64(s.Blocks),
		FreeBlocks:  uint64(s.FreeBlocks),
		Inodes:      uint64(s.Inodes),
		FreeInodes:  uint64(s.FreeInodes),
		Device:      name,
		CacheBlocks: uint64(st.Cache.Resident),
		Commits:     uint64(st.Log.Commits),
	}, nil
}

// mounted returns the file system, or an error if none is mounted.
func (r *Rv6) mounted() (*fs.FS, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fsys == nil {
		return nil, errno.EINVAL
	}
	return r.fsys, nil
}
