package pcapfile

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/tapwire/tapwire/drivers"
)

// fileError is every error this package returns (except io.EOF). Its
// message starts with the file's name; errors.Is finds the drivers error
// (ErrDamaged, ErrUnsupportedLink, ErrFormat) or the os error behind it.
type fileError struct {
	path   string
	record uint64 // the packet record concerned, 1-based; 0 when none
	msg    string // what is wrong
	err    error  // what errors.Is and errors.As see
}

func (e *fileError) Error() string {
	if e.record > 0 {
		return fmt.Sprintf("%s: record %d: %s", e.path, e.record, e.msg)
	}
	return e.path + ": " + e.msg
}

func (e *fileError) Unwrap() error { return e.err }

func damaged(path string, record uint64, format string, args ...any) error {
	return &fileError{path: path, record: record, msg: fmt.Sprintf(format, args...), err: drivers.ErrDamaged}
}

func badFormat(path string, format string, args ...any) error {
	return &fileError{path: path, msg: fmt.Sprintf(format, args...), err: drivers.ErrFormat}
}

// osError wraps an error of the file system. A *fs.PathError already
// names the file, so only its cause goes into the message.
func osError(path string, err error) error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
		if pe.Op == "read" {
			msg = "read: " + msg
		}
	}
	return &fileError{path: path, msg: msg, err: err}
}
