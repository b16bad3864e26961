//go:build linux

package modbus_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/serial"
	"github.com/tapwire/tapwire/drivers/testenv"
)

// The serial tap on real pseudo-terminals: the simulated line is written
// into the master side byte by byte, each byte at its time (a character
// time apart, real silences between frames, or none), and the tap reads
// the slave side with tarm/serial, as it reads /dev/ttyS1. Every valid
// frame must become an event, every fault be counted, and the capture the
// sensor writes must read the same in sensor read and in tshark.

// ptyWriter replays a line into a pseudo-terminal's master side and notes
// when each transmission's last byte was written, and which were slowed
// (a pause within a frame as long as the silence that ends frames, from
// the scheduler: the line then really had a silence inside a frame).
type ptyWriter struct {
	l      *simLine
	ends   []int64 // wall time of each transmission's last byte: written by then
	sent   []int64 // and not written before then
	broken []bool  // a silence within the transmission
}

// waitUntil sleeps, then spins, until the wall clock reaches t.
func waitUntil(t time.Time) {
	if d := time.Until(t); d > 300*time.Microsecond {
		time.Sleep(d - 200*time.Microsecond)
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (w *ptyWriter) run(m *os.File, start time.Time) error {
	l := w.l
	w.ends = make([]int64, len(l.tx))
	w.sent = make([]int64, len(l.tx))
	w.broken = make([]bool, len(l.tx))
	base := l.tx[0].end - int64(len(l.tx[0].data))*l.ct - l.tx[0].gap
	var last time.Time
	for i, tx := range l.tx {
		for j := range tx.data {
			// Byte j is on the wire at end - (len-1-j) character times;
			// it is written when it has arrived, and never sooner than
			// a character time after the byte before it (a writer that
			// fell behind does not catch up faster than the line could).
			at := start.Add(time.Duration(tx.end - int64(len(tx.data)-1-j)*l.ct - base))
			if !last.IsZero() {
				at = maxTime(at, last.Add(time.Duration(l.ct)))
			}
			waitUntil(at)
			before := time.Now()
			if _, err := m.Write(tx.data[j : j+1]); err != nil {
				return err
			}
			now := time.Now()
			if j == len(tx.data)-1 {
				w.sent[i] = before.UnixNano()
			}
			if j > 0 && now.Sub(last) >= time.Duration(l.t35) {
				w.broken[i] = true
			}
			last = now
		}
		w.ends[i] = last.UnixNano()
	}
	return nil
}

type ptyCase struct {
	name string
	opt  simOpts
}

func TestRTUPTY(t *testing.T) {
	cases := []ptyCase{
		{"9600 8E1 paced", simOpts{baud: 9600, exchanges: 60, faults: true, seed: 11}},
		{"115200 8N1 paced", simOpts{baud: 115200, charBits: 10, exchanges: 150, faults: true, seed: 12}},
		{"115200 8N1 back to back", simOpts{baud: 115200, charBits: 10, backToBack: true, exchanges: 150, faults: true, seed: 13}},
		{"9600 8E1 back to back", simOpts{baud: 9600, backToBack: true, exchanges: 40, faults: true, seed: 14}},
	}
	start := time.Now()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runPTY(t, tc) })
	}
	t.Logf("pseudo-terminal tests took %v", time.Since(start).Round(time.Millisecond))
}

