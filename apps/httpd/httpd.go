//rl:domain

// Package httpd is an HTTP/1.1 static file server over any byte stream
// (an io.ReadWriter: a socket of the Rv6 stack, or a host net.Conn in
// tests) and any file system (FS: the Rv6 file system later, a map in
// tests): GET and HEAD, keep-alive, Content-Length, Content-Type,
// Last-Modified with If-Modified-Since, directory index files, and the
// errors 400, 404, 405, 413, 431, 501 and 503.
//
// Clients are hostile: the request head is bounded (MaxHeaderBytes: 431
// beyond), a request body is refused beyond MaxBodyBytes (413), paths
// cannot leave the root, the number of connections is bounded (503) and
// idle connections are closed when the stream supports deadlines.
package httpd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// FileInfo describes a file.
type FileInfo struct {
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// A File is an open file.
type File interface {
	Stat() (FileInfo, error)
	ReadAt(p []byte, off int64) (int, error)
	Close() error
}

// An FS opens files by slash-separated names relative to its root ("" and
// "." are the root; names are already cleaned, never with "..").
type FS interface {
	Open(name string) (File, error)
}

// ErrNotExist is what an FS returns for a missing file (404).
var ErrNotExist = errors.New("httpd: file does not exist")

// Config configures a Server; zero fields take the defaults.
type Config struct {
	MaxHeaderBytes int           // request line and headers (default 8 KiB; 431 beyond)
	MaxBodyBytes   int64         // request body accepted and discarded (default 64 KiB; 413 beyond)
	MaxConns       int           // connections at once (default 256; 503 beyond)
	MaxRequests    int           // per connection before it is closed (default 1000)
	IdleTimeout    time.Duration // between requests (default 30 s; needs a stream with deadlines)
	Index          string        // a directory's index file (default index.html)
	Name           string        // the Server header (default "redleaf-httpd")
}

func (c Config) withDefaults() Config {
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 256
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 1000
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.Index == "" {
		c.Index = "index.html"
	}
	if c.Name == "" {
		c.Name = "redleaf-httpd"
	}
	return c
}

// A Server serves files of an FS.
type Server struct {
	cfg   Config
	fs    FS
	conns atomic.Int64
	// Counters.
	Requests, Errors atomic.Uint64
}

// NewServer makes a server of fsys.
func NewServer(fsys FS, cfg Config) *Server {
	return &Server{cfg: cfg.withDefaults(), fs: fsys}
}

// A ReadDeadliner is a stream that can time out reads.
type ReadDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// ErrTooManyConns is ServeConn's error when MaxConns connections are
// served already (the client got a 503).
var ErrTooManyConns = errors.New("httpd: too many connections (Config.MaxConns)")

// ServeConn serves requests on one connection until either side closes
// it; nil for an orderly end.
func (s *Server) ServeConn(rw io.ReadWriter) error {
	c := &conn{srv: s, r: bufio.NewReaderSize(rw, s.cfg.MaxHeaderBytes), w: bufio.NewWriterSize(rw, 32<<10)}
	c.dl, _ = rw.(ReadDeadliner)
	if n := s.conns.Add(1); n > int64(s.cfg.MaxConns) {
		s.conns.Add(-1)
		c.error(503, "too many connections", true)
		c.w.Flush()
		return ErrTooManyConns
	}
	defer s.conns.Add(-1)
	return c.serve()
}

type conn struct {
	srv  *Server
	r    *bufio.Reader
	w    *bufio.Writer
	dl   ReadDeadliner
	buf  [32 << 10]byte
	head []byte
}

// A request is the part of a request the server uses.
type request struct {
	method, target, proto string
	keepAlive             bool
	contentLength         int64
	chunked               bool
	ifModifiedSince       string
}

// errHeaderTooLarge, errBadRequest are request-head errors.
var (
	errHeaderTooLarge = errors.New("request header fields too large")
	errBadRequest     = errors.New("bad request")
)

func (c *conn) serve() error {
	for n := 0; ; n++ {
		if c.r.Buffered() == 0 {
			if err := c.w.Flush(); err != nil {
				return err
			}
			if c.dl != nil {
				c.dl.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
			}
		}
		req, err := c.readHead()
		switch {
		case err == io.EOF:
			return c.w.Flush()
		case err == errHeaderTooLarge:
			c.error(431, "request header too large", true)
			return c.w.Flush()
		case err == errBadRequest:
			c.error(400, "malformed request", true)
			return c.w.Flush()
		case err != nil:
			c.w.Flush()
			return err
		}
		c.srv.Requests.Add(1)
		if n+1 >= c.srv.cfg.MaxRequests {
			req.keepAlive = false
		}
		if !c.body(req) {
			return c.w.Flush()
		}
		c.respond(req)
		if !req.keepAlive {
			return c.w.Flush()
		}
	}
}

// readHead reads a request line and headers within MaxHeaderBytes.
func (c *conn) readHead() (*request, error) {
	c.head = c.head[:0]
	limit := c.srv.cfg.MaxHeaderBytes
	var req request
	first := true
	for {
		line, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull || len(c.head)+len(line) > limit {
			return nil, errHeaderTooLarge
		}
		if err != nil {
			if err == io.EOF && first && len(c.head) == 0 && len(line) == 0 {
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, errBadRequest // a request cut short
			}
			return nil, err
		}
		c.head = append(c.head, line...)
		line = bytes.TrimRight(line, "\r\n")
		if first {
			if len(line) == 0 { // RFC 9112 2.2: ignore an empty line before the request
				c.head = c.head[:0]
				continue
			}
			first = false
			parts := strings.Split(string(line), " ")
			if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !strings.HasPrefix(parts[2], "HTTP/1.") || len(parts[2]) != 8 {
				return nil, errBadRequest
			}
			req.method, req.target, req.proto = parts[0], parts[1], parts[2]
			req.keepAlive = req.proto == "HTTP/1.1"
			continue
		}
		if len(line) == 0 {
			return &req, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return nil, errBadRequest
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Connection"):
			for _, tok := range strings.Split(string(value), ",") {
				switch strings.ToLower(strings.TrimSpace(tok)) {
				case "close":
					req.keepAlive = false
				case "keep-alive":
					req.keepAlive = true
				}
			}
		case asciiEqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return nil, errBadRequest
			}
			req.contentLength = n
		case asciiEqualFold(name, "Transfer-Encoding"):
			req.chunked = true
		case asciiEqualFold(name, "If-Modified-Since"):
			req.ifModifiedSince = string(value)
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	return len(b) == len(s) && strings.EqualFold(string(b), s)
}

// body discards the request's body; false if the connection must close.
func (c *conn) body(req *request) bool {
	switch {
	case req.chunked:
		c.error(501, "chunked request bodies are not supported", true)
		return false
	case req.contentLength > c.srv.cfg.MaxBodyBytes:
		c.error(413, "request body too large", true)
		return false
	case req.contentLength > 0:
		if _, err := c.r.Discard(int(req.contentLength)); err != nil {
			return false
		}
	}
	return true
}

// respond answers a parsed request.
func (c *conn) respond(req *request) {
	if req.method != "GET" && req.method != "HEAD" {
		c.error(405, "method not allowed", !req.keepAlive)
		return
	}
	name, ok := cleanPath(req.target)
	if !ok {
		c.error(400, "bad path", !req.keepAlive)
		return
	}
	f, fi, err := c.open(name)
	if err == nil && fi.IsDir {
		if !strings.HasSuffix(req.target, "/") {
			c.redirect(req, req.target+"/")
			return
		}
		f.Close()
		name = path.Join(name, c.srv.cfg.Index) // its type is the index file's
		f, fi, err = c.open(name)
		if err == nil && fi.IsDir {
			f.Close()
			err = ErrNotExist
		}
	}
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			c.error(404, "not found", !req.keepAlive)
		} else {
			c.error(500, "cannot read the file", !req.keepAlive)
		}
		return
	}
	defer f.Close()
	mod := fi.ModTime.UTC().Truncate(time.Second)
	if req.ifModifiedSince != "" {
		if t, err := time.Parse(timeFormat, req.ifModifiedSince); err == nil && !mod.After(t) {
			c.status(304, "Not Modified", req.keepAlive)
			c.w.WriteString("Last-Modified: " + mod.Format(timeFormat) + "\r\n\r\n")
			return
		}
	}
	c.status(200, "OK", req.keepAlive)
	fmt.Fprintf(c.w, "Content-Type: %s\r\nContent-Length: %d\r\nLast-Modified: %s\r\n\r\n", contentType(name), fi.Size, mod.Format(timeFormat))
	if req.method == "HEAD" {
		return
	}
	for off := int64(0); off < fi.Size; {
		n, err := f.ReadAt(c.buf[:min(int64(len(c.buf)), fi.Size-off)], off)
		if n > 0 {
			if _, werr := c.w.Write(c.buf[:n]); werr != nil {
				return
			}
			off += int64(n)
		}
		if err != nil && off < fi.Size {
			// The file shrank or failed under us: the length is
			// promised, so the connection must end.
			req.keepAlive = false
			return
		}
	}
}

