package errno

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrors(t *testing.T) {
	if ENOENT.Error() != "no such file or directory" || ENOENT.Name() != "ENOENT" {
		t.Fatal(ENOENT.Error(), ENOENT.Name())
	}
	if Errno(999).Error() != "errno 999" || Errno(999).Name() != "E999" {
		t.Fatal(Errno(999).Error())
	}
	for e := range messages {
		if names[e] == "" {
			t.Errorf("%d has no name", e)
		}
	}
	var err error = &PathError{Op: "open", Path: "/a", Err: fmt.Errorf("detail: %w", ENOTDIR)}
	if !errors.Is(err, ENOTDIR) || err.Error() != "open /a: detail: not a directory" {
		t.Fatal(err)
	}
	err = &LinkError{Op: "rename", Old: "/a", New: "/b", Err: EXDEV}
	if !errors.Is(err, EXDEV) || err.Error() != "rename /a /b: invalid cross-device link" {
		t.Fatal(err)
	}
	err = Corrupt("inode %d: bad", 3)
	if !errors.Is(err, EUCLEAN) || err.Error() != "inode 3: bad: file system corrupted (structure needs cleaning)" {
		t.Fatal(err)
	}
}
