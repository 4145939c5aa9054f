//rl:domain

// Package httpd is the httpd program: the static file server of
// apps/httpd, serving a directory of the Rv6 file system (default /www)
// on a TCP port (default 80) of the network stack the process holds, one
// thread per connection, at most -c at once (a client beyond gets 503).
// It runs until it is killed (kill PID) or its stack goes away.
package httpd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/apps/httpd"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/progs/internal/tcpserve"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "httpd [-p PORT] [-root DIR] [-c MAXCONNS] [-idle DURATION] [-s STACK]"

// MaxConnsLimit bounds -c: more would only wait for the stack's sockets.
const MaxConnsLimit = 1024

func init() { ulib.Register("httpd", main, ulib.NeedsInet) }

func main(p *ulib.Proc) int {
	f := cli.NewFlags()
	port := f.Int("p", 80, "TCP port to listen on")
	root := f.String("root", "/www", "directory to serve")
	maxConns := f.Int("c", 64, fmt.Sprintf("connections served at once, 1..%d", MaxConnsLimit))
	idle := f.Duration("idle", 30*time.Second, "close a connection idle this long")
	stack := f.String("s", "", "network stack (inet:NAME; default: the first one held)")
	args, ok := cli.ParseFlags(p, p.Stderr, f, p.Args[1:], usage)
	if !ok {
		return ulib.StatusUsage
	}
	if len(args) != 0 {
		return cli.BadUsage(p, fmt.Errorf("unexpected argument %q", args[0]), usage)
	}
	if *port < 1 || *port > 65535 {
		return cli.BadUsage(p, fmt.Errorf("bad -p %d: want a port 1..65535", *port), usage)
	}
	if *maxConns < 1 || *maxConns > MaxConnsLimit {
		return cli.BadUsage(p, fmt.Errorf("bad -c %d: want 1..%d connections", *maxConns, MaxConnsLimit), usage)
	}
	if *idle < time.Second {
		return cli.BadUsage(p, fmt.Errorf("bad -idle %v: want at least 1s", *idle), usage)
	}
	dir := strings.TrimSuffix(*root, "/")
	if dir == "" {
		dir = "/"
	}
	st, err := p.Stat(dir)
	if err != nil {
		return cli.Fail(p, dir, err)
	}
	if st.Type != idl.FileTypeDir {
		return cli.BadUsage(p, fmt.Errorf("-root %s is not a directory", dir), usage)
	}
	n, err := p.Inet(*stack)
	if err != nil {
		return cli.Fail(p, "network", err)
	}
	l, err := n.Listen(uint16(*port), *maxConns)
	if err != nil {
		return cli.Fail(p, fmt.Sprintf("listen on port %d", *port), err)
	}
	srv := httpd.NewServer(&rv6FS{root: dir, procs: &procPool{p: p}}, httpd.Config{MaxConns: *maxConns, IdleTimeout: *idle})
	ts := tcpserve.New(tcpserve.Config{MaxConns: *maxConns,
		Busy: []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")})
	info, _ := n.Info()
	fmt.Fprintf(p.Stderr, "httpd: serving %s on %s:%d\n", dir, ulib.FormatIPv4(info.Addr), *port)
	err = ts.ServeListen(p, n, l, "httpd", func(_ *ulib.Proc, c *tcpserve.Conn) { srv.ServeConn(c) }) //nolint:errcheck // per connection; nobody to tell
	return cli.Fail(p, "accept", err)
}

// rv6FS is a directory of the Rv6 file system as an httpd.FS. Open is
// called by the connections' threads at once: each open file takes a Proc
// of its own (with its own I/O buffer) from a pool.
type rv6FS struct {
	root  string
	procs *procPool
}

// procPool keeps the Procs of closed files for the next ones: at most as
// many as files were open at once (bounded by the connections).
type procPool struct {
	p    *ulib.Proc // the main thread's; only Fork is called on it (it copies)
	mu   sync.Mutex
	free []*ulib.Proc
}

func (pp *procPool) get() *ulib.Proc {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if k := len(pp.free); k > 0 {
		q := pp.free[k-1]
		pp.free = pp.free[:k-1]
		return q
	}
	return pp.p.Fork()
}

func (pp *procPool) put(q *ulib.Proc) {
	pp.mu.Lock()
	pp.free = append(pp.free, q)
	pp.mu.Unlock()
}

func (fs *rv6FS) Open(name string) (httpd.File, error) {
	path := fs.root
	if name != "" && name != "." {
		path = strings.TrimSuffix(fs.root, "/") + "/" + name
	}
	q := fs.procs.get()
	f, err := q.Open(path, idl.ORdOnly)
	if err != nil {
		fs.procs.put(q)
		if errors.Is(err, errno.ENOENT) || errors.Is(err, errno.ENOTDIR) {
			return nil, httpd.ErrNotExist
		}
		return nil, err
	}
	return &rv6File{fs: fs, q: q, f: f}, nil
}

// rv6File is an open file; ReadAt seeks only when the offset is not where
// the last read ended (httpd reads files from start to end).
type rv6File struct {
	fs  *rv6FS
	q   *ulib.Proc
	f   *ulib.File
	pos int64
}

func (r *rv6File) Stat() (httpd.FileInfo, error) {
	st, err := r.f.Stat()
	if err != nil {
		return httpd.FileInfo{}, err
	}
	return httpd.FileInfo{Size: st.Size, ModTime: time.Unix(0, st.Mtime), IsDir: st.Type == idl.FileTypeDir}, nil
}

func (r *rv6File) ReadAt(b []byte, off int64) (int, error) {
	if off != r.pos {
		if _, err := r.f.Seek(off, int(idl.SeekSet)); err != nil {
			return 0, err
		}
		r.pos = off
	}
	done := 0
	for done < len(b) {
		k, err := r.f.Read(b[done:])
		done += k
		r.pos += int64(k)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (r *rv6File) Close() error {
	if r.q == nil {
		return errno.EBADF
	}
	err := r.f.Close()
	r.fs.procs.put(r.q)
	r.q = nil // its Proc may serve another file now
	return err
}

var _ io.ReaderAt = (*rv6File)(nil)
