package dissect

import "errors"

// The error vocabulary of every decoder. Decoders wrap them with %w and a
// message that names the package and what was wrong; callers (detect counts
// malformed PDUs as findings) test with errors.Is.
var (
	// ErrTruncated: the bytes end before the structure does.
	ErrTruncated = errors.New("truncated")
	// ErrMalformed: the bytes cannot be this structure (bad length, bad
	// field value, impossible combination).
	ErrMalformed = errors.New("malformed")
)
