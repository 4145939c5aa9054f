package debkernel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// arMagic starts every ar archive (a .deb is one).
const arMagic = "!<arch>\n"

// arMember is one file of an ar archive.
type arMember struct {
	Name string
	Size int64
}

// readAr calls fn for each member of the ar archive r, with a reader of
// its bytes (valid during the call). fn returning errStop ends the walk
// without an error. GNU long names ("//") are not used by .debs and are
// not supported.
func readAr(r io.Reader, fn func(m arMember, r io.Reader) error) error {
	br := bufio.NewReader(r)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return errors.New("not an ar archive (a .deb starts with \"!<arch>\")")
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(br, hdr); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("ar: truncated member header: %w", err)
		}
		if !bytes.Equal(hdr[58:60], []byte("`\n")) {
			return fmt.Errorf("ar: bad member header %q", hdr)
		}
		name := strings.TrimRight(string(hdr[0:16]), " ")
		name = strings.TrimSuffix(name, "/") // GNU ar ends names with '/'
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("ar: member %q: bad size %q", name, hdr[48:58])
		}
		lr := &io.LimitedReader{R: br, N: size}
		err = fn(arMember{Name: name, Size: size}, lr)
		if err == errStop {
			return nil
		}
		if err != nil {
			return err
		}
		// Skip what fn did not read, and the padding to an even offset.
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return fmt.Errorf("ar: member %q: %w", name, err)
		}
		if size%2 == 1 {
			if _, err := br.ReadByte(); err != nil && err != io.EOF {
				return err
			}
		}
	}
}

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// writeAr writes an ar archive of members (name, data), for tests and
// fixtures.
func writeAr(w io.Writer, members ...[2]string) error {
	if _, err := io.WriteString(w, arMagic); err != nil {
		return err
	}
	for _, m := range members {
		hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8s%-10d`\n", m[0], 0, 0, 0, "100644", len(m[1]))
		data := m[1]
		if len(data)%2 == 1 {
			data += "\n"
		}
		if _, err := io.WriteString(w, hdr+data); err != nil {
			return err
		}
	}
	return nil
}
