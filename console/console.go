// Package console waits for text on a byte stream and types into it, like
// expect(1). It knows nothing about where the stream comes from: the QEMU
// launcher (package qemu) wires it to QEMU's serial port, and the lab runner
// wires it to a real machine's serial console over ser2net or IPMI SOL, so
// tests, `rlbuild boot` and the lab all match console output the same way.
//
// Matching sees the output with carriage returns removed, because serial
// consoles end lines with "\r\n" and patterns like `(?m)^hi$` should work
// on them unchanged.
package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Sentinel errors, for errors.Is on what Expect and Run return.
var (
	// ErrTimeout means the pattern did not show up before the deadline.
	ErrTimeout = errors.New("timed out")
	// ErrClosed means the output stream ended (EOF or read error) before
	// the pattern showed up.
	ErrClosed = errors.New("console closed")
)

// tailSize is how much of the latest output error messages quote: enough
// for a kernel panic's backtrace or a firmware error, short enough to read.
const tailSize = 2000

// Console matches patterns against the output of r and sends input to w.
// Its methods are safe for concurrent use, but concurrent Expect calls
// race for the same output, so one goroutine should drive a conversation.
type Console struct {
	w            io.Writer
	transcript   io.Writer
	lineEnding   string
	closeCause   func() error
	historyLimit int

	sendMu sync.Mutex // keeps concurrent Sends from interleaving

	mu       sync.Mutex
	out      []byte        // output with CRs removed; out[consumed:] is not yet matched
	consumed int           // offset in out up to which Expect has consumed
	changed  chan struct{} // closed and replaced whenever out grows or the reader ends
	lastRead time.Time     // when output last arrived
	readErr  error         // why the reader stopped (io.EOF for a clean end)
	closed   chan struct{} // closed when the reader stops
}

// Option configures a Console.
type Option func(*Console)

// WithTranscript copies the raw output, CRs and all, to w as it arrives,
// e.g. os.Stdout to watch a boot or a log file to keep it. The first write
// error stops the copying without being reported: a full disk must not
// stop a test.
func WithTranscript(w io.Writer) Option {
	return func(c *Console) { c.transcript = w }
}

// WithLineEnding sets what SendLine appends: "\n" (the default, which a
// Linux tty in canonical mode reads as Enter whether or not it maps CR),
// "\r" (what a terminal's Enter key sends, for consoles that want it) or
// "\r\n" (which a Linux tty that maps CR to NL reads as two Enters).
func WithLineEnding(s string) Option {
	return func(c *Console) { c.lineEnding = s }
}

// WithCloseCause gives the console a way to explain why its output ended,
// e.g. the exit status and stderr of the process behind it. Errors for a
// closed console include what f returns, if not nil. f is called without
// locks held and may block briefly.
func WithCloseCause(f func() error) Option {
	return func(c *Console) { c.closeCause = f }
}

// WithHistoryLimit lets the console forget consumed output beyond the last
// n bytes, for long-running consoles (a lab machine's serial line) where
// keeping everything in memory would grow without bound. Output then
// returns only what is kept; use a transcript to keep everything. Output
// not yet consumed by Expect is always kept.
func WithHistoryLimit(n int) Option {
	return func(c *Console) { c.historyLimit = n }
}

// New returns a Console reading output from r and writing input to w (w
// may be nil for a read-only console). It starts a goroutine that reads r
// until EOF or an error; closing r ends it.
func New(r io.Reader, w io.Writer, opts ...Option) *Console {
	c := &Console{
		w:          w,
		lineEnding: "\n",
		changed:    make(chan struct{}),
		closed:     make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	go c.read(r)
	return c
}

func (c *Console) read(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if c.transcript != nil {
				if _, werr := c.transcript.Write(chunk); werr != nil {
					c.transcript = nil // only this goroutine uses it
				}
			}
			c.mu.Lock()
			c.out = appendWithoutCR(c.out, chunk)
			c.lastRead = time.Now()
			c.notifyLocked()
			c.mu.Unlock()
		}
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			close(c.closed)
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
	}
}

