package tftp

import (
	"strconv"
	"time"
)

// Limits of the negotiated options.
const (
	defaultBlockSize = 512   // RFC 1350
	minBlockSize     = 8     // RFC 2348
	maxBlockSize     = 65464 // RFC 2348
	maxTimeoutOption = 255   // seconds, RFC 2349
	maxWindowSize    = 65535 // RFC 7440
)

// params are a transfer's negotiated settings.
type params struct {
	blockSize int
	window    int
	// timeout is the retransmission timeout the client asked for, or 0
	// for the server's own (with backoff).
	timeout time.Duration
}

// negotiate picks the settings of a read transfer from the request's
// options and returns the options to acknowledge in an OACK (none: no
// OACK, data starts at once). size is the file's size, -1 if unknown
// (netascii), which leaves tsize unanswered. maxBlock is the largest block
// that fits the path MTU; maxWindow caps windowsize; a timeout above
// maxTimeout is not acknowledged. Options that are
// unknown or out of range are left out of the OACK, which RFC 2347 lets a
// server do; an oversized blksize or windowsize is answered with the
// largest value allowed, as RFC 2348 and 7440 describe.
func negotiate(req *Request, size int64, maxBlock, maxWindow int, maxTimeout time.Duration) ([]Option, params) {
	p := params{blockSize: defaultBlockSize, window: 1}
	var oack []Option
	for _, o := range req.Options {
		n, err := strconv.ParseInt(o.Value, 10, 64)
		valid := err == nil
		switch o.Name {
		case "blksize":
			if !valid || n < minBlockSize {
				continue
			}
			p.blockSize = int(min(n, int64(maxBlock), maxBlockSize))
			oack = append(oack, Option{o.Name, strconv.Itoa(p.blockSize)})
		case "tsize":
			if !valid || n < 0 || size < 0 {
				continue
			}
			oack = append(oack, Option{o.Name, strconv.FormatInt(size, 10)})
		case "timeout":
			if !valid || n < 1 || n > maxTimeoutOption || time.Duration(n)*time.Second > maxTimeout {
				continue // not acknowledged: the server's own timeout applies
			}
			p.timeout = time.Duration(n) * time.Second
			oack = append(oack, Option{o.Name, strconv.FormatInt(n, 10)})
		case "windowsize":
			if !valid || n < 1 || n > maxWindowSize {
				continue
			}
			p.window = int(min(n, int64(maxWindow)))
			oack = append(oack, Option{o.Name, strconv.Itoa(p.window)})
		}
	}
	return oack, p
}
