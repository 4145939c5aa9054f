package kvstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// Version is what the version command reports.
const Version = "1.6.0-redleaf"

// Config configures a Server; zero fields take the defaults.
type Config struct {
	MaxBytes    int64         // memory for items (default 64 MiB)
	MaxItem     int           // largest value (default 1 MiB)
	MaxLine     int           // longest command line (default 2048 bytes)
	MaxConns    int           // connections served at once (default 1024)
	IdleTimeout time.Duration // drop a connection idle this long (default 5 min; needs a stream with deadlines)
	WriteBuf    int           // per-connection output buffer (default 16 KiB)
	Now         func() time.Time
}

func (c Config) withDefaults() Config {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	if c.MaxItem <= 0 {
		c.MaxItem = 1 << 20
	}
	if c.MaxLine <= 0 {
		c.MaxLine = 2048
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1024
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.WriteBuf <= 0 {
		c.WriteBuf = 16 << 10
	}
	return c
}

// A Server serves the protocol over connections, sharing one Store.
type Server struct {
	cfg   Config
	store *Store
	conns atomic.Int64
}

// NewServer makes a server with a store of its own.
func NewServer(cfg Config) *Server {
	cfg = cfg.withDefaults()
	return &Server{cfg: cfg, store: NewStore(cfg.MaxBytes, cfg.MaxItem, cfg.Now)}
}

// Store is the server's store.
func (s *Server) Store() *Store { return s.store }

// A ReadDeadliner is a stream that can time out reads (a net.Conn; a
// socket of the stack later). Streams without it get no idle timeout.
type ReadDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// ErrTooManyConns is ServeConn's error when MaxConns connections are
// being served: the client got "SERVER_ERROR too many open connections".
var ErrTooManyConns = errors.New("kvstore: too many open connections (Config.MaxConns)")

// errLineTooLong ends a connection whose command line is over MaxLine.
var errLineTooLong = errors.New("kvstore: command line too long (Config.MaxLine)")

// ServeConn serves one connection until the client quits or the stream
// fails; it returns nil for an orderly end.
func (s *Server) ServeConn(rw io.ReadWriter) error {
	if n := s.conns.Add(1); n > int64(s.cfg.MaxConns) {
		s.conns.Add(-1)
		s.store.conns(0, true)
		io.WriteString(rw, "SERVER_ERROR too many open connections\r\n")
		return ErrTooManyConns
	}
	s.store.conns(1, false)
	defer func() {
		s.conns.Add(-1)
		s.store.conns(-1, false)
	}()
	c := &conn{srv: s, r: bufio.NewReaderSize(rw, s.cfg.MaxLine), w: bufio.NewWriterSize(rw, s.cfg.WriteBuf)}
	c.dl, _ = rw.(ReadDeadliner)
	return c.serve()
}

type conn struct {
	srv  *Server
	r    *bufio.Reader
	w    *bufio.Writer
	dl   ReadDeadliner
	args [][]byte
}

func (c *conn) serve() error {
	for {
		if c.r.Buffered() == 0 {
			// Nothing pipelined: answer before waiting for more.
			if err := c.w.Flush(); err != nil {
				return err
			}
			if c.dl != nil {
				c.dl.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout)) // stream deadlines are wall-clock time
			}
		}
		line, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			c.w.WriteString("CLIENT_ERROR line too long\r\n")
			c.w.Flush()
			return errLineTooLong
		}
		if err == io.EOF && len(line) == 0 {
			c.w.Flush()
			return nil
		}
		if err != nil {
			c.w.Flush()
			if err == io.EOF {
				return nil
			}
			return err
		}
		quit, err := c.command(bytes.TrimRight(line, "\r\n"))
		if err != nil || quit {
			c.w.Flush()
			return err
		}
	}
}

func (cfg Config) now() time.Time {
	if cfg.Now != nil {
		return cfg.Now()
	}
	return time.Now()
}

// split tokenizes a command line on spaces into c.args (reused).
func (c *conn) split(line []byte) [][]byte {
	a := c.args[:0]
	for {
		for len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			a = append(a, line)
			break
		}
		a = append(a, line[:i])
		line = line[i+1:]
	}
	c.args = a
	return a
}

func (c *conn) reply(s string, noreply bool) {
	if !noreply {
		c.w.WriteString(s)
	}
}

const (
	badFormat = "CLIENT_ERROR bad command line format\r\n"
	badKey    = "CLIENT_ERROR key too long or with control characters\r\n"
)

