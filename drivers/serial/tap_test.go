package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/tapwire/tapwire/drivers"
)

// fakePort is a Port fed by a test: chunks to read, or an error that makes
// the port gone.
type fakePort struct {
	chunks chan []byte
	fail   chan error
	closed chan struct{}
	once   sync.Once
}

func newFakePort() *fakePort {
	return &fakePort{chunks: make(chan []byte, 64), fail: make(chan error, 1), closed: make(chan struct{})}
}

func (p *fakePort) Read(b []byte) (int, error) {
	select {
	case c := <-p.chunks:
		return copy(b, c), nil
	case err := <-p.fail:
		return 0, err
	case <-p.closed:
		return 0, errors.New("read on a closed port")
	case <-time.After(5 * time.Millisecond):
		return 0, nil // silence
	}
}

func (p *fakePort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// fakeDevices opens fake ports by device path; a device can be removed and
// put back.
type fakeDevices struct {
	mu    sync.Mutex
	ports map[string]*fakePort
	opens map[string]int
}

func newFakeDevices(devs ...string) *fakeDevices {
	d := &fakeDevices{ports: map[string]*fakePort{}, opens: map[string]int{}}
	for _, dev := range devs {
		d.ports[dev] = newFakePort()
	}
	return d
}

func (d *fakeDevices) open(c Config) (Port, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.ports[c.Device]
	if !ok {
		return nil, &ConfigError{Port: c.Device, Msg: "no such device"}
	}
	d.opens[c.Device]++
	return p, nil
}

func (d *fakeDevices) port(dev string) *fakePort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ports[dev]
}

// unplug makes dev's reads fail and the device disappear.
func (d *fakeDevices) unplug(dev string) {
	d.mu.Lock()
	p := d.ports[dev]
	delete(d.ports, dev)
	d.mu.Unlock()
	p.fail <- errors.New("EIO")
}

func (d *fakeDevices) plug(dev string) *fakePort {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := newFakePort()
	d.ports[dev] = p
	return p
}

// lineFramer is a Framer that makes a record of every line ('\n'-ended)
// of a port's bytes; Reset and Idle hand on an unfinished line as
// "partial:…".
type lineFramer struct{ buf []byte }

func (f *lineFramer) Feed(ts int64, p []byte, emit func([]byte, int64)) {
	for _, b := range p {
		if b == '\n' {
			emit(f.buf, ts)
			f.buf = f.buf[:0]
			continue
		}
		f.buf = append(f.buf, b)
	}
}

func (f *lineFramer) Idle(ts int64, emit func([]byte, int64)) {}

func (f *lineFramer) Reset(ts int64, emit func([]byte, int64)) {
	if len(f.buf) > 0 {
		emit(append([]byte("partial:"), f.buf...), ts)
		f.buf = f.buf[:0]
	}
}

func lineOptions(d *fakeDevices, events chan<- Event) Options {
	return Options{
		NewFramer: func(Config) Framer { return &lineFramer{} },
		Open:      d.open,
		Report:    func(e Event) { events <- e },
		RetryMin:  5 * time.Millisecond,
		RetryMax:  20 * time.Millisecond,
	}
}

// next reads one frame with a deadline.
func next(t *testing.T, tap *Tap) drivers.Frame {
	t.Helper()
	type res struct {
		f   drivers.Frame
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var f drivers.Frame
		err := tap.Next(&f)
		ch <- res{f, string(f.Data), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Next: %v", r.err)
		}
		r.f.Data = []byte(r.s)
		return r.f
	case <-time.After(5 * time.Second):
		t.Fatal("Next: no frame within 5 s")
	}
	return drivers.Frame{}
}

func waitEvent(t *testing.T, events <-chan Event, kind EventKind, port string) Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == kind && e.Port == port {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event for %s within 5 s", kind, port)
		}
	}
}