func (c *Console) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// appendWithoutCR appends b to dst leaving out every '\r'. Dropping each
// CR on its own (rather than "\r\n" pairs) needs no state across chunks and
// also cleans up the "\r\r\n" some serial consoles send.
func appendWithoutCR(dst, b []byte) []byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		b = b[i+1:]
	}
	return dst
}

// Expect waits until re matches the output not yet consumed by an earlier
// Expect, consumes the output up to the end of the match and returns the
// match and its submatches as regexp.FindStringSubmatch does. It fails with
// an error wrapping ErrTimeout when ctx's deadline passes, ErrClosed when
// the output ends first, or ctx.Err() when ctx is canceled; the error
// quotes the last output seen.
//
// Output arrives in pieces, so a match that reaches the end of what has
// arrived may be cut short: `(?m)^GOT:(.*)$` would match "GOT:hel" before
// "lo" arrives. Such a match, one that more output could change (through
// $, \b or a repetition at its end), is reported only once the line goes
// on, or the output ends, or no output has come for a moment (settle), as
// when a prompt waits for input.
func (c *Console) Expect(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	return c.expect(ctx, re, 0)
}

// expect is Expect; timeout, if not 0, is the timeout ctx was made with,
// which timeout errors report instead of the time left when expect began.
func (c *Console) expect(ctx context.Context, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	start := time.Now()
	for {
		scanStart := time.Now()
		c.mu.Lock()
		pending := c.out[c.consumed:]
		loc := re.FindSubmatchIndex(pending)
		// wait > 0 means loc is tentative for that much longer.
		var wait time.Duration
		if loc != nil && loc[1] == len(pending) && c.readErr == nil && ctx.Err() == nil && !stableAtEnd(re, pending, loc) {
			wait = settle - time.Since(c.lastRead)
		}
		if loc != nil && wait <= 0 {
			m := make([]string, len(loc)/2)
			for i := range m {
				if loc[2*i] >= 0 {
					m[i] = string(pending[loc[2*i]:loc[2*i+1]])
				}
			}
			c.consumed += loc[1]
			c.trimLocked()
			c.mu.Unlock()
			return m, nil
		}
		changed, readErr := c.changed, c.readErr
		c.mu.Unlock()
		scan := time.Since(scanStart)

		if readErr != nil {
			return nil, c.closedError(re, readErr)
		}
		var settled <-chan time.Time
		var timer *time.Timer
		if wait > 0 {
			timer = time.NewTimer(wait)
			settled = timer.C
		}
		select {
		case <-changed:
		case <-settled:
		case <-ctx.Done():
			if loc == nil {
				return nil, c.waitError(ctx, re, start, timeout)
			}
			// Take the tentative match rather than fail: the output
			// did match.
		}
		if timer != nil {
			timer.Stop()
		}
		// Every new chunk means matching all pending output again, and
		// serial ports deliver a byte or a few at a time (QEMU writes each
		// UART byte on its own). Pausing a few times as long as the last
		// scan took lets output pile up, bounding the CPU spent on a long
		// wait to a fraction of a core without changing what matches.
		if gap := min(4*scan, 250*time.Millisecond); gap > 50*time.Microsecond {
			t := time.NewTimer(gap)
			select {
			case <-t.C:
			case <-c.closed:
				t.Stop()
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
}

// settle is how long output must have been quiet before a match that
// more output could change is taken as final. It is long enough to bridge
// the pauses within a line that a loaded TCG guest or a network serial
// console (ser2net, IPMI SOL) makes, and short enough not to slow down
// waiting for a prompt noticeably.
const settle = 250 * time.Millisecond

// stableAtEnd reports whether loc, a match of re that ends at the end of
// out, stays the same when out goes on with a digit, a letter or a space:
// if not, the match depends on where the output happens to end so far.
func stableAtEnd(re *regexp.Regexp, out []byte, loc []int) bool {
	probe := make([]byte, len(out)+1)
	copy(probe, out)
	for _, next := range []byte{'0', 'a', ' '} {
		probe[len(out)] = next
		if !slices.Equal(re.FindSubmatchIndex(probe), loc) {
			return false
		}
	}
	return true
}

// trimLocked drops consumed output beyond the history limit. It copies
// only once a good deal can go, so trimming costs O(1) per byte read.
func (c *Console) trimLocked() {
	if c.historyLimit <= 0 {
		return
	}
	keep := max(c.historyLimit, tailSize)
	if drop := c.consumed - keep; drop >= 64<<10 && drop >= len(c.out)/2 {
		c.out = append([]byte(nil), c.out[drop:]...)
		c.consumed -= drop
	}
}

// ExpectString waits for the literal s; see Expect.
func (c *Console) ExpectString(ctx context.Context, s string) error {
	_, err := c.Expect(ctx, regexp.MustCompile(regexp.QuoteMeta(s)))
	return err
}

// ExpectTimeout is Expect with a deadline d from now.
func (c *Console) ExpectTimeout(d time.Duration, re *regexp.Regexp) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.expect(ctx, re, d)
}

func (c *Console) waitError(ctx context.Context, re *regexp.Regexp, start time.Time, timeout time.Duration) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("stopped waiting for %s on the console: %w; last output:\n%s", quote(re), ctx.Err(), c.tail())
	}
	waited := timeout
	if waited <= 0 {
		waited = time.Since(start)
		if dl, ok := ctx.Deadline(); ok {
			waited = max(dl.Sub(start), 0)
		}
		// Round so that a 1m timeout reads "1m0s", not "59.999987s".
		if waited >= time.Second {
			waited = waited.Round(100 * time.Millisecond)
		} else {
			waited = waited.Round(time.Millisecond)
		}
	}
	return fmt.Errorf("%w after %v waiting for %s on the console; last output:\n%s", ErrTimeout, waited, quote(re), c.tail())
}

