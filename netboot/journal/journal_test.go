package journal

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rec struct {
	N int `json:"n"`
}

func collect(t *testing.T, path string) ([]int, *Damage, error) {
	t.Helper()
	var got []int
	j, d, err := Open(path, func(b []byte, _ int64) error {
		var r rec
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		got = append(got, r.N)
		return nil
	})
	if err == nil {
		j.Close()
	}
	return got, d, err
}

// failing is a file whose writes fail after writing part of the record,
// as a full disk does.
type failing struct {
	*os.File
	fail    bool
	partial int
}

func (f *failing) WriteAt(b []byte, off int64) (int, error) {
	if f.fail {
		n, _ := f.File.WriteAt(b[:f.partial], off)
		return n, errors.New("no space left on device")
	}
	return f.File.WriteAt(b, off)
}

// TestAppendRollsBack: a write that fails half way leaves no half
// record, so the journal opens again with every acknowledged record.
func TestAppendRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	var ff *failing
	j, _, err := openWith(path, func([]byte, int64) error { return nil }, func(p string) (File, error) {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		ff = &failing{File: f, partial: 5}
		return ff, err
	})
	if err != nil {
		t.Fatal(err)
	}
	j.Append(rec{1})
	ff.fail = true
	if _, _, err := j.Append(rec{2}); err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("failed append: %v", err)
	}
	ff.fail = false
	if _, _, err := j.Append(rec{3}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	got, d, err := collect(t, path)
	if err != nil || d != nil || len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("after a failed append: %v %v %v", got, d, err)
	}
}

// TestDamagedLastLine: a last line cut short or garbled is skipped with
// a warning and cut off; the journal keeps working.
func TestDamagedLastLine(t *testing.T) {
	for _, tail := range []string{`{"n":`, "{garbage}\n", "\n", strings.Repeat("x", MaxLine+10)} {
		path := filepath.Join(t.TempDir(), "j")
		os.WriteFile(path, []byte(`{"n":1}`+"\n"+`{"n":2}`+"\n"+tail), 0o600)
		got, d, err := collect(t, path)
		if err != nil || d == nil || d.Line != 3 || len(got) != 2 {
			t.Errorf("tail %.20q: %v %v %v", tail, got, d, err)
			continue
		}
		j, _, err := Open(path, func([]byte, int64) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		j.Append(rec{3})
		j.Close()
		if got, d, err := collect(t, path); err != nil || d != nil || len(got) != 3 {
			t.Errorf("tail %.20q, appended after: %v %v %v", tail, got, d, err)
		}
	}
}

func TestDamagedMiddleLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	os.WriteFile(path, []byte(`{"n":1}`+"\n{garbage}\n"+`{"n":2}`+"\n"), 0o600)
	if _, _, err := collect(t, path); err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("damaged middle line: %v", err)
	}
}

func TestRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _, err := Open(path, func([]byte, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		j.Append(rec{i})
	}
	if err := j.Rewrite(func(w func([]byte) (int64, error)) error { _, err := w([]byte(`{"n":42}`)); return err }); err != nil {
		t.Fatal(err)
	}
	j.Append(rec{43})
	if j.Lines() != 2 {
		t.Errorf("lines %d", j.Lines())
	}
	j.Close()
	if got, _, err := collect(t, path); err != nil || len(got) != 2 || got[0] != 42 || got[1] != 43 {
		t.Errorf("after rewrite: %v %v", got, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}