func runPTY(t *testing.T, tc ptyCase) {
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer m.Close()
	defer s.Close()

	l := simulate(tc.opt, 0)
	cfg := serial.Config{Device: s.Name(), Name: "ttyRTU", Baud: tc.opt.baud}
	if tc.opt.charBits == 10 {
		cfg.Parity = serial.ParityNone
	}
	if want := max(tc.opt.charBits, 11*(1-min(tc.opt.charBits, 1))); cfg.CharBits() != want {
		t.Fatalf("line settings %v: %d bits per character, the simulation %d", cfg, cfg.CharBits(), want)
	}
	var rec *modbus.RTURecorder
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tap, err := serial.Open(ctx, []serial.Config{cfg}, serial.Options{
		NewFramer: func(c serial.Config) serial.Framer {
			rec = modbus.NewRTURecorder(modbus.RTUConfig{Baud: c.Baud, CharBits: c.CharBits()})
			return rec
		},
		Report: func(e serial.Event) {
			if e.Kind != serial.PortOpened && e.Kind != serial.PortClosed {
				t.Errorf("port event %s: %v", e.Kind, e.Err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The sensor: the tap's frames through the engine with the RTU
	// handler, and into a capture.
	path := filepath.Join(t.TempDir(), "live.pcapng")
	capFile, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer capFile.Close()
	capw, err := serial.NewCapture(capFile, tap.Configs())
	if err != nil {
		t.Fatal(err)
	}
	var live []rtuEvent
	sink := dissect.SinkFunc(func(b *dissect.Batch) {
		for i := range b.Events {
			live = append(live, eventOf(t, &b.Events[i]))
		}
	})
	eng := dissect.NewEngine(dissect.Config{}, []dissect.Dissector{modbus.New()}, sink)
	h := modbus.NewRTUHandler(tap.Ports())
	eng.HandleLink(drivers.LinkRTACSerial, h)
	done := make(chan error, 1)
	go func() {
		var f drivers.Frame
		for {
			err := tap.Next(&f)
			if errors.Is(err, io.EOF) {
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
			eng.Packet(&f)
			if err := capw.WriteFrame(f.Input, &f); err != nil {
				done <- err
				return
			}
		}
	}()

	// The line.
	w := &ptyWriter{l: l}
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		werr = w.run(m, time.Now().Add(20*time.Millisecond))
	}()
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	// Let the tap see the line go quiet, then stop it.
	time.Sleep(3 * serial.ReadTimeout)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tap.Close()
	eng.Close()
	if err := capw.Flush(); err != nil {
		t.Fatal(err)
	}
	st := rec.Stats()

	// Valid frames slowed down by the scheduler inside (a real silence
	// in the middle of the frame) may be lost; no other.
	want := wantEvents(l, "ttyRTU")
	var excused []int
	var sent []int64
	vi := 0
	for i, tx := range l.tx {
		if tx.kind != modbus.RTUADU {
			continue
		}
		want[vi].ts = w.ends[i]
		sent = append(sent, w.sent[i])
		if w.broken[i] {
			excused = append(excused, vi)
		}
		vi++
	}
	want, sent, lostOK := dropExcused(live, want, sent, excused)
	t.Logf("%d frames (%d slowed down inside by the scheduler, %d of those lost), %d CRC errors, %d truncated, %d noise bytes injected; framer %+v",
		len(l.valid()), len(excused), lostOK, l.crcErrs, l.truncs, l.noiseBytes, st)
	compareEvents(t, "live", live, want, false)
	// The event's time is the arrival of the frame's last byte as the tap
	// estimated it: late by the read's latency (the scheduler's, here),
	// never early.
	var worst time.Duration
	for i, e := range live {
		d := time.Duration(e.ts - want[i].ts)
		worst = max(worst, d)
		if e.ts < sent[i]-int64(time.Millisecond) || d > 250*time.Millisecond {
			t.Errorf("event %d (%v): time %v from its last byte's write (%v after the write began)", i, e, d, time.Duration(e.ts-sent[i]))
		}
	}
	t.Logf("event times: at most %v after the last byte's write", worst)
	if lostOK == 0 {
		// Every byte of a fault is skipped, and no other. The pieces they
		// are counted in follow the silences the tap measured, which the
		// scheduler blurs: a fault may share a piece with noise next to
		// it, or a late read split one.
		if int(st.SkippedBytes) != l.faultBytes() {
			t.Errorf("framer skipped %d bytes; the faults hold %d", st.SkippedBytes, l.faultBytes())
		}
		// A fault the writer was slowed down in may count as two.
		slowed := 0
		for i, tx := range l.tx {
			if w.broken[i] && tx.kind != modbus.RTUADU {
				slowed++
			}
		}
		corrupt, counted := l.crcErrs+l.truncs, int(st.CRCErrors+st.Truncated)
		if d := counted - corrupt; d < -max(1, corrupt/10) || d > slowed+max(1, corrupt/10) {
			t.Errorf("framer counted %d corrupt frames; %d were injected (%d faults slowed down)", counted, corrupt, slowed)
		}
	}
	if hs := h.Stats(); hs.ADUs != st.Frames || hs.Invalid != 0 || hs.CRCErrors != st.CRCErrors || hs.Truncated != st.Truncated {
		t.Errorf("handler %+v, framer %+v", hs, st)
	}

	// The capture: sensor read and tshark read what the sensor saw.
	read, _ := readEvents(t, path)
	compareEvents(t, "sensor read of the capture", read, live, true)
	tshark := testenv.Tool(t, "tshark") // skips here without it (fails under CI)
	compareEvents(t, "tshark", tsharkEvents(t, tshark, path), live, false)
}

// dropExcused removes from want (and sent) the excused frames that live
// lacks (they were lost to a real silence within them), matching in order.
func dropExcused(live, want []rtuEvent, sent []int64, excused []int) ([]rtuEvent, []int64, int) {
	if len(excused) == 0 {
		return want, sent, 0
	}
	ex := map[int]bool{}
	for _, i := range excused {
		ex[i] = true
	}
	var out []rtuEvent
	var outSent []int64
	lost := 0
	li := 0
	for wi, w := range want {
		g, x := w, rtuEvent{}
		if li < len(live) {
			x = live[li]
		}
		g.ts, x.ts = 0, 0
		if ex[wi] && (li >= len(live) || g != x) {
			lost++
			continue
		}
		out = append(out, w)
		outSent = append(outSent, sent[wi])
		li++
	}
	return out, outSent, lost
}
