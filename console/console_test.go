package console

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipeConsole returns a console reading from the returned writer (the
// "device output") and writing to the returned reader (the "device input").
func pipeConsole(t *testing.T, opts ...Option) (*Console, *io.PipeWriter, *bufio.Reader) {
	t.Helper()
	outR, outW := io.Pipe()
	inR, inW := io.Pipe()
	t.Cleanup(func() {
		outW.Close()
		inR.Close()
	})
	return New(outR, inW, opts...), outW, bufio.NewReader(inR)
}

// feed writes chunks to w one by one, like a serial port would.
func feed(t *testing.T, w io.Writer, chunks ...string) {
	t.Helper()
	go func() {
		for _, c := range chunks {
			if _, err := io.WriteString(w, c); err != nil {
				return
			}
		}
	}()
}

func TestExpectAcrossChunks(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "booting...\nhel", "lo w", "o", "rld\n")
	m, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`hello world`))
	if err != nil {
		t.Fatal(err)
	}
	if m[0] != "hello world" {
		t.Errorf("match = %q", m)
	}
}

func TestExpectConsumes(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "a1 a2 ", "a3\n")
	re := regexp.MustCompile(`a(\d)`)
	for _, want := range []string{"1", "2", "3"} {
		m, err := c.ExpectTimeout(5*time.Second, re)
		if err != nil {
			t.Fatal(err)
		}
		if m[1] != want {
			t.Errorf("got %q, want submatch %q", m, want)
		}
	}
	// Everything matched once is gone: a fourth Expect must wait.
	if _, err := c.ExpectTimeout(50*time.Millisecond, re); !errors.Is(err, ErrTimeout) {
		t.Errorf("fourth Expect: err = %v, want ErrTimeout", err)
	}
}

func TestSubmatches(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "ip=10.0.2.15 mask=24\n")
	m, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`ip=(\S+) (gw=(\S+) )?mask=(\d+)`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ip=10.0.2.15 mask=24", "10.0.2.15", "", "", "24"}
	if fmt.Sprint(m) != fmt.Sprint(want) || len(m) != len(want) {
		t.Errorf("submatches = %q, want %q", m, want)
	}
}

func TestCRLF(t *testing.T) {
	var transcript bytes.Buffer
	var mu sync.Mutex
	c, out, _ := pipeConsole(t, WithTranscript(lockedWriter{&mu, &transcript}))
	// The CR of "hi\r\n" arrives in one chunk, the LF in the next.
	feed(t, out, "hi\r", "\nthere\r\r\n", "$ ")
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`(?m)^hi$`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`(?m)^there\n\$ $`)); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Output(), "hi\nthere\n$ "; got != want {
		t.Errorf("Output() = %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := transcript.String(), "hi\r\nthere\r\r\n$ "; got != want {
		t.Errorf("transcript = %q, want the raw bytes %q", got, want)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestExpectString(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "a.b[c] $ ")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ExpectString(ctx, "a.b[c] $ "); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutError(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "Linux version 7.1\r\nKernel panic - not syncing\r\n")
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`panic`)); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExpectTimeout(100*time.Millisecond, regexp.MustCompile(`\$ `))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if errors.Is(err, ErrClosed) {
		t.Errorf("timeout error is also ErrClosed: %v", err)
	}
	// The tail quotes consumed output too: it is what the user needs to see.
	want := "timed out after 100ms waiting for \"\\$ \" on the console; last output:\nLinux version 7.1\nKernel panic - not syncing\n"
	if err.Error() != want {
		t.Errorf("error =\n%s\nwant\n%s", err, want)
	}
}

func TestTimeoutNoOutput(t *testing.T) {
	c, _, _ := pipeConsole(t)
	_, err := c.ExpectTimeout(10*time.Millisecond, regexp.MustCompile(`x`))
	if !errors.Is(err, ErrTimeout) || !strings.HasSuffix(err.Error(), "last output:\n(none)") {
		t.Errorf("err = %v", err)
	}
}

