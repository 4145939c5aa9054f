package flash

import (
	"crypto/sha256"
	"fmt"
	"hash"
)

// ledger hashes a stream of bytes piece by piece. The pieces are
// ascending and disjoint; the bytes must be fed in order, each piece
// whole, with jumps only between pieces that do not touch. done is called
// with each piece's digest as soon as its last byte is fed.
type ledger struct {
	pieces []piece
	done   func(pc *piece, sum []byte) error

	i   int       // the piece being fed or the next one
	h   hash.Hash // the digest of pieces[i], when started
	pos int64     // next byte expected for pieces[i]
}

func newLedger(pieces []piece, done func(*piece, []byte) error) *ledger {
	return &ledger{pieces: pieces, done: done, h: sha256.New()}
}

func (l *ledger) feed(off int64, b []byte) error {
	for len(b) > 0 {
		if l.i == len(l.pieces) {
			return fmt.Errorf("internal error: bytes %d-%d lie past the last piece", off, off+int64(len(b))-1)
		}
		pc := &l.pieces[l.i]
		if want := max(l.pos, pc.Off); off != want {
			return fmt.Errorf("internal error: piece %d-%d fed at %d, want %d", pc.Off, pc.End, off, want)
		}
		n := min(int64(len(b)), pc.End-off)
		l.h.Write(b[:n])
		off, b = off+n, b[n:]
		l.pos = off
		if off == pc.End {
			sum := l.h.Sum(nil)
			l.h.Reset()
			l.i++
			if err := l.done(pc, sum); err != nil {
				return err
			}
		}
	}
	return nil
}

// complete reports whether every piece was fed.
func (l *ledger) complete() bool { return l.i == len(l.pieces) }
