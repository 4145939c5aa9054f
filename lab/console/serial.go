package console

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// bauds maps line speeds to termios constants.
var bauds = map[int]uint32{
	9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400, 460800: unix.B460800, 921600: unix.B921600,
}

// openSerial opens a local serial device in raw mode (8N1, no flow
// control, no echo, no line editing) at baud (default 115200). It is
// not made the process's controlling terminal.
func openSerial(path string, baud int) (*os.File, error) {
	if baud == 0 {
		baud = 115200
	}
	speed, ok := bauds[baud]
	if !ok {
		return nil, fmt.Errorf("unsupported speed %d", baud)
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a serial device: %w", path, err)
	}
	// cfmakeraw, then 8N1 at the speed, receiver on, modem lines ignored.
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed, t.Ospeed = speed, speed
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: setting raw mode at %d baud: %w", path, baud, err)
	}
	return f, nil
}
