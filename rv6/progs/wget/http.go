package wget

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxHeader bounds the status line and the headers of a response.
const maxHeader = 16 << 10

// A response is what readResponse read: the status and how the body
// comes.
type response struct {
	status  int
	reason  string
	length  int64 // -1: unknown (until the connection closes)
	chunked bool
}

// readResponse reads the status line and the headers from r, at most
// maxHeader bytes of them.
func readResponse(r *bufio.Reader) (response, error) {
	resp := response{length: -1}
	budget := maxHeader
	line, err := readLine(r, &budget)
	if err != nil {
		return resp, fmt.Errorf("reading the status line: %w", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, reason, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return resp, fmt.Errorf("not an HTTP/1.x status line: %q", trim(line))
	}
	if resp.status, err = strconv.Atoi(code); err != nil || resp.status < 100 {
		return resp, fmt.Errorf("bad status code in %q", trim(line))
	}
	resp.reason = reason
	for {
		line, err := readLine(r, &budget)
		if err != nil {
			return resp, fmt.Errorf("reading the headers: %w", err)
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return resp, fmt.Errorf("bad header line %q", trim(line))
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return resp, fmt.Errorf("bad Content-Length %q", trim(value))
			}
			resp.length = n
		case "transfer-encoding":
			if !strings.EqualFold(value, "chunked") {
				return resp, fmt.Errorf("Transfer-Encoding %q is not supported (only chunked)", trim(value))
			}
			resp.chunked = true
		}
	}
	if resp.chunked {
		resp.length = -1
	}
	return resp, nil
}

// errHeaderTooLong is the failure of a response whose head is over
// maxHeader bytes.
var errHeaderTooLong = fmt.Errorf("the response's status line and headers are longer than %d bytes", maxHeader)

// readLine reads one line ending in \n (an \r before it is dropped),
// charging budget for it.
func readLine(r *bufio.Reader, budget *int) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(frag) > *budget {
			return "", errHeaderTooLong
		}
		*budget -= len(frag)
		b = append(b, frag...)
		switch {
		case err == nil:
			s := strings.TrimSuffix(string(b), "\n")
			return strings.TrimSuffix(s, "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
}

// trim shortens s for a message.
func trim(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// maxChunkLine bounds a chunk's size line (with its extensions).
const maxChunkLine = 4096

// A chunkedReader decodes a chunked body.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // of the current chunk
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		budget := maxChunkLine
		line, err := readLine(c.r, &budget)
		if err != nil {
			return 0, fmt.Errorf("reading a chunk's size: %w", err)
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad chunk size %q", trim(line))
		}
		if n == 0 { // the last chunk; skip the trailer
			for {
				budget = maxHeader
				line, err := readLine(c.r, &budget)
				if err != nil {
					return 0, fmt.Errorf("reading the trailer: %w", err)
				}
				if line == "" {
					c.done = true
					return 0, io.EOF
				}
			}
		}
		c.left = n
	}
	k, err := c.r.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(k)
	if c.left == 0 && err == nil {
		budget := 2
		if line, err := readLine(c.r, &budget); err != nil || line != "" {
			return k, fmt.Errorf("no CRLF after a chunk")
		}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}