func (c *conn) open(name string) (File, FileInfo, error) {
	f, err := c.srv.fs.Open(name)
	if err != nil {
		return nil, FileInfo{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, FileInfo{}, err
	}
	return f, fi, nil
}

// timeFormat is HTTP's date format (RFC 9110 5.6.7, IMF-fixdate).
const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func (c *conn) status(code int, text string, keepAlive bool) {
	fmt.Fprintf(c.w, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", code, text, c.srv.cfg.Name, time.Now().UTC().Format(timeFormat))
	if keepAlive {
		c.w.WriteString("Connection: keep-alive\r\n")
	} else {
		c.w.WriteString("Connection: close\r\n")
	}
}

var statusText = map[int]string{
	301: "Moved Permanently", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
	413: "Content Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
	501: "Not Implemented", 503: "Service Unavailable",
}

// error sends a small text error response.
func (c *conn) error(code int, msg string, closing bool) {
	c.srv.Errors.Add(1)
	c.status(code, statusText[code], !closing)
	if code == 405 {
		c.w.WriteString("Allow: GET, HEAD\r\n")
	}
	body := fmt.Sprintf("%d %s: %s\n", code, statusText[code], msg)
	fmt.Fprintf(c.w, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func (c *conn) redirect(req *request, to string) {
	c.status(301, statusText[301], req.keepAlive)
	fmt.Fprintf(c.w, "Location: %s\r\nContent-Length: 0\r\n\r\n", to)
}

// cleanPath turns a request target into an FS name: origin form only,
// query dropped, percent-decoded, cleaned; ok is false for anything else
// (NUL bytes, bad escapes, absolute URLs).
func cleanPath(target string) (string, bool) {
	if !strings.HasPrefix(target, "/") {
		return "", false
	}
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	var b strings.Builder
	for i := 0; i < len(target); i++ {
		ch := target[i]
		if ch == '%' {
			if i+2 >= len(target) {
				return "", false
			}
			v, err := strconv.ParseUint(target[i+1:i+3], 16, 8)
			if err != nil || v == 0 {
				return "", false
			}
			ch = byte(v)
			i += 2
		}
		if ch < ' ' || ch == 0x7f {
			return "", false
		}
		b.WriteByte(ch)
	}
	p := path.Clean("/" + b.String()) // "/.." cleans to "/": never above the root
	return strings.TrimPrefix(p, "/"), true
}

// types maps file extensions to Content-Type.
var types = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".json": "application/json",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".ico": "image/x-icon", ".wasm": "application/wasm", ".pdf": "application/pdf", ".xml": "application/xml",
}

func contentType(name string) string {
	if t, ok := types[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}
