package cli

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs/errno"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		spec string
		opts map[byte]string
		rest []string
		err  bool
	}{
		{args: []string{"p"}, spec: "a", opts: map[byte]string{}},
		{args: []string{"p", "x", "-a"}, spec: "a", opts: map[byte]string{}, rest: []string{"x", "-a"}},
		{args: []string{"p", "-rf", "x"}, spec: "rf", opts: map[byte]string{'r': "", 'f': ""}, rest: []string{"x"}},
		{args: []string{"p", "-n", "5", "f"}, spec: "n:", opts: map[byte]string{'n': "5"}, rest: []string{"f"}},
		{args: []string{"p", "-n5"}, spec: "n:", opts: map[byte]string{'n': "5"}},
		{args: []string{"p", "-vn", "3"}, spec: "vn:", opts: map[byte]string{'v': "", 'n': "3"}},
		{args: []string{"p", "--", "-a"}, spec: "a", opts: map[byte]string{}, rest: []string{"-a"}},
		{args: []string{"p", "-", "x"}, spec: "a", opts: map[byte]string{}, rest: []string{"-", "x"}},
		{args: []string{"p", "-b"}, spec: "a", err: true},
		{args: []string{"p", "-n"}, spec: "n:", err: true},
		{args: []string{"p", "-:"}, spec: "n:", err: true},
	} {
		o, rest, err := Parse(c.args, c.spec)
		if (err != nil) != c.err {
			t.Errorf("Parse(%q, %q): error %v", c.args, c.spec, err)
			continue
		}
		if err != nil {
			continue
		}
		for k, v := range c.opts {
			if !o.Has(k) || o.Value(k) != v {
				t.Errorf("Parse(%q, %q): -%c = %q, %v; want %q", c.args, c.spec, k, o.Value(k), o.Has(k), v)
			}
		}
		if len(o.set) != len(c.opts) || !slices.Equal(rest, c.rest) {
			t.Errorf("Parse(%q, %q) = %v, %q; want %v, %q", c.args, c.spec, o.set, rest, c.opts, c.rest)
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&errno.PathError{Op: "open", Path: "/x", Err: errno.ENOENT}, "no such file or directory"},
		{fmt.Errorf("pipe: %w", errno.EPIPE), "broken pipe"},
		{fmt.Errorf("outer: %w", errors.New("inner")), "inner"},
		{errors.New("plain"), "plain"},
	} {
		if got := Text(c.err); got != c.want {
			t.Errorf("Text(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if !IsBrokenPipe(fmt.Errorf("write: %w", errno.EPIPE)) || IsBrokenPipe(errno.EIO) {
		t.Error("IsBrokenPipe")
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 4096: "4.0 KiB", 32 << 20: "32.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
