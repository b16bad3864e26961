package serial

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapwire/tapwire/drivers"
)

// Framer cuts one port's byte stream into records of the tap's link type.
// The tap calls it from the port's goroutine only. For Modbus RTU it is
// dissect/modbus's RTURecorder (its method set is this interface), made by
// Options.NewFramer; the driver itself knows no protocol.
type Framer interface {
	// Feed takes the bytes p a read returned at ts (ns since the Unix
	// epoch) and calls emit with every record it completes (valid during
	// the call) and the record's time.
	Feed(ts int64, p []byte, emit func(rec []byte, ts int64))
	// Idle says the line has been silent (a read timed out): nothing
	// buffered waits for more bytes.
	Idle(ts int64, emit func(rec []byte, ts int64))
	// Reset ends the stream (the port was lost, or is reopened).
	Reset(ts int64, emit func(rec []byte, ts int64))
}

// MaxRecord is the longest record the tap carries; longer ones are counted
// as dropped. It fits the RTU records (12-byte header, 256-byte ADU).
const MaxRecord = 512

// Options configure a Tap.
type Options struct {
	// NewFramer makes the framer of a port. Required. For Modbus RTU:
	//
	//	func(c serial.Config) serial.Framer {
	//		return modbus.NewRTURecorder(modbus.RTUConfig{Baud: c.Baud, CharBits: c.CharBits()})
	//	}
	NewFramer func(c Config) Framer
	// Link is the link type of the records. Default drivers.LinkRTACSerial.
	Link drivers.LinkType
	// FirstInput is the Frame.Input of the first port; port i is
	// FirstInput+i. Default 0.
	FirstInput int
	// Report, when set, is called (from the ports' goroutines) when a port
	// opens, is lost, fails to reopen or reopens. Default: log the event
	// with Logger.
	Report func(Event)
	// Logger logs port events when Report is nil. Default slog.Default().
	Logger *slog.Logger
	// Open opens a port. Default OpenPort (the operating system's).
	Open func(c Config) (Port, error)
	// Queue is the number of records held for Next; when Next falls that
	// far behind, records are dropped and counted. Default 4096.
	Queue int
	// RetryMin and RetryMax bound the wait between attempts to reopen a
	// lost port (doubling from RetryMin). Defaults 250 ms and 5 s.
	RetryMin, RetryMax time.Duration
	// Now is the clock that stamps reads. Default time.Now.
	Now func() time.Time
	// Idle, when set, makes Next return ErrIdle after that long without a
	// record, so that its caller can do periodic work (hand on what it
	// holds, notice that it should stop). Default 0: Next waits.
	Idle time.Duration
}

// ErrIdle is returned by Tap.Next when no record came within Options.Idle.
// It is not a failure: call Next again.
var ErrIdle = errors.New("serial: no record within the idle time")

// EventKind is what happened to a port.
type EventKind uint8

// Port events.
const (
	PortOpened     EventKind = iota + 1 // opened at start
	PortLost                            // a read failed: the device is gone
	PortOpenFailed                      // an attempt to reopen failed (reported once per loss)
	PortReopened                        // open again after a loss
	PortClosed                          // closed by Close
)

func (k EventKind) String() string {
	switch k {
	case PortOpened:
		return "opened"
	case PortLost:
		return "lost"
	case PortOpenFailed:
		return "reopen failed"
	case PortReopened:
		return "reopened"
	case PortClosed:
		return "closed"
	}
	return "unknown"
}

// Event reports what happened to a port.
type Event struct {
	Kind   EventKind
	Port   string // the port's name
	Device string
	Err    error // why, for PortLost and PortOpenFailed
	// Down is how long the port was lost, for PortReopened.
	Down time.Duration
}

// PortStats are a port's counters. They only grow (Open aside).
type PortStats struct {
	Name, Device string
	Open         bool   // the port is open now
	Reads        uint64 // reads that returned bytes
	Bytes        uint64 // bytes read
	Records      uint64 // records handed to Next's queue
	Dropped      uint64 // records dropped: the queue was full, or too long
	Losses       uint64 // times the port was lost
	Reopens      uint64 // times it was reopened
}

