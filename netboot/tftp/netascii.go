package tftp

import (
	"bufio"
	"io"
)

// netASCII converts a file to netascii on the fly (RFC 764): LF becomes
// CR LF and a bare CR becomes CR NUL.
type netASCII struct {
	r       *bufio.Reader
	pending byte // second byte of a conversion, 0xff if none
}

func newNetASCII(r io.Reader) *netASCII {
	return &netASCII{r: bufio.NewReader(r), pending: 0xff}
}

func (n *netASCII) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		if n.pending != 0xff {
			p[i] = n.pending
			n.pending = 0xff
			i++
			continue
		}
		c, err := n.r.ReadByte()
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		switch c {
		case '\n':
			p[i], n.pending = '\r', '\n'
		case '\r':
			p[i], n.pending = '\r', 0
		default:
			p[i] = c
		}
		i++
	}
	return i, nil
}
