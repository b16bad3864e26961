//go:build !linux

package serial

// OpenPort is not supported on this operating system: it returns an error
// wrapping ErrNotSupported that names the device.
func OpenPort(c Config) (Port, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return nil, &notSupported{dev: c.Device}
}

type notSupported struct{ dev string }

func (e *notSupported) Error() string {
	return "serial: " + e.dev + ": " + ErrNotSupported.Error()[len("serial: "):]
}
func (e *notSupported) Unwrap() error { return ErrNotSupported }
