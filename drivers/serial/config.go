package serial

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Parity is a serial line's parity: 'N' none, 'E' even, 'O' odd.
type Parity byte

// Parities.
const (
	ParityNone Parity = 'N'
	ParityEven Parity = 'E'
	ParityOdd  Parity = 'O'
)

// Config is one serial port to tap. The zero value of a field means its
// default (DefaultConfig): the Modbus over Serial Line defaults.
type Config struct {
	// Device is the path of the port's device, e.g. /dev/ttyS1 or
	// /dev/serial/by-id/usb-FTDI_…-port0.
	Device string
	// Name names the port in addresses (serial:NAME/UNIT) and in RTU
	// captures (the pcapng interface name): letters, digits, '.', '_' and
	// '-', at most 64. Default: the device's base name (ttyS1).
	Name string
	// Baud is the bit rate: one of the standard rates (BaudRates).
	Baud int
	// DataBits is 8 (Modbus RTU) or 7.
	DataBits int
	// Parity is ParityNone, ParityEven or ParityOdd.
	Parity Parity
	// StopBits is 1 or 2.
	StopBits int
}

// DefaultConfig holds the defaults of every field but Device and Name:
// 19200 baud, 8 data bits, even parity, 1 stop bit (Modbus over Serial
// Line V1.02, 2.5.1: "19200 bps … is the default", "even parity is
// required" by default).
var DefaultConfig = Config{Baud: 19200, DataBits: 8, Parity: ParityEven, StopBits: 1}

// BaudRates are the bit rates a port can be set to (the termios rates of
// Linux from 50 baud up).
var BaudRates = []int{
	50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600,
	19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
	1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000,
}

// ErrConfig is wrapped by every error about a port's configuration: a bad
// field, a device that does not exist or is not a serial port. `sensor
// run` exits with 78 (EX_CONFIG) on it.
var ErrConfig = errors.New("bad serial port configuration")

// ConfigError says what is wrong with a port's configuration; its message
// names the port: "serial: /dev/ttyS9: no such device".
type ConfigError struct {
	Port string // the device path, or the text given to Parse
	Msg  string
	Err  error // the underlying error, if any
}

func (e *ConfigError) Error() string { return "serial: " + e.Port + ": " + e.Msg }

// Is makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// Unwrap returns the underlying error (an os error), if any.
func (e *ConfigError) Unwrap() error { return e.Err }