func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for _, b := range k {
		if b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

func isNoreply(args [][]byte) bool {
	return len(args) > 0 && string(args[len(args)-1]) == "noreply"
}

// command runs one command line; quit reports the client asked to go.
func (c *conn) command(line []byte) (quit bool, err error) {
	args := c.split(line)
	if len(args) == 0 {
		c.w.WriteString("ERROR\r\n")
		return false, nil
	}
	st := c.srv.store
	switch cmd := string(args[0]); cmd {
	case "get", "gets":
		return false, c.get(args[1:], cmd == "gets", false, 0)
	case "gat", "gats":
		if len(args) < 3 {
			c.w.WriteString("ERROR\r\n")
			return false, nil
		}
		exp, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			c.w.WriteString("CLIENT_ERROR invalid exptime argument\r\n")
			return false, nil
		}
		return false, c.get(args[2:], cmd == "gats", true, exp)
	case "set", "add", "replace", "append", "prepend", "cas":
		return false, c.storage(cmd, args)
	case "delete":
		noreply := isNoreply(args)
		n := len(args)
		if noreply {
			n--
		}
		// "delete <key> [0]": the legacy time argument must be 0.
		if n < 2 || n > 3 || n == 3 && string(args[2]) != "0" {
			c.w.WriteString("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n")
			return false, nil
		}
		if !validKey(args[1]) {
			c.w.WriteString(badKey)
			return false, nil
		}
		if st.Delete(args[1]) {
			c.reply("DELETED\r\n", noreply)
		} else {
			c.reply("NOT_FOUND\r\n", noreply)
		}
	case "incr", "decr":
		noreply := isNoreply(args)
		if len(args) != 3 && !(len(args) == 4 && noreply) {
			c.w.WriteString("ERROR\r\n")
			return false, nil
		}
		if !validKey(args[1]) {
			c.w.WriteString(badKey)
			return false, nil
		}
		delta, err := strconv.ParseUint(string(args[2]), 10, 64)
		if err != nil {
			c.w.WriteString("CLIENT_ERROR invalid numeric delta argument\r\n")
			return false, nil
		}
		v, r := st.Incr(args[1], delta, cmd == "decr")
		switch r {
		case IncrOK:
			if !noreply {
				c.w.Write(strconv.AppendUint(c.w.AvailableBuffer(), v, 10))
				c.w.WriteString("\r\n")
			}
		case IncrNotFound:
			c.reply("NOT_FOUND\r\n", noreply)
		default:
			c.reply("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", noreply)
		}
	case "touch":
		noreply := isNoreply(args)
		if len(args) != 3 && !(len(args) == 4 && noreply) {
			c.w.WriteString("ERROR\r\n")
			return false, nil
		}
		exp, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil || !validKey(args[1]) {
			c.w.WriteString("CLIENT_ERROR invalid exptime argument\r\n")
			return false, nil
		}
		if st.Touch(args[1], exp) {
			c.reply("TOUCHED\r\n", noreply)
		} else {
			c.reply("NOT_FOUND\r\n", noreply)
		}
	case "flush_all":
		noreply := isNoreply(args)
		n := len(args)
		if noreply {
			n--
		}
		var delay int64
		if n == 2 {
			d, err := strconv.ParseInt(string(args[1]), 10, 64)
			if err != nil {
				c.w.WriteString(badFormat)
				return false, nil
			}
			delay = d
		} else if n > 2 {
			c.w.WriteString("ERROR\r\n")
			return false, nil
		}
		st.Flush(delay)
		c.reply("OK\r\n", noreply)
	case "stats":
		if len(args) > 1 {
			switch string(args[1]) {
			case "items", "slabs", "sizes", "conns", "settings":
				// memcached's internals: none here.
				c.w.WriteString("END\r\n")
			default:
				c.w.WriteString("ERROR\r\n")
			}
			return false, nil
		}
		c.stats()
	case "version":
		c.w.WriteString("VERSION " + Version + "\r\n")
	case "verbosity":
		noreply := isNoreply(args)
		n := len(args)
		if noreply {
			n--
		}
		switch {
		case noreply: // memcached answers nothing at all then
		case n != 2:
			c.w.WriteString("ERROR\r\n")
		default:
			c.w.WriteString("OK\r\n")
		}
	case "quit":
		return true, nil
	default:
		c.w.WriteString("ERROR\r\n")
	}
	return false, nil
}

// get answers get, gets, gat and gats for keys.
func (c *conn) get(keys [][]byte, withCas, touch bool, exp int64) error {
	if len(keys) == 0 {
		c.w.WriteString("ERROR\r\n")
		return nil
	}
	for _, k := range keys {
		if !validKey(k) {
			c.w.WriteString(badKey)
			return nil
		}
	}
	for _, k := range keys {
		it, ok := c.srv.store.Get(k, touch, exp)
		if !ok {
			continue
		}
		b := c.w.AvailableBuffer()
		b = append(b, "VALUE "...)
		b = append(b, k...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(it.Flags), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(it.Value)), 10)
		if withCas {
			b = append(b, ' ')
			b = strconv.AppendUint(b, it.Cas, 10)
		}
		b = append(b, "\r\n"...)
		c.w.Write(b)
		c.w.Write(it.Value)
		if _, err := c.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	c.w.WriteString("END\r\n")
	return nil
}