func TestTimeoutTailIsBounded(t *testing.T) {
	c, out, _ := pipeConsole(t)
	var big strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&big, "line %d\n", i)
	}
	feed(t, out, big.String())
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`line 1999\n`)); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExpectTimeout(10*time.Millisecond, regexp.MustCompile(`never`))
	msg := err.Error()
	_, tail, _ := strings.Cut(msg, "last output:\n")
	if len(tail) > tailSize || len(tail) < tailSize-200 {
		t.Errorf("tail has %d bytes, want about %d", len(tail), tailSize)
	}
	if !strings.HasPrefix(tail, "line ") || !strings.HasSuffix(tail, "line 1999\n") {
		t.Errorf("tail should start at a line and end with the last line; got %q...%q", tail[:20], tail[len(tail)-20:])
	}
}

func TestDeadlineAlreadyPassedStillMatchesBufferedOutput(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "ready\n")
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`rea`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Expect(ctx, regexp.MustCompile(`dy`)); err != nil {
		t.Errorf("buffered output should match even with a done context: %v", err)
	}
}

func TestCanceled(t *testing.T) {
	c, _, _ := pipeConsole(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := c.Expect(ctx, regexp.MustCompile(`x`))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want context.Canceled and not ErrTimeout", err)
	}
}

func TestClosed(t *testing.T) {
	c, out, _ := pipeConsole(t)
	go func() {
		io.WriteString(out, "reboot: Power down\r\n")
		out.Close()
	}()
	_, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`\$ `))
	if !errors.Is(err, ErrClosed) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	want := "console closed while waiting for \"\\$ \"; last output:\nreboot: Power down\n"
	if err.Error() != want {
		t.Errorf("error =\n%s\nwant\n%s", err, want)
	}
	select {
	case <-c.Closed():
	default:
		t.Error("Closed() not closed after EOF")
	}
	if c.Err() != io.EOF {
		t.Errorf("Err() = %v, want io.EOF", c.Err())
	}
	// Output buffered before EOF still matches.
	if _, err := c.ExpectTimeout(time.Second, regexp.MustCompile(`Power down`)); err != nil {
		t.Errorf("output before EOF: %v", err)
	}
}

func TestClosedReadErrorAndCause(t *testing.T) {
	cause := errors.New("qemu exited with status 1: bad option")
	c, out, _ := pipeConsole(t, WithCloseCause(func() error { return cause }))
	out.CloseWithError(errors.New("link down"))
	<-c.Closed()
	_, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`x`))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	for _, want := range []string{"(read error: link down)", "(qemu exited with status 1: bad option)", "last output:\n(none)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestSend(t *testing.T) {
	c, _, in := pipeConsole(t, WithLineEnding("\r\n"))
	go func() {
		c.Send("raw")
		c.SendLine("ls")
	}()
	line, err := in.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "rawls\r\n" {
		t.Errorf("input = %q, want %q", line, "rawls\r\n")
	}
}

func TestSendDefaultLineEnding(t *testing.T) {
	c, _, in := pipeConsole(t)
	go c.SendLine("echo hi")
	line, _ := in.ReadString('\n')
	if line != "echo hi\n" {
		t.Errorf("input = %q", line)
	}
}

func TestSendErrors(t *testing.T) {
	c := New(strings.NewReader(""), nil)
	if err := c.Send("x"); err == nil {
		t.Error("Send on a console without input succeeded")
	}
	inR, inW := io.Pipe()
	inR.Close()
	c = New(strings.NewReader(""), inW)
	if err := c.SendLine("x"); err == nil || !strings.Contains(err.Error(), `sending "x\n"`) {
		t.Errorf("Send to a closed pipe: %v", err)
	}
}

func TestHistoryLimit(t *testing.T) {
	c, out, _ := pipeConsole(t, WithHistoryLimit(1000))
	chunk := strings.Repeat("x", 1023) + "\n"
	go func() {
		for range 200 {
			io.WriteString(out, chunk)
		}
		io.WriteString(out, "END\n")
	}()
	if _, err := c.ExpectTimeout(10*time.Second, regexp.MustCompile(`END\n`)); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Output()); n >= 200*1024 || n < tailSize {
		t.Errorf("Output() kept %d bytes with a 1000-byte history limit", n)
	}
	if !strings.HasSuffix(c.Output(), "x\nEND\n") {
		t.Error("Output() lost the latest output")
	}
}

