package system

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/rlgo/redleaf/apps/kvstore"
	"github.com/rlgo/redleaf/bootparam"
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/net/tcpbench"
	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
)

// The Linux baseline of the network benchmarks (rl.linuxnet=MAC): a NIC
// the system leaves to Linux, configured here with a static address, on
// which Go's net/http serves the files of Rv6's /www (as the image ships
// them), net/tcpbench's server answers throughput transfers and
// apps/kvstore (the code of Rv6's kvstore) speaks the memcached protocol,
// all on Linux's own TCP/IP stack, in the same guest as Rv6's httpd,
// tcpbench and kvstore on the stack domain. The ports are Rv6's defaults, so that the host's
// benchmark runs the same client against both.
const (
	LinuxHTTPPort     = 80
	LinuxTCPBenchPort = 5001
	LinuxKVPort       = 11211 // apps/kvstore, the same code as Rv6's kvstore
	// LinuxWWW is the directory of the Rv6 image that the baseline
	// serves, as its httpd does.
	LinuxWWW = "/www"
)

// Limits of the baseline's servers: it is a benchmark's, but it listens
// on a network, so a client is held to the same kind of bounds as Rv6's.
const (
	linuxMaxKVConns    = 64               // kvstore connections at once, as Rv6's kvstore -c
	linuxMaxConns      = 256              // HTTP connections at once
	linuxMaxBenchConns = 4                // tcpbench transfers at once
	linuxMaxFiles      = 1024             // files read from /www
	linuxMaxBytes      = 64 << 20         // bytes read from /www
	linuxBenchTimeout  = 10 * time.Minute // one tcpbench transfer
	linuxLinkWait      = 30 * time.Second // for Linux's interface to appear
)

// LinuxNetConfig says which NIC stays Linux's for the baseline and its
// address. The zero value is no baseline.
//
// On the kernel command line:
//
//	rl.linuxnet=52:54:00:72:6c:02   the NIC (by its address)
//	rl.linuxnetaddr=10.0.3.15/24    its IPv4 address and prefix (required with rl.linuxnet)
type LinuxNetConfig struct {
	MAC  net.HardwareAddr
	Addr netip.Prefix
}

// ParseLinuxNet reads rl.linuxnet and rl.linuxnetaddr of c.
func ParseLinuxNet(c *boot.Cmdline) (LinuxNetConfig, error) {
	var cfg LinuxNetConfig
	v, ok := c.Lookup(bootparam.LinuxNet)
	if !ok || v == "" || v == "0" || v == "off" {
		return cfg, nil
	}
	mac, err := net.ParseMAC(v)
	if err != nil || len(mac) != 6 {
		return LinuxNetConfig{}, fmt.Errorf("%s=%q: want the Ethernet address of the NIC to leave to Linux, as 52:54:00:72:6c:02", bootparam.LinuxNet, v)
	}
	cfg.MAC = mac
	a, ok := c.Lookup(bootparam.LinuxNetAddr)
	if !ok {
		return LinuxNetConfig{}, fmt.Errorf("%s=%s needs %s=A.B.C.D/N, the address Linux gives that NIC", bootparam.LinuxNet, v, bootparam.LinuxNetAddr)
	}
	p, err := netip.ParsePrefix(a)
	if err != nil || !p.Addr().Is4() || p.Bits() < 1 || p.Bits() > 30 {
		return LinuxNetConfig{}, fmt.Errorf("%s=%q: want an IPv4 address and a prefix length of 1..30, as 10.0.3.15/24", bootparam.LinuxNetAddr, a)
	}
	cfg.Addr = p
	return cfg, nil
}

// linuxNetConfig is the baseline's configuration in effect:
// opts.LinuxNet, else the kernel command line when the process is PID 1
// (the booted system), else none.
func (s *System) linuxNetConfig(opts Options) LinuxNetConfig {
	if opts.LinuxNet != nil {
		return *opts.LinuxNet
	}
	if os.Getpid() != 1 {
		return LinuxNetConfig{}
	}
	c, err := boot.ReadCmdline()
	if err != nil {
		s.logf("linuxnet: %v", err)
		return LinuxNetConfig{}
	}
	cfg, err := ParseLinuxNet(c)
	if err != nil {
		s.logf("linuxnet: %v; no Linux baseline", err)
		return LinuxNetConfig{}
	}
	return cfg
}