// storage reads the data block of a storage command and stores it.
func (c *conn) storage(cmd string, args [][]byte) error {
	want := 6
	if cmd == "cas" {
		want = 7
	}
	noreply := len(args) == want && isNoreply(args)
	if len(args) != want-1 && !noreply {
		c.w.WriteString("ERROR\r\n")
		return nil
	}
	key := args[1]
	flags, e1 := strconv.ParseUint(string(args[2]), 10, 32)
	exp, e2 := strconv.ParseInt(string(args[3]), 10, 64)
	n, e3 := strconv.ParseInt(string(args[4]), 10, 32)
	var cas uint64
	var e4 error
	if cmd == "cas" {
		cas, e4 = strconv.ParseUint(string(args[5]), 10, 64)
	}
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil || n < 0 {
		// As memcached: the data block, if any, is then read as commands.
		c.w.WriteString(badFormat)
		return nil
	}
	if !validKey(key) {
		c.w.WriteString(badKey)
		// Skip the data block, which the client sends anyway.
		return c.skip(n + 2)
	}
	if int(n) > c.srv.cfg.MaxItem {
		c.w.WriteString("SERVER_ERROR object too large for cache\r\n")
		return c.skip(n + 2)
	}
	if c.dl != nil {
		c.dl.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout)) // stream deadlines are wall-clock time
	}
	key = append([]byte(nil), key...) // args point into the reader's buffer, which the read below refills
	val := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, val); err != nil {
		return err
	}
	if val[n] != '\r' || val[n+1] != '\n' {
		c.w.WriteString("CLIENT_ERROR bad data chunk\r\n")
		return nil
	}
	var mode Mode
	switch cmd {
	case "set":
		mode = Set
	case "add":
		mode = Add
	case "replace":
		mode = Replace
	case "append":
		mode = Append
	case "prepend":
		mode = Prepend
	case "cas":
		mode = Cas
	}
	switch c.srv.store.Store(mode, key, uint32(flags), exp, val[:n:n], cas) {
	case Stored:
		c.reply("STORED\r\n", noreply)
	case NotStored:
		c.reply("NOT_STORED\r\n", noreply)
	case Exists:
		c.reply("EXISTS\r\n", noreply)
	case NotFound:
		c.reply("NOT_FOUND\r\n", noreply)
	case TooLarge:
		c.reply("SERVER_ERROR object too large for cache\r\n", noreply)
	}
	return nil
}

// skip discards n bytes of input.
func (c *conn) skip(n int64) error {
	_, err := c.r.Discard(int(n))
	return err
}

func (c *conn) stats() {
	st := c.srv.store.Stats()
	now := c.srv.cfg.now()
	put := func(name string, v any) { fmt.Fprintf(c.w, "STAT %s %v\r\n", name, v) }
	put("pid", 0)
	put("uptime", int64(now.Sub(c.srv.store.started).Seconds()))
	put("time", now.Unix())
	put("version", Version)
	put("pointer_size", 64)
	put("curr_connections", st.CurrConns)
	put("total_connections", st.TotalConns)
	put("rejected_connections", st.RejectedConns)
	put("cmd_get", st.CmdGet)
	put("cmd_set", st.CmdSet)
	put("cmd_flush", st.CmdFlush)
	put("cmd_touch", st.CmdTouch)
	put("get_hits", st.GetHits)
	put("get_misses", st.GetMisses)
	put("delete_misses", st.DeleteMisses)
	put("delete_hits", st.DeleteHits)
	put("incr_misses", st.IncrMisses)
	put("incr_hits", st.IncrHits)
	put("decr_misses", st.DecrMisses)
	put("decr_hits", st.DecrHits)
	put("cas_misses", st.CasMisses)
	put("cas_hits", st.CasHits)
	put("cas_badval", st.CasBadval)
	put("touch_hits", st.TouchHits)
	put("touch_misses", st.TouchMisses)
	put("limit_maxbytes", st.LimitMaxBytes)
	put("threads", 1)
	put("bytes", st.Bytes)
	put("curr_items", st.CurrItems)
	put("total_items", st.TotalItems)
	put("expired_unfetched", st.Expired)
	put("evictions", st.Evictions)
	c.w.WriteString("END\r\n")
}