func (c *Console) closedError(re *regexp.Regexp, readErr error) error {
	why := ""
	if !errors.Is(readErr, io.EOF) {
		why = fmt.Sprintf(" (read error: %v)", readErr)
	}
	if c.closeCause != nil {
		if err := c.closeCause(); err != nil {
			why += fmt.Sprintf(" (%v)", err)
		}
	}
	return fmt.Errorf("%w while waiting for %s%s; last output:\n%s", ErrClosed, quote(re), why, c.tail())
}

// quote shows a pattern as written, in double quotes: %q would double its
// backslashes and make `\$ ` read as `\\$ `.
func quote(re *regexp.Regexp) string { return `"` + re.String() + `"` }

// tail returns the last output, at most about tailSize bytes of it, cut at
// a line start when one is near so the quote starts cleanly.
func (c *Console) tail() string {
	c.mu.Lock()
	b := c.out
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < 200 {
			b = b[i+1:]
		}
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	s := string(b)
	c.mu.Unlock()
	s = strings.ToValidUTF8(terminalControl.ReplaceAllString(s, ""), "\uFFFD")
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}

// terminalControl matches escape sequences and control characters other
// than newline and tab. Firmware draws its menus with them, and quoting
// them in an error message would clear or recolor the user's terminal.
var terminalControl = regexp.MustCompile(`\x1b(\[[0-?]*[ -/]*[@-~]|[ -/]*[0-~])|[\x00-\x08\x0b-\x1f\x7f]`)

// Send writes s to the console's input as is.
func (c *Console) Send(s string) error {
	if c.w == nil {
		return errors.New("console has no input")
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if _, err := io.WriteString(c.w, s); err != nil {
		return fmt.Errorf("sending %q to the console: %w", s, err)
	}
	return nil
}

// SendLine sends s followed by the line ending (see WithLineEnding).
func (c *Console) SendLine(s string) error { return c.Send(s + c.lineEnding) }

// Output returns everything the console has output so far (but see
// WithHistoryLimit), with CRs removed as the matcher sees it. The
// transcript has the raw bytes.
func (c *Console) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}

// Closed returns a channel that is closed when the output ends.
func (c *Console) Closed() <-chan struct{} { return c.closed }

// Err returns why the output ended (io.EOF for a clean end), or nil while
// it is still open.
func (c *Console) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}