func TestTap(t *testing.T) {
	d := newFakeDevices("/dev/ttyA", "/dev/ttyB")
	events := make(chan Event, 64)
	opt := lineOptions(d, events)
	opt.FirstInput = 3
	start := time.Unix(1767225600, 0)
	var clock sync.Mutex
	tick := start
	opt.Now = func() time.Time {
		clock.Lock()
		defer clock.Unlock()
		tick = tick.Add(time.Millisecond)
		return tick
	}
	tap, err := Open(context.Background(), []Config{{Device: "/dev/ttyA"}, {Device: "/dev/ttyB", Name: "line2", Baud: 9600}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	if got := fmt.Sprint(tap.Ports()); got != "[ttyA line2]" {
		t.Errorf("Ports() = %s", got)
	}
	waitEvent(t, events, PortOpened, "ttyA")
	waitEvent(t, events, PortOpened, "line2")

	// Chunks that cut records anywhere.
	d.port("/dev/ttyA").chunks <- []byte("hel")
	d.port("/dev/ttyA").chunks <- []byte("lo\nwor")
	d.port("/dev/ttyA").chunks <- []byte("ld\n")
	for _, want := range []string{"hello", "world"} {
		f := next(t, tap)
		if string(f.Data) != want || f.Input != 3 || f.Link != drivers.LinkRTACSerial || f.OrigLen != len(want) {
			t.Fatalf("frame %q input %d link %s origlen %d, want %q on input 3", f.Data, f.Input, f.Link, f.OrigLen, want)
		}
		if f.TS <= start.UnixNano() {
			t.Errorf("frame time %d not after the start %d", f.TS, start.UnixNano())
		}
	}
	d.port("/dev/ttyB").chunks <- []byte("b1\n")
	if f := next(t, tap); string(f.Data) != "b1" || f.Input != 4 {
		t.Fatalf("frame %q on input %d, want b1 on input 4", f.Data, f.Input)
	}

	// Unplugged in the middle of a record, then back.
	d.port("/dev/ttyB").chunks <- []byte("half")
	time.Sleep(20 * time.Millisecond)
	d.unplug("/dev/ttyB")
	if e := waitEvent(t, events, PortLost, "line2"); e.Err == nil || e.Device != "/dev/ttyB" {
		t.Errorf("lost event %+v", e)
	}
	if f := next(t, tap); string(f.Data) != "partial:half" || f.Input != 4 {
		t.Fatalf("frame %q, want the partial record handed on at the loss", f.Data)
	}
	waitEvent(t, events, PortOpenFailed, "line2")
	if st := tap.Stats()[1]; st.Open || st.Losses != 1 {
		t.Errorf("stats while lost: %+v", st)
	}
	// The other port goes on.
	d.port("/dev/ttyA").chunks <- []byte("still\n")
	if f := next(t, tap); string(f.Data) != "still" {
		t.Fatalf("frame %q", f.Data)
	}
	p := d.plug("/dev/ttyB")
	waitEvent(t, events, PortReopened, "line2")
	p.chunks <- []byte("back\n")
	if f := next(t, tap); string(f.Data) != "back" || f.Input != 4 {
		t.Fatalf("frame %q on input %d after the reopen", f.Data, f.Input)
	}
	st := tap.Stats()
	if !st[1].Open || st[1].Losses != 1 || st[1].Reopens != 1 || st[1].Records != 3 || st[0].Records != 3 || st[0].Bytes != 18 {
		t.Errorf("stats %+v", st)
	}

	if err := tap.Close(); err != nil {
		t.Fatal(err)
	}
	var f drivers.Frame
	if err := tap.Next(&f); err != io.EOF {
		t.Fatalf("Next after Close: %v, want io.EOF", err)
	}
}

func TestTapOpenErrors(t *testing.T) {
	d := newFakeDevices("/dev/ttyA")
	events := make(chan Event, 64)
	_, err := Open(context.Background(), []Config{{Device: "/dev/ttyA"}, {Device: "/dev/ttyS9"}}, lineOptions(d, events))
	if err == nil || err.Error() != "serial: /dev/ttyS9: no such device" || !errors.Is(err, ErrConfig) {
		t.Fatalf("Open with a missing device: %v", err)
	}
	if !d.port("/dev/ttyA").isClosed() {
		t.Error("the port opened before the failure was left open")
	}
	_, err = Open(context.Background(), []Config{{Device: "/dev/ttyA", Baud: 12345}}, lineOptions(d, events))
	if err == nil || !errors.Is(err, ErrConfig) || err.Error() != "serial: /dev/ttyA: baud rate 12345 is not supported (want one of 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200 or another standard rate)" {
		t.Fatalf("Open with a bad baud rate: %v", err)
	}
}

func (p *fakePort) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// TestTapContext: the tap ends when its context does.
func TestTapContext(t *testing.T) {
	d := newFakeDevices("/dev/ttyA")
	ctx, cancel := context.WithCancel(context.Background())
	tap, err := Open(ctx, []Config{{Device: "/dev/ttyA"}}, lineOptions(d, make(chan Event, 64)))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var f drivers.Frame
	if err := tap.Next(&f); err != io.EOF {
		t.Fatalf("Next after cancel: %v", err)
	}
	tap.Close()
	if !d.port("/dev/ttyA").isClosed() {
		t.Error("port left open")
	}
}

// TestTapDrops: records beyond the queue are dropped and counted, not
// waited for.
func TestTapDrops(t *testing.T) {
	d := newFakeDevices("/dev/ttyA")
	opt := lineOptions(d, make(chan Event, 64))
	opt.Queue = 2
	tap, err := Open(context.Background(), []Config{{Device: "/dev/ttyA"}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	d.port("/dev/ttyA").chunks <- []byte("1\n2\n3\n4\n")
	deadline := time.Now().Add(5 * time.Second)
	for tap.Stats()[0].Records+tap.Stats()[0].Dropped < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := tap.Stats()[0]; st.Records != 2 || st.Dropped != 2 {
		t.Fatalf("stats %+v, want 2 records and 2 dropped", st)
	}
	for _, want := range []string{"1", "2"} {
		if f := next(t, tap); string(f.Data) != want {
			t.Fatalf("frame %q, want %q", f.Data, want)
		}
	}
}

func TestNextIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tap, err := Open(ctx, []Config{{Device: "/dev/fake0"}}, Options{
		NewFramer: func(Config) Framer { return nullFramer{} },
		Open:      func(Config) (Port, error) { return blockingPort{ctx}, nil },
		Idle:      20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	var f drivers.Frame
	start := time.Now()
	if err := tap.Next(&f); !errors.Is(err, ErrIdle) {
		t.Fatalf("Next = %v, want ErrIdle", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("ErrIdle after %v, before the idle time", d)
	}
	cancel()
	if err := tap.Next(&f); !errors.Is(err, io.EOF) {
		t.Errorf("Next after cancel = %v, want io.EOF", err)
	}
}

type nullFramer struct{}

func (nullFramer) Feed(int64, []byte, func([]byte, int64)) {}
func (nullFramer) Idle(int64, func([]byte, int64))         {}
func (nullFramer) Reset(int64, func([]byte, int64))        {}

// blockingPort never returns bytes until its context ends.
type blockingPort struct{ ctx context.Context }

func (p blockingPort) Read(b []byte) (int, error) {
	select {
	case <-p.ctx.Done():
		return 0, io.EOF
	case <-time.After(100 * time.Millisecond):
		return 0, nil
	}
}
func (p blockingPort) Close() error { return nil }