// Tap reads serial ports and delivers their records as a drivers.Source:
// one goroutine per port reads chunks, stamps them with the time the read
// returned and feeds the port's framer; the records go, in the order they
// were completed, to Next, with Link the tap's link type, Input the port's
// number (FirstInput + its index) and TS the framer's record time (for RTU,
// the arrival of the frame's last byte: the wall clock is the packet time
// here, as a network card's timestamp is). A port whose reads fail is
// reported, closed and reopened with backoff until its device returns;
// its framer is reset. The tap allocates nothing per record.
type Tap struct {
	opt    Options
	ports  []*tapPort
	out    chan *slot
	free   chan *slot
	cur    *slot
	idle   *time.Timer // Options.Idle's timer, reused
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

type slot struct {
	data  [MaxRecord]byte
	n     int
	ts    int64
	input int
}

type tapPort struct {
	t      *Tap
	cfg    Config
	input  int
	framer Framer
	emit   func(rec []byte, ts int64) // p.record, bound once

	open                                           atomic.Bool
	reads, bytes, records, dropped, losses, reopen atomic.Uint64
}

// Open opens every port (at once, so that a bad port is an error here:
// one that wraps ErrConfig when a port is misconfigured or its device
// does not exist) and starts reading them. The tap stops when ctx is done
// or on Close.
func Open(ctx context.Context, cfgs []Config, opt Options) (*Tap, error) {
	if opt.NewFramer == nil {
		return nil, errors.New("serial: Options.NewFramer is required")
	}
	if len(cfgs) == 0 {
		return nil, errors.New("serial: no ports to tap")
	}
	cfgs = append([]Config(nil), cfgs...)
	for i := range cfgs {
		cfgs[i] = cfgs[i].WithDefaults()
	}
	if err := ValidateAll(cfgs); err != nil {
		return nil, err
	}
	if opt.Link == 0 {
		opt.Link = drivers.LinkRTACSerial
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Open == nil {
		opt.Open = OpenPort
	}
	if opt.Queue <= 0 {
		opt.Queue = 4096
	}
	if opt.RetryMin <= 0 {
		opt.RetryMin = 250 * time.Millisecond
	}
	if opt.RetryMax < opt.RetryMin {
		opt.RetryMax = max(5*time.Second, opt.RetryMin)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	t := &Tap{opt: opt, out: make(chan *slot, opt.Queue), free: make(chan *slot, opt.Queue)}
	for range opt.Queue {
		t.free <- &slot{}
	}
	opened := make([]Port, 0, len(cfgs))
	for i, c := range cfgs {
		port, err := opt.Open(c)
		if err != nil {
			for _, p := range opened {
				p.Close()
			}
			return nil, err
		}
		opened = append(opened, port)
		p := &tapPort{t: t, cfg: c, input: opt.FirstInput + i, framer: opt.NewFramer(c)}
		p.emit = p.record
		t.ports = append(t.ports, p)
	}
	t.ctx, t.cancel = context.WithCancel(ctx)
	for i, p := range t.ports {
		p.open.Store(true)
		t.report(Event{Kind: PortOpened, Port: p.cfg.Name, Device: p.cfg.Device})
		t.wg.Add(1)
		go p.run(opened[i])
	}
	return t, nil
}

// Ports are the names of the ports, by index: pass them to
// modbus.NewRTUHandler (after FirstInput empty names).
func (t *Tap) Ports() []string {
	names := make([]string, len(t.ports))
	for i, p := range t.ports {
		names[i] = p.cfg.Name
	}
	return names
}

// Configs are the ports' configurations, defaults applied.
func (t *Tap) Configs() []Config {
	cs := make([]Config, len(t.ports))
	for i, p := range t.ports {
		cs[i] = p.cfg
	}
	return cs
}

// Next waits for the next record. f.Data is valid until the next call. It
// returns io.EOF once the tap's context is done (after the records queued
// by then) or the tap is closed.
func (t *Tap) Next(f *drivers.Frame) error {
	if t.cur != nil {
		t.free <- t.cur
		t.cur = nil
	}
	if t.closed {
		return io.EOF
	}
	// Records already queued come first, even once the context is done.
	select {
	case s := <-t.out:
		t.deliver(f, s)
		return nil
	default:
	}
	var idle <-chan time.Time
	if t.opt.Idle > 0 {
		if t.idle == nil {
			t.idle = time.NewTimer(t.opt.Idle)
		} else {
			t.idle.Reset(t.opt.Idle)
		}
		idle = t.idle.C
	}
	select {
	case s := <-t.out:
		t.deliver(f, s)
		return nil
	case <-t.ctx.Done():
		return io.EOF
	case <-idle:
		return ErrIdle
	}
}

func (t *Tap) deliver(f *drivers.Frame, s *slot) {
	t.cur = s
	*f = drivers.Frame{Data: s.data[:s.n], TS: s.ts, OrigLen: s.n, Link: t.opt.Link, Input: s.input}
}

// Close stops reading, closes the ports and waits for their goroutines
// (at most about ReadTimeout). Next returns io.EOF afterwards.
func (t *Tap) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	t.cancel()
	t.wg.Wait()
	return nil
}

// Stats returns every port's counters. It is safe to call from any
// goroutine.
func (t *Tap) Stats() []PortStats {
	out := make([]PortStats, len(t.ports))
	for i, p := range t.ports {
		out[i] = PortStats{
			Name: p.cfg.Name, Device: p.cfg.Device, Open: p.open.Load(),
			Reads: p.reads.Load(), Bytes: p.bytes.Load(), Records: p.records.Load(),
			Dropped: p.dropped.Load(), Losses: p.losses.Load(), Reopens: p.reopen.Load(),
		}
	}
	return out
}

var _ drivers.Source = (*Tap)(nil)

func (t *Tap) report(e Event) {
	if t.opt.Report != nil {
		t.opt.Report(e)
		return
	}
	log := t.opt.Logger
	args := []any{"port", e.Port, "device", e.Device}
	switch e.Kind {
	case PortOpened:
		log.Info("serial: port open", args...)
	case PortLost:
		log.Warn("serial: port lost; reopening when it returns", append(args, "err", e.Err)...)
	case PortOpenFailed:
		log.Warn("serial: port not back yet; retrying", append(args, "err", e.Err)...)
	case PortReopened:
		log.Info("serial: port reopened", append(args, "down", e.Down)...)
	case PortClosed:
		log.Info("serial: port closed", args...)
	}
}

// record hands a completed record to Next's queue.
func (p *tapPort) record(rec []byte, ts int64) {
	if len(rec) > MaxRecord {
		p.dropped.Add(1)
		return
	}
	select {
	case s := <-p.t.free:
		s.n = copy(s.data[:], rec)
		s.ts, s.input = ts, p.input
		p.t.out <- s // never blocks: out holds every slot
		p.records.Add(1)
	default:
		p.dropped.Add(1)
	}
}

// run reads the port until the tap stops, reopening it when it is lost.
func (p *tapPort) run(port Port) {
	t := p.t
	defer t.wg.Done()
	buf := make([]byte, 4096)
	now := func() int64 { return t.opt.Now().UnixNano() }
	var lostAt time.Time
	backoff := t.opt.RetryMin
	failed := false
	for {
		if t.ctx.Err() != nil {
			if port != nil {
				p.framer.Reset(now(), p.emit)
				port.Close()
				p.open.Store(false)
				t.report(Event{Kind: PortClosed, Port: p.cfg.Name, Device: p.cfg.Device})
			}
			return
		}
		if port == nil {
			var err error
			port, err = t.opt.Open(p.cfg)
			if err != nil {
				port = nil
				if !failed {
					failed = true
					t.report(Event{Kind: PortOpenFailed, Port: p.cfg.Name, Device: p.cfg.Device, Err: err})
				}
				select {
				case <-t.ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, t.opt.RetryMax)
				continue
			}
			failed, backoff = false, t.opt.RetryMin
			p.open.Store(true)
			p.reopen.Add(1)
			p.framer.Reset(now(), p.emit)
			t.report(Event{Kind: PortReopened, Port: p.cfg.Name, Device: p.cfg.Device, Down: t.opt.Now().Sub(lostAt)})
		}
		n, err := port.Read(buf)
		ts := now()
		if n > 0 {
			p.reads.Add(1)
			p.bytes.Add(uint64(n))
			p.framer.Feed(ts, buf[:n], p.emit)
		}
		if err != nil {
			p.framer.Reset(ts, p.emit)
			port.Close()
			port = nil
			p.open.Store(false)
			p.losses.Add(1)
			lostAt = t.opt.Now()
			t.report(Event{Kind: PortLost, Port: p.cfg.Name, Device: p.cfg.Device, Err: err})
			continue
		}
		if n == 0 {
			p.framer.Idle(ts, p.emit)
		}
	}
}
