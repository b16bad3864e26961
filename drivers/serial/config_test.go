package serial

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Config
		err  string // substring of the error; "" for none
	}{
		{"device only", "/dev/ttyS1", Config{Device: "/dev/ttyS1", Name: "ttyS1", Baud: 19200, DataBits: 8, Parity: 'E', StopBits: 1}, ""},
		{"baud", "/dev/ttyS1:9600", Config{Device: "/dev/ttyS1", Name: "ttyS1", Baud: 9600, DataBits: 8, Parity: 'E', StopBits: 1}, ""},
		{"format", "/dev/ttyS1:9600:8N1", Config{Device: "/dev/ttyS1", Name: "ttyS1", Baud: 9600, DataBits: 8, Parity: 'N', StopBits: 1}, ""},
		{"lower-case parity", "/dev/ttyUSB0:115200:8o2", Config{Device: "/dev/ttyUSB0", Name: "ttyUSB0", Baud: 115200, DataBits: 8, Parity: 'O', StopBits: 2}, ""},
		{"named", "line2=/dev/serial/by-id/usb-FTDI-port0:38400:7E1", Config{Device: "/dev/serial/by-id/usb-FTDI-port0", Name: "line2", Baud: 38400, DataBits: 7, Parity: 'E', StopBits: 1}, ""},
		{"empty", "", Config{}, `serial: "": no device path`},
		{"empty name", "=/dev/ttyS1", Config{}, `serial: "=/dev/ttyS1": empty port name before '='`},
		{"bad baud", "/dev/ttyS1:9601", Config{}, "serial: /dev/ttyS1: baud rate 9601 is not supported (want one of 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200 or another standard rate)"},
		{"baud not a number", "/dev/ttyS1:fast", Config{}, `serial: /dev/ttyS1: baud rate "fast" is not a number`},
		{"zero baud", "/dev/ttyS1:0", Config{}, "serial: /dev/ttyS1: baud rate 0 is not supported"},
		{"bad format", "/dev/ttyS1:9600:8N", Config{}, `serial: /dev/ttyS1: line format "8N": want data bits, parity and stop bits, such as 8N1 or 8E1`},
		{"bad parity", "/dev/ttyS1:9600:8X1", Config{}, `parity 'X': want N, E or O`},
		{"bad data bits", "/dev/ttyS1:9600:5N1", Config{}, "serial: /dev/ttyS1: 5 data bits are not supported (want 8, or 7)"},
		{"bad stop bits", "/dev/ttyS1:9600:8N3", Config{}, "serial: /dev/ttyS1: 3 stop bits are not supported (want 1 or 2)"},
		{"too many parts", "/dev/ttyS1:9600:8N1:x", Config{}, "want [NAME=]DEVICE[:BAUD[:8N1]]"},
		{"bad name", "a b=/dev/ttyS1", Config{}, `serial: /dev/ttyS1: port name "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) = %+v, %v; want an error with %q", tt.in, c, err, tt.err)
				}
				if !errors.Is(err, ErrConfig) {
					t.Errorf("error %v does not wrap ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if c != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, c, tt.want)
			}
			// String gives back what Parse reads.
			if c2, err := Parse(c.String()); err != nil || c2 != c {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", c.String(), c2, err, c)
			}
		})
	}
}

func TestValidateAll(t *testing.T) {
	cs := []Config{
		{Device: "/dev/ttyS1"},
		{Device: "/dev/ttyS1"},
		{Device: "/dev/a/ttyS1"},
		{Device: "/dev/ttyS2", Baud: 7},
	}
	err := ValidateAll(cs)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"serial: /dev/ttyS1: given twice",
		`serial: /dev/a/ttyS1: port name "ttyS1" is also the name of /dev/ttyS1`,
		"serial: /dev/ttyS2: baud rate 7 is not supported",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !errors.Is(err, ErrConfig) {
		t.Errorf("%v does not wrap ErrConfig", err)
	}
}

func TestCharBits(t *testing.T) {
	for in, want := range map[string]int{"/d/x:9600:8E1": 11, "/d/x:9600:8N1": 10, "/d/x:9600:8N2": 11, "/d/x:9600:7E1": 10, "/d/x:9600:8O2": 12} {
		c, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.CharBits(); got != want {
			t.Errorf("%s: CharBits %d, want %d", in, got, want)
		}
	}
}
