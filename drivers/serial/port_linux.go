package serial

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/tarm/serial"
	"golang.org/x/sys/unix"
)

// OpenPort opens c's device with github.com/tarm/serial: raw mode, c's
// line settings, reads that return what has arrived or nothing after
// ReadTimeout. Errors name the device; a device that does not exist, is
// not a serial port or refuses the line settings wraps ErrConfig.
func OpenPort(c Config) (Port, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkDevice(c.Device); err != nil {
		return nil, err
	}
	sp, err := serial.OpenPort(&serial.Config{
		Name:        c.Device,
		Baud:        c.Baud,
		ReadTimeout: ReadTimeout,
		Size:        byte(c.DataBits),
		Parity:      serial.Parity(c.Parity),
		StopBits:    serial.StopBits(c.StopBits),
	})
	if err != nil {
		return nil, openError(c, err)
	}
	return &ttyPort{p: sp, dev: c.Device}, nil
}

// checkDevice tells a missing device and a file that is no device apart
// from other failures, with messages a plant engineer understands.
func checkDevice(dev string) error {
	fi, err := os.Stat(dev)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &ConfigError{Port: dev, Msg: "no such device", Err: err}
	case err != nil:
		return &ConfigError{Port: dev, Msg: err.Error(), Err: err}
	case fi.Mode()&fs.ModeCharDevice == 0:
		return &ConfigError{Port: dev, Msg: fmt.Sprintf("not a serial device (%s)", kind(fi.Mode()))}
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a character device"
}

// openError describes an error of tarm/serial's OpenPort.
func openError(c Config, err error) error {
	var errno unix.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &ConfigError{Port: c.Device, Msg: "no such device", Err: err}
	case errors.As(err, &errno) && errno == unix.ENOTTY:
		return &ConfigError{Port: c.Device, Msg: "not a serial device", Err: err}
	case errors.As(err, &errno) && errno == unix.EINVAL:
		return &ConfigError{Port: c.Device, Msg: fmt.Sprintf("the device refuses %d baud %d%c%d", c.Baud, c.DataBits, byte(c.Parity), c.StopBits), Err: err}
	}
	return fmt.Errorf("serial: %s: %w", c.Device, err)
}

// ttyPort is a tarm/serial port. tarm sets VMIN 0 and VTIME 1: a read
// returns what has arrived, or after 0.1 s of silence 0 bytes, which
// os.File reports as io.EOF. A hung-up tty (a USB adapter unplugged, a
// pseudo-terminal whose other side closed) also reads 0 bytes, at once,
// or fails with EIO: three fast empty reads in a row, a read error, or a
// device path that no longer exists mean the port is gone.
type ttyPort struct {
	p       *serial.Port
	dev     string
	fast    int       // empty reads in a row that returned early
	checked time.Time // when the device path was last checked
}

func (t *ttyPort) Read(b []byte) (int, error) {
	start := time.Now()
	n, err := t.p.Read(b)
	if n > 0 {
		t.fast = 0
		return n, nil
	}
	if err != nil && err != io.EOF {
		return 0, fmt.Errorf("%w: %v", errGone, err)
	}
	now := time.Now()
	if now.Sub(start) < ReadTimeout/4 {
		t.fast++
		if t.fast >= 3 {
			return 0, fmt.Errorf("%w: hung up", errGone)
		}
		return 0, nil
	}
	t.fast = 0
	if now.Sub(t.checked) >= time.Second {
		t.checked = now
		if _, err := os.Stat(t.dev); err != nil {
			return 0, fmt.Errorf("%w: %v", errGone, err)
		}
	}
	return 0, nil
}

func (t *ttyPort) Close() error { return t.p.Close() }