// startLinuxNet starts the baseline when asked: it reads /www from the
// RAM disk now, before Rv6 mounts it (so the files are the image's), and
// configures the NIC and starts the servers in the background, so that
// the boot does not wait for Linux's interface. Like startNet it never
// fails the system.
func (s *System) startLinuxNet(opts Options) {
	cfg := s.linuxNetConfig(opts)
	if cfg.MAC == nil {
		return
	}
	files, err := readWWW(s.mem, s.mem.Size())
	if err != nil {
		s.logf("linuxnet: %v; serving no files", err)
	}
	go func() {
		if err := s.runLinuxNet(cfg, files); err != nil {
			s.logf("linuxnet: %v; no Linux baseline", err)
		}
	}()
}

// runLinuxNet configures the NIC and serves on it until the listeners
// fail.
func (s *System) runLinuxNet(cfg LinuxNetConfig, files wwwFiles) error {
	name, err := linuxLinkUp(cfg)
	if err != nil {
		return err
	}
	a := cfg.Addr.Addr()
	hl, err := net.Listen("tcp4", netip.AddrPortFrom(a, LinuxHTTPPort).String())
	if err != nil {
		return err
	}
	bl, err := net.Listen("tcp4", netip.AddrPortFrom(a, LinuxTCPBenchPort).String())
	if err != nil {
		hl.Close()
		return err
	}
	kl, err := net.Listen("tcp4", netip.AddrPortFrom(a, LinuxKVPort).String())
	if err != nil {
		hl.Close()
		bl.Close()
		return err
	}
	s.logf("linuxnet: %s (%s) %s left to Linux: Go net/http on port %d (%d files from %s), tcpbench on port %d, kvstore on port %d",
		name, cfg.MAC, cfg.Addr, LinuxHTTPPort, len(files), LinuxWWW, LinuxTCPBenchPort, LinuxKVPort)
	go func() {
		s.logf("linuxnet: kvstore: %v", serveKV(kl, kvstore.NewServer(kvstore.Config{MaxConns: linuxMaxKVConns})))
	}()
	go func() {
		s.logf("linuxnet: tcpbench: %v", serveTCPBench(bl, linuxMaxBenchConns, linuxBenchTimeout))
	}()
	return newLinuxHTTP(files).Serve(limitListener(hl, linuxMaxConns))
}