func configError(port, format string, args ...any) error {
	return &ConfigError{Port: port, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads a port as `sensor run --serial` gives it:
//
//	[NAME=]DEVICE[:BAUD[:FORMAT]]
//
// FORMAT is data bits, parity and stop bits, as 8N1, 8E1, 8O1, 8N2, 7E1
// (parity letter in either case). Omitted parts take DefaultConfig's
// values; NAME defaults to the device's base name. Examples:
// "/dev/ttyS1", "/dev/ttyS1:9600", "/dev/ttyUSB0:115200:8N1",
// "line2=/dev/ttyUSB1:9600:8E1". The result is validated.
func Parse(s string) (Config, error) {
	spec := s
	var c Config
	if i := strings.IndexByte(s, '='); i >= 0 && !strings.Contains(s[:i], "/") {
		c.Name, s = s[:i], s[i+1:]
		if c.Name == "" {
			return Config{}, configError(strconv.Quote(spec), "empty port name before '='")
		}
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return Config{}, configError(spec, "want [NAME=]DEVICE[:BAUD[:8N1]]")
	}
	c.Device = parts[0]
	if c.Device == "" {
		return Config{}, configError(strconv.Quote(spec), "no device path")
	}
	if len(parts) > 1 {
		b, err := strconv.Atoi(parts[1])
		if err != nil {
			return Config{}, configError(c.Device, "baud rate %q is not a number", parts[1])
		}
		c.Baud = b
		if b == 0 {
			return Config{}, configError(c.Device, "baud rate 0 is not supported")
		}
	}
	if len(parts) > 2 {
		f := parts[2]
		if len(f) != 3 || f[0] < '0' || f[0] > '9' || f[2] < '0' || f[2] > '9' {
			return Config{}, configError(c.Device, "line format %q: want data bits, parity and stop bits, such as 8N1 or 8E1", f)
		}
		c.DataBits = int(f[0] - '0')
		c.Parity = Parity(f[1] &^ 0x20) // upper case
		c.StopBits = int(f[2] - '0')
		if c.Parity != ParityNone && c.Parity != ParityEven && c.Parity != ParityOdd {
			return Config{}, configError(c.Device, "line format %q: parity %q: want N, E or O", f, f[1])
		}
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Name == "" && c.Device != "" {
		c.Name = filepath.Base(c.Device)
	}
	if c.Baud == 0 {
		c.Baud = DefaultConfig.Baud
	}
	if c.DataBits == 0 {
		c.DataBits = DefaultConfig.DataBits
	}
	if c.Parity == 0 {
		c.Parity = DefaultConfig.Parity
	}
	if c.StopBits == 0 {
		c.StopBits = DefaultConfig.StopBits
	}
	return c
}

// Validate checks the fields of c (with its defaults applied first); it
// does not look at the device. Errors wrap ErrConfig and name the port.
func (c Config) Validate() error {
	c = c.WithDefaults()
	port := c.Device
	if port == "" {
		return configError(fmt.Sprintf("port %q", c.Name), "no device path")
	}
	if !validName(c.Name) {
		return configError(port, "port name %q: want 1 to 64 letters, digits, '.', '_' or '-'", c.Name)
	}
	if !slices.Contains(BaudRates, c.Baud) {
		return configError(port, "baud rate %d is not supported (want one of %s)", c.Baud, rateList())
	}
	if c.DataBits != 7 && c.DataBits != 8 {
		return configError(port, "%d data bits are not supported (want 8, or 7)", c.DataBits)
	}
	if c.Parity != ParityNone && c.Parity != ParityEven && c.Parity != ParityOdd {
		return configError(port, "parity %q is not supported (want N, E or O)", byte(c.Parity))
	}
	if c.StopBits != 1 && c.StopBits != 2 {
		return configError(port, "%d stop bits are not supported (want 1 or 2)", c.StopBits)
	}
	return nil
}

// ValidateAll validates every port and checks that no two share a device
// or a name.
func ValidateAll(cs []Config) error {
	var errs []error
	names := map[string]string{}
	devs := map[string]bool{}
	for _, c := range cs {
		c = c.WithDefaults()
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if devs[c.Device] {
			errs = append(errs, configError(c.Device, "given twice"))
			continue
		}
		devs[c.Device] = true
		if d, ok := names[c.Name]; ok {
			errs = append(errs, configError(c.Device, "port name %q is also the name of %s (set a name for one of them)", c.Name, d))
			continue
		}
		names[c.Name] = c.Device
	}
	return errors.Join(errs...)
}

// String is c as Parse reads it: NAME=DEVICE:BAUD:8E1 (NAME= only when it
// is not the device's base name).
func (c Config) String() string {
	c = c.WithDefaults()
	s := fmt.Sprintf("%s:%d:%d%c%d", c.Device, c.Baud, c.DataBits, byte(c.Parity), c.StopBits)
	if c.Name != filepath.Base(c.Device) {
		s = c.Name + "=" + s
	}
	return s
}

// CharBits is the number of bits a character takes on the line: start
// bit, data bits, parity bit and stop bits.
func (c Config) CharBits() int {
	c = c.WithDefaults()
	n := 1 + c.DataBits + c.StopBits
	if c.Parity != ParityNone {
		n++
	}
	return n
}

func validName(s string) bool {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch x := s[i]; {
		case x >= 'a' && x <= 'z', x >= 'A' && x <= 'Z', x >= '0' && x <= '9', x == '.', x == '_', x == '-':
		default:
			return false
		}
	}
	return true
}

func rateList() string {
	var b strings.Builder
	for i, r := range BaudRates {
		if r < 1200 || r > 115200 {
			continue
		}
		if i > 0 && b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(r))
	}
	b.WriteString(" or another standard rate")
	return b.String()
}
