// Package output writes the sensor's JSON Lines records (BRIEF 3.1):
// `event`, `asset`, `alert`, `risk` and `stats`, one object per line, key
// `type` first, keys without a value omitted. The record types written are
// chosen with an Emit mask (--emit). Records are appended into one reused
// buffer and written through a buffered writer: writing an event allocates
// nothing. A write error (a full disk, a closed pipe) is kept and returned by
// Flush and Err; records after it are dropped and counted.
package output

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/tapwire/tapwire/detect/alert"
	"github.com/tapwire/tapwire/detect/inventory"
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/jsonl"
)

// Emit is a set of record types.
type Emit uint8

// Record types.
const (
	EmitEvent Emit = 1 << iota
	EmitAsset
	EmitAlert
	EmitRisk
	EmitStats

	EmitAll = EmitEvent | EmitAsset | EmitAlert | EmitRisk | EmitStats
)

var emitNames = []struct {
	name string
	e    Emit
}{{"event", EmitEvent}, {"asset", EmitAsset}, {"alert", EmitAlert}, {"risk", EmitRisk}, {"stats", EmitStats}}

// ParseEmit parses a comma-separated list of record types ("event,alert").
func ParseEmit(s string) (Emit, error) {
	var e Emit
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		found := false
		for _, n := range emitNames {
			if n.name == f {
				e |= n.e
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown record type %q (want a list of event, asset, alert, risk, stats)", f)
		}
	}
	if e == 0 {
		return 0, fmt.Errorf("empty record type list (want a list of event, asset, alert, risk, stats)")
	}
	return e, nil
}

// String lists the types in e.
func (e Emit) String() string {
	var s []string
	for _, n := range emitNames {
		if e&n.e != 0 {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// Writer writes records.
type Writer struct {
	w       *bufio.Writer
	buf     []byte
	emit    Emit
	sensor  string
	site    string
	err     error
	dropped uint64
	written uint64
}

// NewWriter writes the record types in emit to w, with sensor and site
// (either may be empty) in every record.
func NewWriter(w io.Writer, emit Emit, sensor, site string) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 256<<10), buf: make([]byte, 0, 4096), emit: emit, sensor: sensor, site: site}
}

// Reset points the writer at w with a new set of record types (a reopened
// output file after SIGHUP), flushing what the old writer held first. A
// write error of the old output is cleared.
func (w *Writer) Reset(out io.Writer, emit Emit) error {
	err := w.Flush()
	w.w.Reset(out)
	w.emit = emit
	w.err = nil
	return err
}

// Wants reports whether records of type t are written.
func (w *Writer) Wants(t Emit) bool { return w.emit&t != 0 }

// Sensor and Site are the names written into records.
func (w *Writer) Sensor() string { return w.sensor }
func (w *Writer) Site() string   { return w.site }

func (w *Writer) line() {
	w.buf = append(w.buf, '\n')
	if w.err != nil {
		w.dropped++
		return
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = err
		w.dropped++
		return
	}
	w.written++
}

// Event writes an event record.
func (w *Writer) Event(e *dissect.Event) {
	if w.emit&EmitEvent == 0 {
		return
	}
	w.buf = e.AppendJSON(w.buf[:0], w.sensor, w.site)
	w.line()
}

// Asset writes an asset record stamped ts.
func (w *Writer) Asset(a *inventory.Asset, ts int64) {
	if w.emit&EmitAsset == 0 {
		return
	}
	w.buf = a.AppendJSON(w.buf[:0], ts, w.sensor, w.site)
	w.line()
}

// Alert writes an alert record stamped ts.
func (w *Writer) Alert(a *alert.Alert, ts int64) {
	if w.emit&EmitAlert == 0 {
		return
	}
	w.buf = a.AppendJSON(w.buf[:0], ts, w.sensor, w.site)
	w.line()
}

// Raw writes a record already encoded by appendRecord (which must append
// one JSON object) if type t is wanted.
func (w *Writer) Raw(t Emit, appendRecord func(b []byte) []byte) {
	if w.emit&t == 0 {
		return
	}
	w.buf = appendRecord(w.buf[:0])
	w.line()
}

// Header appends the common start of a record of the given type: type, ts,
// sensor, site.
func (w *Writer) Header(b []byte, typ string, ts int64) []byte {
	b = append(b, `{"type":`...)
	b = jsonl.Quote(b, typ)
	b = jsonl.Time(b, "ts", ts)
	b = jsonl.String(b, "sensor", w.sensor)
	return jsonl.String(b, "site", w.site)
}

// Flush writes buffered records out and returns the first write error.
func (w *Writer) Flush() error {
	if w.err == nil {
		if err := w.w.Flush(); err != nil {
			w.err = err
		}
	}
	return w.err
}

// Err is the first write error.
func (w *Writer) Err() error { return w.err }

// Dropped is the number of records lost after a write error.
func (w *Writer) Dropped() uint64 { return w.dropped }
