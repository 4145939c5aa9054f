package console

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestReadWrite(t *testing.T) {
	m := domain.NewManager()
	defer m.Close()
	heap := m.Kernel().Heap()
	in, inw := io.Pipe()
	out := &syncBuf{}
	var raws []bool
	c := New(in, out, func(raw bool) error { raws = append(raws, raw); return nil })

	go inw.Write([]byte("hello\nworld\n"))
	buf := rref.New(heap, idl.IOBuf{})
	var got []byte
	for len(got) < 12 {
		var n int32
		var err error
		buf, n, err = c.Read(buf, 5)
		if err != nil || n <= 0 || n > 5 {
			t.Fatalf("Read: %d, %v", n, err)
		}
		got = append(got, buf.Get()[:n]...)
	}
	if string(got) != "hello\nworld\n" {
		t.Errorf("read %q", got)
	}
	inw.Close()
	if _, n, err := c.Read(buf, 5); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("at the end: %d, %v; want 0, EOF", n, err)
	}

	copy(buf.Get()[:], "out")
	d, err := m.Create(nullbench.Kind) // a domain to lend the buffer to, as a proxy would
	if err != nil {
		t.Fatal(err)
	}
	lent := rref.Lend(buf.Borrow(), heap, d.Heap())
	if n, err := c.Write(lent, 3); n != 3 || err != nil {
		t.Errorf("Write: %d, %v", n, err)
	}
	if _, err := c.Write(lent, idl.IOSize+1); err == nil {
		t.Error("a write longer than an IOBuf was accepted")
	}
	if out.b.String() != "out" {
		t.Errorf("wrote %q", out.b.String())
	}
	if c.SetRaw(true) != nil || c.SetRaw(false) != nil || len(raws) != 2 || !raws[0] || raws[1] {
		t.Errorf("SetRaw calls: %v", raws)
	}
	if New(strings.NewReader(""), io.Discard, nil).SetRaw(true) != nil {
		t.Error("SetRaw without modes failed")
	}
}