// linuxLinkUp waits for Linux's interface with cfg.MAC, sets it up and
// gives it cfg.Addr (replacing an address it had); it returns its name.
func linuxLinkUp(cfg LinuxNetConfig) (string, error) {
	if lo, err := netlink.LinkByName("lo"); err == nil {
		netlink.LinkSetUp(lo) // for a local test of the servers; not needed by the baseline
	}
	deadline := time.Now().Add(linuxLinkWait)
	var link netlink.Link
	for link == nil {
		links, err := netlink.LinkList()
		if err != nil {
			return "", fmt.Errorf("listing Linux's interfaces: %w", err)
		}
		for _, l := range links {
			if bytes.Equal(l.Attrs().HardwareAddr, cfg.MAC) {
				link = l
			}
		}
		if link == nil {
			if time.Now().After(deadline) {
				return "", fmt.Errorf("no interface of Linux's with address %s (%s) after %v: is the NIC there (rlbuild boot --linux-forward), and not the one rl.netmac= gives the stack domain?", cfg.MAC, bootparam.LinuxNet, linuxLinkWait)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	name := link.Attrs().Name
	if err := netlink.LinkSetUp(link); err != nil {
		return "", fmt.Errorf("setting %s up: %w", name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: cfg.Addr.Addr().AsSlice(), Mask: net.CIDRMask(cfg.Addr.Bits(), 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return "", fmt.Errorf("adding %s to %s: %w", cfg.Addr, name, err)
	}
	return name, nil
}

// wwwFiles are the files the baseline serves, by URL path.
type wwwFiles map[string]wwwFile

type wwwFile struct {
	data []byte
	mod  time.Time
}

// readWWW reads the regular files under LinuxWWW of the Rv6 file system
// in img (the RAM disk's bytes, before Rv6 mounts it), at most
// linuxMaxFiles of them and linuxMaxBytes in all. It mounts it read-only:
// nothing is written.
func readWWW(img io.ReaderAt, size int64) (wwwFiles, error) {
	files := wwwFiles{}
	f, err := fs.Mount(readOnlyDisk{img, uint64(size) / blockdev.BlockSize}, fs.Options{ReadOnly: true})
	if err != nil {
		return files, fmt.Errorf("mounting the RAM disk read-only: %w", err)
	}
	defer f.Unmount()
	total := int64(0)
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if depth > 16 {
			return fmt.Errorf("%s: deeper than 16 directories", dir)
		}
		es, err := f.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("reading %s: %w", dir, err)
		}
		for _, e := range es {
			p := path.Join(dir, e.Name)
			st, err := f.Stat(p)
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			if st.IsDir() {
				if err := walk(p, depth+1); err != nil {
					return err
				}
				continue
			}
			if len(files) == linuxMaxFiles || total+st.Size > linuxMaxBytes {
				return fmt.Errorf("%s holds more than %d files or %d MiB: serving the first %d", LinuxWWW, linuxMaxFiles, linuxMaxBytes>>20, len(files))
			}
			fl, err := f.Open(p, fs.O_RDONLY)
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			data := make([]byte, st.Size)
			n, err := fl.ReadAt(data, 0)
			fl.Close()
			if n != len(data) {
				return fmt.Errorf("reading %s: %d of %d bytes: %v", p, n, len(data), err)
			}
			total += st.Size
			files[strings.TrimPrefix(p, LinuxWWW)] = wwwFile{data: data, mod: time.Unix(0, st.Mtime)}
		}
		return nil
	}
	if _, err := f.Stat(LinuxWWW); err != nil {
		return files, fmt.Errorf("no %s in the Rv6 file system: %w", LinuxWWW, err)
	}
	return files, walk(LinuxWWW, 0)
}

// readOnlyDisk is a block device over bytes that refuses writes.
type readOnlyDisk struct {
	r      io.ReaderAt
	blocks uint64
}

func (d readOnlyDisk) NumBlocks() uint64 { return d.blocks }

func (d readOnlyDisk) Read(reqs []blockdev.Req) error {
	if err := blockdev.CheckRange(reqs, d.blocks); err != nil {
		return err
	}
	for _, r := range reqs {
		if _, err := d.r.ReadAt(r.Data[:], int64(r.LBA)*blockdev.BlockSize); err != nil {
			return err
		}
	}
	return nil
}

func (d readOnlyDisk) Write([]blockdev.Req) error {
	return errors.New("the Linux baseline reads the RAM disk only")
}

func (d readOnlyDisk) Flush() error { return nil }

// newLinuxHTTP is the baseline's HTTP server: GET and HEAD of files,
// "/" meaning /index.html, with net/http's headers (Content-Type by
// extension, Last-Modified, conditional and range requests) and bounds on
// headers and idle or slow clients.
func newLinuxHTTP(files wwwFiles) *http.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/" {
			p = "/index.html"
		}
		f, ok := files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, p, f.mod, bytes.NewReader(f.data))
	})
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
}

// serveTCPBench answers tcpbench clients on l, at most max at once, each
// transfer within timeout, until l fails; it returns that failure.
func serveTCPBench(l net.Listener, max int, timeout time.Duration) error {
	l = limitListener(l, max)
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			tcpbench.Serve(c, make([]byte, 64<<10))
		}()
	}
}

// serveKV serves the memcached protocol of srv on l (each connection on a
// goroutine, srv bounding how many and their idle time) until l fails;
// it returns that failure.
func serveKV(l net.Listener, srv *kvstore.Server) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			srv.ServeConn(c)
		}()
	}
}

// limitListener lets at most n connections of l be open at once: Accept
// waits for one to close.
func limitListener(l net.Listener, n int) net.Listener {
	return &limited{Listener: l, sem: make(chan struct{}, n)}
}

type limited struct {
	net.Listener
	sem chan struct{}
}

func (l *limited) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
