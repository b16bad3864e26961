package serial

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Real-kernel tests on pseudo-terminals: the slave side stands for the
// serial device, the test writes the line's bytes into the master side.

// newPTY opens a pseudo-terminal pair; the slave stays open (so the line
// exists until the master closes) and both close at the end of the test.
func newPTY(t *testing.T) (master *os.File, slavePath string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s.Name()
}

func TestOpenPortErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ttyFILE")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing", Config{Device: filepath.Join(dir, "ttyS9")}, filepath.Join(dir, "ttyS9") + ": no such device"},
		{"regular file", Config{Device: file}, file + ": not a serial device (a regular file)"},
		{"directory", Config{Device: dir}, dir + ": not a serial device (a directory)"},
		{"not a tty", Config{Device: "/dev/null"}, "/dev/null: not a serial device"},
		{"bad baud", Config{Device: "/dev/null", Baud: 9601}, "/dev/null: baud rate 9601 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := OpenPort(tt.cfg)
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "serial: "+tt.want) || !errors.Is(err, ErrConfig) {
				t.Fatalf("error %q (ErrConfig %v), want %q", err, errors.Is(err, ErrConfig), "serial: "+tt.want)
			}
		})
	}
}

func TestOpenPortPTY(t *testing.T) {
	m, dev := newPTY(t)
	p, err := OpenPort(Config{Device: dev, Baud: 9600, Parity: ParityNone})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := m.Write([]byte{0x11, 0x03, 0x00}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var got []byte
	deadline := time.Now().Add(2 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "\x11\x03\x00" {
		t.Fatalf("read % x", got)
	}
	// Silence: a read returns nothing after about ReadTimeout.
	start := time.Now()
	n, err := p.Read(buf)
	if n != 0 || err != nil {
		t.Fatalf("read on a silent line: %d, %v", n, err)
	}
	if d := time.Since(start); d < ReadTimeout/2 || d > 10*ReadTimeout {
		t.Errorf("silent read took %v, want about %v", d, ReadTimeout)
	}
	// The other side closes: the port is gone.
	m.Close()
	deadline = time.Now().Add(2 * time.Second)
	for {
		_, err := p.Read(buf)
		if err != nil {
			if !errors.Is(err, errGone) {
				t.Fatalf("read error %v does not wrap errGone", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed line still reads as silent")
		}
	}
}

// TestTapReopen: a port that disappears while running is reported and
// reopened when it returns. The configured device is a symbolic link to a
// pseudo-terminal, as udev makes /dev/serial/by-id links: the pseudo-
// terminal is closed and the link removed, then a new one is linked.
func TestTapReopen(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyRS485")
	m1, dev1 := newPTY(t)
	if err := os.Symlink(dev1, link); err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 64)
	opt := Options{
		NewFramer: func(Config) Framer { return &lineFramer{} },
		Report:    func(e Event) { events <- e },
		RetryMin:  20 * time.Millisecond,
		RetryMax:  100 * time.Millisecond,
	}
	tap, err := Open(context.Background(), []Config{{Device: link, Baud: 9600}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	waitEvent(t, events, PortOpened, "ttyRS485")
	m1.Write([]byte("one\n"))
	if f := next(t, tap); string(f.Data) != "one" {
		t.Fatalf("frame %q", f.Data)
	}

	m1.Write([]byte("cut"))
	time.Sleep(50 * time.Millisecond)
	m1.Close()
	os.Remove(link)
	if e := waitEvent(t, events, PortLost, "ttyRS485"); e.Err == nil {
		t.Error("lost without an error")
	}
	if f := next(t, tap); string(f.Data) != "partial:cut" {
		t.Fatalf("frame %q, want the partial record", f.Data)
	}
	e := waitEvent(t, events, PortOpenFailed, "ttyRS485")
	if !strings.Contains(e.Err.Error(), "no such device") {
		t.Errorf("reopen error %v", e.Err)
	}

	m2, dev2 := newPTY(t)
	if err := os.Symlink(dev2, link); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, PortReopened, "ttyRS485")
	m2.Write([]byte("two\n"))
	if f := next(t, tap); string(f.Data) != "two" {
		t.Fatalf("frame %q after the reopen", f.Data)
	}
	if st := tap.Stats()[0]; !st.Open || st.Losses != 1 || st.Reopens != 1 {
		t.Errorf("stats %+v", st)
	}
}
