// Package qmp is a small client of the QEMU Machine Protocol: it connects
// to a VM's QMP socket (qemu.Config.QMPSocket), negotiates capabilities,
// executes commands with a deadline and delivers asynchronous events
// (RESET, STOP, SHUTDOWN, ...) to subscribers. The virtual BMC (lab/vbmc)
// and the qemu power backend (lab/power) drive QEMU through it.
//
// QEMU is the peer, but the socket is a file anyone with access could
// serve: messages are size-limited and malformed ones end the connection
// with an error instead of a panic.
package qmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// refusedGrace is how long Dial retries a refused connection.
const refusedGrace = 2 * time.Second

// maxMessage bounds one QMP message: QEMU's largest replies (query-qmp-schema)
// are a few hundred KiB.
const maxMessage = 4 << 20

// Error is an error reply from QEMU.
type Error struct {
	Command string
	Class   string
	Desc    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// ErrClosed means the connection to QEMU ended (QEMU exited or Close).
var ErrClosed = errors.New("qmp: connection closed")

// Event is an asynchronous QMP event.
type Event struct {
	Name string
	Data json.RawMessage
	// Time is QEMU's timestamp of the event.
	Time time.Time
}

// Greeting is what QEMU says when a client connects.
type Greeting struct {
	QMP struct {
		Version struct {
			QEMU    struct{ Major, Minor, Micro int } `json:"qemu"`
			Package string                            `json:"package"`
		} `json:"version"`
		Capabilities []string `json:"capabilities"`
	} `json:"QMP"`
}

// Client is a QMP connection. Its methods are safe for concurrent use.
type Client struct {
	conn     net.Conn
	greeting Greeting

	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[string]chan reply
	subs    map[int]chan Event
	nextSub int
	err     error         // why the reader stopped
	done    chan struct{} // closed when the reader stops
}

type reply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

type message struct {
	reply
	ID        json.RawMessage `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
	QMP json.RawMessage `json:"QMP"`
}

// Dial connects to the QMP socket at path (a Unix socket), reads QEMU's
// greeting and enters command mode (qmp_capabilities). ctx bounds the
// whole handshake.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	// QEMU binds its socket a moment before it listens on it: a refusal
	// right after the socket appears is retried, briefly.
	for start := time.Now(); errors.Is(err, syscall.ECONNREFUSED) && time.Since(start) < refusedGrace && ctx.Err() == nil; {
		time.Sleep(20 * time.Millisecond)
		conn, err = d.DialContext(ctx, "unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("qmp: connecting to %s: %w", path, err)
	}
	c, err := NewClient(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", path, err)
	}
	return c, nil
}

// NewClient runs the QMP handshake on conn and returns the client, which
// owns conn from then on.
func NewClient(ctx context.Context, conn net.Conn) (*Client, error) {
	c := &Client{
		conn:    conn,
		pending: map[string]chan reply{},
		subs:    map[int]chan Event{},
		done:    make(chan struct{}),
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	line, err := readLine(r)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the greeting: %w", err)
	}
	if err := json.Unmarshal(line, &c.greeting); err != nil || c.greeting.QMP.Version.QEMU.Major == 0 {
		conn.Close()
		return nil, fmt.Errorf("not a QMP greeting: %.200q", line)
	}
	conn.SetReadDeadline(time.Time{})
	go c.read(r)
	if err := c.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Greeting returns QEMU's greeting (its version).
func (c *Client) Greeting() Greeting { return c.greeting }

func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxMessage {
			return nil, fmt.Errorf("message longer than %d bytes", maxMessage)
		}
		if err == nil {
			return bytes.TrimSpace(buf), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

func (c *Client) read(r *bufio.Reader) {
	var err error
	for {
		var line []byte
		line, err = readLine(r)
		if err != nil {
			break
		}
		if len(line) == 0 {
			continue
		}
		var m message
		if err = json.Unmarshal(line, &m); err != nil {
			err = fmt.Errorf("malformed message %.200q: %w", line, err)
			break
		}
		switch {
		case m.Event != "":
			ev := Event{Name: m.Event, Data: m.Data}
			if m.Timestamp != nil {
				ev.Time = time.Unix(m.Timestamp.Seconds, m.Timestamp.Microseconds*1000)
			}
			c.publish(ev)
		case m.ID != nil:
			c.mu.Lock()
			ch := c.pending[string(m.ID)]
			delete(c.pending, string(m.ID))
			c.mu.Unlock()
			if ch != nil {
				ch <- m.reply
			}
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	} else {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.mu.Lock()
	c.err = err
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	for id, ch := range c.subs {
		close(ch)
		delete(c.subs, id)
	}
	close(c.done)
	c.mu.Unlock()
	c.conn.Close()
}

// publish hands ev to every subscriber without blocking: a subscriber
// that does not keep up loses events rather than stall the connection.
func (c *Client) publish(ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Subscribe returns a channel of the events QEMU sends from now on, and a
// function that ends the subscription. The channel is closed when the
// connection ends. It holds up to 64 events; further ones are dropped
// while it is full.
func (c *Client) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		close(ch)
		return ch, func() {}
	}
	id := c.nextSub
	c.nextSub++
	c.subs[id] = ch
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.subs[id]; ok {
			delete(c.subs, id)
			close(ch)
		}
	}
}

// Execute runs the command with args (nil, or a value that marshals to a
// JSON object) and decodes its return value into result (nil to ignore
// it). It waits until QEMU replies, ctx ends or the connection closes.
func (c *Client) Execute(ctx context.Context, command string, args, result any) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	c.nextID++
	id := strconv.Quote(strconv.FormatUint(c.nextID, 10))
	ch := make(chan reply, 1)
	c.pending[id] = ch
	c.mu.Unlock()

	req := struct {
		Execute   string          `json:"execute"`
		Arguments any             `json:"arguments,omitempty"`
		ID        json.RawMessage `json:"id"`
	}{command, args, json.RawMessage(id)}
	b, err := json.Marshal(req)
	if err != nil {
		c.forget(id)
		return fmt.Errorf("qmp %s: arguments: %w", command, err)
	}
	b = append(b, '\n')
	c.writeMu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetWriteDeadline(dl)
	} else {
		c.conn.SetWriteDeadline(time.Time{})
	}
	_, err = c.conn.Write(b)
	c.writeMu.Unlock()
	if err != nil {
		c.forget(id)
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("qmp %s: %w", command, c.Err())
		}
		if r.Error != nil {
			return &Error{Command: command, Class: r.Error.Class, Desc: r.Error.Desc}
		}
		if result != nil {
			if err := json.Unmarshal(r.Return, result); err != nil {
				return fmt.Errorf("qmp %s: decoding the reply %.200q: %w", command, r.Return, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.forget(id)
		return fmt.Errorf("qmp %s: no reply: %w", command, ctx.Err())
	}
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done returns a channel closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close ends the connection.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Status is the reply of query-status.
type Status struct {
	Running bool   `json:"running"`
	Status  string `json:"status"`
}

// QueryStatus returns the VM's run state (query-status).
func (c *Client) QueryStatus(ctx context.Context) (Status, error) {
	var s Status
	err := c.Execute(ctx, "query-status", nil, &s)
	return s, err
}
