package serial

import (
	"errors"
	"time"
)

// Port is an open serial port, read by one goroutine. OpenPort opens the
// operating system's; tests use a fake.
type Port interface {
	// Read reads the bytes that have arrived into p, waiting up to about
	// ReadTimeout for the first. It returns 0, nil when nothing arrived
	// (the line was silent that long), and an error when the port is gone
	// (unplugged, hung up); the tap then closes it and reopens the device.
	Read(p []byte) (int, error)
	Close() error
}

// ReadTimeout is how long a read waits for a byte before it reports
// silence. github.com/tarm/serial counts its read timeout in steps of
// 0.1 s (termios VTIME), so 100 ms is the shortest: a frame's end is not
// told by this timeout (inter-frame silence is 1.75 ms above 19200
// baud) but by the framer's length rules and CRC; the timeout only bounds
// how long a frame cut short waits, and how long Close waits.
const ReadTimeout = 100 * time.Millisecond

// ErrNotSupported is returned by OpenPort where serial ports are not
// supported (every GOOS but linux).
var ErrNotSupported = errors.New("serial: serial ports are not supported on this operating system")

// errGone is the error a Port reports when its device went away.
var errGone = errors.New("the device is gone")
