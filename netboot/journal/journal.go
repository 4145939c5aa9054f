// Package journal is the append-only file format of the netboot
// server's state: one JSON value per line, appended as things happen
// and rewritten compactly now and then. The DHCP lease database and the
// HTTP side's boots and results keep their state in journals.
//
// Three rules hold for every journal, whatever it records:
//
//   - An append is all or nothing. A write that fails part way (a full
//     disk, an I/O error) is cut off again, so the file never keeps half
//     a record in front of later ones; the caller gets the error and
//     must not apply the change it was recording.
//   - A damaged last line (a crash in the middle of an append, or a
//     rollback that failed too) is skipped on open with a warning: it
//     never keeps the server from starting. A damaged line in the middle
//     of the file is an error naming the file and line, since records
//     after it may depend on it.
//   - Rewrite replaces the file atomically (a temporary file, fsync,
//     rename), so a crash leaves either the old or the new journal.
//
// Appends are not fsynced: the data survives the server's crash (it is
// in the page cache), not the machine's.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is the part of *os.File a journal writes through; tests inject
// failing ones.
type File interface {
	io.WriterAt
	Truncate(size int64) error
	Close() error
}

// Journal is an open journal file. It is not safe for concurrent use:
// its owner serialises calls.
type Journal struct {
	path  string
	f     File
	size  int64 // end of the last complete record
	dirty bool  // bytes past size may remain from a failed rollback
	lines int   // records in the file

	// open opens the file for writing (tests replace it).
	open func(path string) (File, error)
}

// Damage describes a line that Open skipped.
type Damage struct {
	Line int
	Err  error
}

func (d Damage) String() string { return fmt.Sprintf("line %d: %v", d.Line, d.Err) }

// MaxLine bounds a record's length; a longer line is damage.
const MaxLine = 4 << 20

// Open reads the journal at path (a missing file is an empty journal),
// calling apply for each record in order (the line without its newline,
// and where it starts in the file), and keeps the file open for
// appending. apply's error marks the record as damaged. A damaged last
// line is cut off the file and returned as the Damage to warn about; a
// damaged line before it is an error naming path and line.
func Open(path string, apply func(line []byte, off int64) error) (*Journal, *Damage, error) {
	return openWith(path, apply, func(p string) (File, error) {
		return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	})
}

func openWith(path string, apply func([]byte, int64) error, open func(string) (File, error)) (*Journal, *Damage, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	j := &Journal{path: path, open: open}
	var damage *Damage
	if r, err := os.Open(path); err == nil {
		j.size, j.lines, damage, err = Read(r, path, apply)
		r.Close()
		if err != nil {
			return nil, nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	j.f = f
	// Cut off whatever follows the last good record (a damaged line).
	if err := f.Truncate(j.size); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: cutting off a damaged last line: %w", path, err)
	}
	return j, damage, nil
}

// Read reads a journal's records from r, calling apply for each, and
// returns the length of the good part and its number of records. A
// damaged last line is returned as Damage, one before it as an error
// naming name and the line.
func Read(r io.Reader, name string, apply func(line []byte, off int64) error) (size int64, lines int, _ *Damage, _ error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var pending *Damage // a damaged line: fatal unless it is the last
	for line := 1; ; line++ {
		b, rerr := readLine(br)
		if rerr != nil && rerr != io.EOF {
			return 0, 0, nil, fmt.Errorf("%s: %w", name, rerr)
		}
		if len(b) == 0 && rerr == io.EOF {
			return size, lines, pending, nil
		}
		if pending != nil {
			return 0, 0, nil, fmt.Errorf("%s:%d: damaged record (%v): repair or delete the file", name, pending.Line, pending.Err)
		}
		complete := b[len(b)-1] == '\n'
		var err error
		switch {
		case len(b) > MaxLine:
			err = fmt.Errorf("line longer than %d bytes", MaxLine)
		case !complete:
			err = errors.New("cut short (no newline)")
		case len(bytes.TrimSpace(b)) == 0:
			err = errors.New("empty line")
		default:
			err = apply(b[:len(b)-1], size)
		}
		if err != nil {
			pending = &Damage{Line: line, Err: err}
		} else {
			size += int64(len(b))
			lines++
		}
		if rerr == io.EOF {
			return size, lines, pending, nil
		}
	}
}

// readLine reads one line with its newline, keeping at most MaxLine+1
// bytes of it (the rest is read and dropped).
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(out) <= MaxLine {
			out = append(out, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil && len(out) > MaxLine && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return out, err
	}
}

// Append writes v as one record, marshalled as JSON. On error the file
// is as before (or, if even the rollback failed, the next append
// overwrites the rest). It returns where the record starts and its
// length with the newline.
func (j *Journal) Append(v any) (off int64, n int, err error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", j.path, err)
	}
	off = j.size
	return off, len(b) + 1, j.AppendLine(b)
}

// AppendLine writes one marshalled record (without its newline).
func (j *Journal) AppendLine(b []byte) error {
	if j.f == nil {
		return fmt.Errorf("%s: journal is closed", j.path)
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		return fmt.Errorf("%s: a record may not contain a line break", j.path)
	}
	rec := append(b[:len(b):len(b)], '\n')
	n, err := j.f.WriteAt(rec, j.size)
	if err == nil && n < len(rec) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.dirty = true
		}
		return fmt.Errorf("%s: %w", j.path, err)
	}
	j.size += int64(len(rec))
	j.lines++
	if j.dirty {
		// Bytes of an earlier failed append may follow this record.
		if err := j.f.Truncate(j.size); err == nil {
			j.dirty = false
		}
	}
	return nil
}

// Size is the journal's length in bytes; Lines its number of records.
func (j *Journal) Size() int64 { return j.size }

// Lines is the number of records in the file.
func (j *Journal) Lines() int { return j.lines }

// Rewrite replaces the journal with the records that records writes
// (each a marshalled record without its newline; write returns where it
// starts in the new file), atomically, and keeps appending to the new
// file. On error the old journal stays in use.
func (j *Journal) Rewrite(records func(write func(line []byte) (off int64, err error)) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(j.path), "."+filepath.Base(j.path)+"-*")
	if err != nil {
		return fmt.Errorf("%s: %w", j.path, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	var size int64
	lines := 0
	err = records(func(b []byte) (int64, error) {
		if bytes.IndexByte(b, '\n') >= 0 {
			return 0, errors.New("a record may not contain a line break")
		}
		off := size
		size += int64(len(b)) + 1
		lines++
		w.Write(b)
		return off, w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), j.path)
	}
	if err != nil {
		return fmt.Errorf("%s: rewriting: %w", j.path, err)
	}
	f, err := j.open(j.path)
	if err != nil {
		// The new file is in place but cannot be opened: appends fail
		// until the next Rewrite.
		j.Close()
		return fmt.Errorf("%s: %w", j.path, err)
	}
	j.Close()
	j.f, j.size, j.lines, j.dirty = f, size, lines, false
	return nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Close closes the file.
func (j *Journal) Close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