// TestConcurrentUse runs readers, matchers and senders at once for the
// race detector.
func TestConcurrentUse(t *testing.T) {
	c, out, in := pipeConsole(t)
	go io.Copy(io.Discard, in)
	go func() {
		for i := range 500 {
			fmt.Fprintf(out, "tick %d\r\n", i)
		}
		out.Close()
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100 {
			_ = c.Output()
			_ = c.Err()
		}
	})
	wg.Go(func() {
		for range 50 {
			c.SendLine("hello")
		}
	})
	if _, err := c.ExpectTimeout(10*time.Second, regexp.MustCompile(`tick 499\n`)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	<-c.Closed()
}

// TestManySmallChunks checks that byte-at-a-time output, as QEMU's UART
// delivers it, is matched promptly even with a pattern that has no literal
// prefix.
func TestManySmallChunks(t *testing.T) {
	c, out, _ := pipeConsole(t)
	text := strings.Repeat("[    0.123456] some kernel message here\n", 5000) + "login: "
	go func() {
		for i := range len(text) {
			out.Write([]byte{text[i]})
		}
	}()
	start := time.Now()
	if _, err := c.ExpectTimeout(60*time.Second, regexp.MustCompile(`(?m)^[a-z]+: $`)); err != nil {
		t.Fatal(err)
	}
	t.Logf("matched after %d bytes in %v", len(text), time.Since(start))
}

// TestPartialLine checks that a match that more output could change is
// not taken while the line is still arriving.
func TestPartialLine(t *testing.T) {
	for _, re := range []string{`(?m)^GOT:(.*)$`, `GOT:(.*)`, `GOT:(\w+ ?\w*)\b`, `GOT:([a-z ]+)`} {
		c, out, _ := pipeConsole(t)
		go func() {
			io.WriteString(out, "GOT:hel")
			time.Sleep(settle / 5)
			io.WriteString(out, "lo wor")
			time.Sleep(settle / 5)
			io.WriteString(out, "ld\r\n")
		}()
		m, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(re))
		if err != nil {
			t.Fatal(err)
		}
		if m[1] != "hello world" {
			t.Errorf("%s matched %q, want %q", re, m[1], "hello world")
		}
	}
}

// TestPromptAtEnd checks that a pattern anchored at the end still matches
// a prompt that waits for input, once the output has settled, and that a
// pattern that does not depend on the end matches at once.
func TestPromptAtEnd(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "Welcome\r\n$ ")
	start := time.Now()
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`(?m)^\$ $`)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < settle/2 || d > 20*settle {
		t.Errorf("anchored prompt matched after %v, want about %v", d, settle)
	}

	c, out, _ = pipeConsole(t)
	feed(t, out, "Welcome\r\n$ ")
	start = time.Now()
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`\$ `)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= settle {
		t.Errorf("plain prompt matched after %v: it should not wait to settle", d)
	}
}

// TestTentativeMatchAtEOFAndDeadline checks that output that ends, or a
// deadline, makes a tentative match final.
func TestTentativeMatchAtEOFAndDeadline(t *testing.T) {
	c, out, _ := pipeConsole(t)
	go func() {
		io.WriteString(out, "exit code 3")
		out.Close()
	}()
	m, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`code (\d+)$`))
	if err != nil || m[1] != "3" {
		t.Errorf("at EOF: %q, %v", m, err)
	}

	c, out, _ = pipeConsole(t)
	feed(t, out, "exit code 4")
	m, err = c.ExpectTimeout(settle/10, regexp.MustCompile(`code (\d+)$`))
	if err != nil || m[1] != "4" {
		t.Errorf("at the deadline: %q, %v", m, err)
	}
}

func TestErrorTailWithoutTerminalControl(t *testing.T) {
	c, out, _ := pipeConsole(t)
	feed(t, out, "\x1b[2J\x1b[01;01H\x1b[1m\x1b[33mShell> \x1b[0m\x07ok\tdone\x1bc\n")
	if _, err := c.ExpectTimeout(5*time.Second, regexp.MustCompile(`done`)); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExpectTimeout(10*time.Millisecond, regexp.MustCompile(`x`))
	if _, tail, _ := strings.Cut(err.Error(), "last output:\n"); tail != "Shell> ok\tdone\n" {
		t.Errorf("tail = %q", tail)
	}
	// The output itself keeps them: patterns may need them.
	if !strings.Contains(c.Output(), "\x1b[33m") {
		t.Error("Output() lost escape sequences")
	}
}
