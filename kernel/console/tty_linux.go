package console

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// NewTTY returns the console over the process's standard input and output.
// When standard input is a terminal, SetRaw switches it between its mode at
// start (line mode) and raw mode: no echo, no line editing, no signals from
// control characters, output processing kept (so "\n" still ends a line).
func NewTTY() *Console {
	fd := int(os.Stdin.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return New(os.Stdin, os.Stdout, nil)
	}
	var mu sync.Mutex
	return New(os.Stdin, os.Stdout, func(raw bool) error {
		mu.Lock()
		defer mu.Unlock()
		t := *saved
		if raw {
			t.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
			t.Iflag &^= unix.IXON | unix.ICRNL | unix.INLCR | unix.IGNCR
			t.Cc[unix.VMIN] = 1
			t.Cc[unix.VTIME] = 0
		}
		return unix.IoctlSetTermios(fd, unix.TCSETS, &t)
	})
}
