//rl:domain

// Package tcpbench is the protocol of the TCP throughput benchmark: one
// connection, one transfer, timed by the client. The same server runs on
// both sides of the comparison (Rv6's tcpbench program over the stack
// domain, and the composition root's Linux baseline over Linux's stack),
// and the host's benchmark is the client of both.
//
// The client opens with one line and the server answers:
//
//	recv N\n   the client then sends N bytes; the server reads them all and
//	           answers "received N\n" (client to server, host to guest)
//	send N\n   the server sends N bytes and closes (server to client,
//	           guest to host)
//
// N is 1..MaxBytes. A bad line gets "error WHY\n". The package does no I/O
// of its own and allocates only the buffers it is given.
package tcpbench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxBytes bounds one transfer (16 GiB).
const MaxBytes = 16 << 30

// maxLine bounds the request line.
const maxLine = 64

// Op is what a transfer does, seen from the server.
type Op string

// The operations.
const (
	Recv Op = "recv" // the server receives
	Send Op = "send" // the server sends
)

// Result is one transfer a server completed.
type Result struct {
	Op    Op
	Bytes int64
}

// Serve answers one client on c with buf (at least 1 KiB) as its
// buffer: it reads the request line and receives or sends. The caller
// closes c afterwards (for a send, the close ends the transfer).
func Serve(c io.ReadWriter, buf []byte) (Result, error) {
	if len(buf) < 1024 {
		return Result{}, fmt.Errorf("tcpbench: a buffer of %d bytes is too small: want at least 1024", len(buf))
	}
	line, rest, err := readLine(c, buf)
	if err != nil {
		return Result{}, err
	}
	op, n, err := ParseRequest(line)
	if err != nil {
		fmt.Fprintf(c, "error %v\n", err)
		return Result{}, err
	}
	switch op {
	case Recv:
		got := min(int64(len(rest)), n)
		for got < n {
			k, err := c.Read(buf[:min(int64(len(buf)), n-got)])
			got += int64(k)
			if err == io.EOF && got < n {
				return Result{Op: op, Bytes: got}, fmt.Errorf("tcpbench: the client ended after %d of %d bytes", got, n)
			}
			if err != nil && err != io.EOF {
				return Result{Op: op, Bytes: got}, fmt.Errorf("tcpbench: receiving byte %d of %d: %w", got, n, err)
			}
		}
		if _, err := fmt.Fprintf(c, "received %d\n", got); err != nil {
			return Result{Op: op, Bytes: got}, fmt.Errorf("tcpbench: answering: %w", err)
		}
		return Result{Op: op, Bytes: got}, nil
	default: // Send
		fill(buf)
		sent := int64(0)
		for sent < n {
			k, err := c.Write(buf[:min(int64(len(buf)), n-sent)])
			sent += int64(k)
			if err != nil {
				return Result{Op: op, Bytes: sent}, fmt.Errorf("tcpbench: sending byte %d of %d: %w", sent, n, err)
			}
		}
		return Result{Op: op, Bytes: sent}, nil
	}
}

// readLine reads the request line into buf; rest is what came after it.
func readLine(c io.Reader, buf []byte) (line string, rest []byte, err error) {
	have := 0
	for {
		if i := bytes.IndexByte(buf[:have], '\n'); i >= 0 {
			return string(buf[:i]), buf[i+1 : have], nil
		}
		if have >= maxLine {
			return "", nil, fmt.Errorf("tcpbench: no request line in the first %d bytes: want \"recv N\" or \"send N\"", maxLine)
		}
		k, err := c.Read(buf[have:])
		have += k
		if err == io.EOF && k == 0 {
			return "", nil, errors.New("tcpbench: the client closed before its request line")
		}
		if err != nil && err != io.EOF {
			return "", nil, fmt.Errorf("tcpbench: reading the request line: %w", err)
		}
	}
}

// ParseRequest parses a request line (without its newline).
func ParseRequest(line string) (Op, int64, error) {
	verb, num, ok := strings.Cut(strings.TrimSuffix(line, "\r"), " ")
	op := Op(verb)
	if !ok || (op != Recv && op != Send) {
		return "", 0, fmt.Errorf("bad request %q: want \"recv N\" or \"send N\"", line)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > MaxBytes {
		return "", 0, fmt.Errorf("bad byte count %q: want 1..%d", num, int64(MaxBytes))
	}
	return op, n, nil
}

// fill writes a pattern that is not all zeros (so no layer can compress
// it away) into b.
func fill(b []byte) {
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
}

// Upload is the client of a Recv: it sends n bytes from buf (at least 1
// KiB) to the server on c and waits for its count, so that when it
// returns the server has read every byte.
func Upload(c io.ReadWriter, n int64, buf []byte) error {
	if n < 1 || n > MaxBytes || len(buf) < 1024 {
		return fmt.Errorf("tcpbench: upload of %d bytes with a %d-byte buffer: want 1..%d bytes and a buffer of at least 1024", n, len(buf), int64(MaxBytes))
	}
	if _, err := fmt.Fprintf(c, "%s %d\n", Recv, n); err != nil {
		return fmt.Errorf("tcpbench: sending the request: %w", err)
	}
	fill(buf)
	for sent := int64(0); sent < n; {
		k, err := c.Write(buf[:min(int64(len(buf)), n-sent)])
		sent += int64(k)
		if err != nil {
			return fmt.Errorf("tcpbench: sending byte %d of %d: %w", sent, n, err)
		}
	}
	line, _, err := readLine(c, buf)
	if err != nil {
		return err
	}
	if line != fmt.Sprintf("received %d", n) {
		return fmt.Errorf("tcpbench: the server answered %q, want \"received %d\"", line, n)
	}
	return nil
}

// Download is the client of a Send: it asks the server on c for n bytes
// and reads them into buf until the server closes; the count must be n.
func Download(c io.ReadWriter, n int64, buf []byte) error {
	if n < 1 || n > MaxBytes || len(buf) == 0 {
		return fmt.Errorf("tcpbench: download of %d bytes: want 1..%d and a buffer", n, int64(MaxBytes))
	}
	if _, err := fmt.Fprintf(c, "%s %d\n", Send, n); err != nil {
		return fmt.Errorf("tcpbench: sending the request: %w", err)
	}
	got := int64(0)
	for {
		k, err := c.Read(buf)
		got += int64(k)
		if got > n {
			return fmt.Errorf("tcpbench: the server sent more than the %d bytes asked for", n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("tcpbench: receiving byte %d of %d: %w", got, n, err)
		}
	}
	if got != n {
		return fmt.Errorf("tcpbench: the server sent %d of %d bytes", got, n)
	}
	return nil
}
