// Package alert holds alerts and groups their repeats. An alert is keyed by
// its kind and the endpoints it concerns (Key); a repeat of the same key
// raises the count of the existing alert instead of a new one. Alert ids are
// deterministic: a hash of the kind, the key and the packet time of the
// first sighting, so the same input always gives the same ids.
//
// Grouped alerts are written again, with the same id, when their count has
// grown: at most once per update interval of packet time while repeats go
// on, and once more at the end (Table.Pending) — grouped, not flooded.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/jsonl"
)

// MaxEvidence is the number of event excerpts an alert keeps.
const MaxEvidence = 4

// Key groups repeats: the kind and the endpoints (normalised by the rule:
// ports and MACs that do not identify the party are cleared).
type Key struct {
	Kind     string
	Src, Dst dissect.Endpoint
}

// Evidence is an excerpt of an event that made or grew the alert, with a
// reference to the packet that completed it.
type Evidence struct {
	TS      int64
	Input   string // the capture file or interface
	Packet  uint64 // frame number within Input, from 1
	Src     string
	Dst     string
	Dir     string
	HasFunc bool
	Func    uint32
	Name    string
	Detail  []byte // the protocol details object (JSON)
}

// Alert is one (grouped) alert.
type Alert struct {
	ID        string
	Kind      string
	Severity  int
	Asset     string
	Src, Dst  string
	Proto     string
	Summary   string
	Attack    []string
	Evidence  []Evidence
	Count     uint64
	FirstSeen int64
	LastSeen  int64

	written   uint64 // Count when last written
	writtenTS int64
}

// AppendJSON appends the alert as an `alert` record (without newline).
func (a *Alert) AppendJSON(b []byte, ts int64, sensor, site string) []byte {
	b = append(b, `{"type":"alert"`...)
	b = jsonl.Time(b, "ts", ts)
	b = jsonl.String(b, "sensor", sensor)
	b = jsonl.String(b, "site", site)
	b = jsonl.String(b, "id", a.ID)
	b = jsonl.String(b, "kind", a.Kind)
	b = jsonl.Int(b, "severity", int64(a.Severity))
	b = jsonl.String(b, "asset", a.Asset)
	b = jsonl.String(b, "src", a.Src)
	b = jsonl.String(b, "dst", a.Dst)
	b = jsonl.String(b, "proto", a.Proto)
	b = jsonl.String(b, "summary", a.Summary)
	if len(a.Attack) > 0 {
		b = append(jsonl.Key(b, "attack"), '[')
		for _, t := range a.Attack {
			b = jsonl.Quote(jsonl.Sep(b), t)
		}
		b = append(b, ']')
	}
	if len(a.Evidence) > 0 {
		b = append(jsonl.Key(b, "evidence"), '[')
		for i := range a.Evidence {
			ev := &a.Evidence[i]
			b = append(jsonl.Sep(b), '{')
			b = jsonl.Time(b, "ts", ev.TS)
			b = jsonl.String(b, "input", ev.Input)
			if ev.Packet > 0 {
				b = jsonl.Uint(b, "packet", ev.Packet)
			}
			b = jsonl.String(b, "src", ev.Src)
			b = jsonl.String(b, "dst", ev.Dst)
			b = jsonl.String(b, "dir", ev.Dir)
			if ev.HasFunc {
				b = jsonl.Uint(b, "func", uint64(ev.Func))
			}
			b = jsonl.String(b, "name", ev.Name)
			if len(ev.Detail) > 0 {
				b = append(jsonl.Key(b, a.Proto), ev.Detail...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = jsonl.Uint(b, "count", a.Count)
	b = jsonl.Time(b, "first_seen", a.FirstSeen)
	b = jsonl.Time(b, "last_seen", a.LastSeen)
	return append(b, '}')
}

// Spec describes a new alert.
type Spec struct {
	Severity int
	Asset    string
	Summary  string
	Attack   []string
}

// Table holds the alerts of a run.
type Table struct {
	byKey    map[Key]*Alert
	order    []*Alert
	interval int64
	inputs   []string
}

// NewTable returns a table that writes grouped alerts again at most every
// interval ns of packet time.
func NewTable(interval int64) *Table {
	return &Table{byKey: make(map[Key]*Alert), interval: interval}
}

// SetInterval changes how often a grouped alert is written again.
func (t *Table) SetInterval(interval int64) { t.interval = interval }

// SetInputs names the inputs that evidence packet references point into.
func (t *Table) SetInputs(names []string) { t.inputs = names }

// Len is the number of alerts.
func (t *Table) Len() int { return len(t.order) }

// All returns the alerts in the order they were raised.
func (t *Table) All() []*Alert { return t.order }

// Has reports whether an alert with key k exists.
func (t *Table) Has(k Key) bool { return t.byKey[k] != nil }

// Raise records n sightings of key, the last caused by ev. spec is called
// only for a new alert. It returns the alert and whether it should be
// written now: new, or grown and not written for an update interval.
func (t *Table) Raise(k Key, ev *dissect.Event, n uint64, spec func() Spec) (*Alert, bool) {
	a := t.byKey[k]
	if a == nil {
		s := spec()
		a = &Alert{
			Kind: k.Kind, Severity: s.Severity, Asset: s.Asset, Summary: s.Summary, Attack: s.Attack,
			Src: k.Src.String(), Dst: k.Dst.String(), Proto: ev.Proto.String(),
			FirstSeen: ev.TS, LastSeen: ev.TS,
		}
		a.ID = makeID(k.Kind, a.Src, a.Dst, a.Asset, ev.TS)
		t.byKey[k] = a
		t.order = append(t.order, a)
	}
	a.Count += n
	if ev.TS > a.LastSeen {
		a.LastSeen = ev.TS
	}
	if len(a.Evidence) < MaxEvidence {
		a.Evidence = append(a.Evidence, t.excerpt(ev))
	}
	if a.written == 0 || (a.Count > a.written && ev.TS-a.writtenTS >= t.interval) {
		a.written, a.writtenTS = a.Count, ev.TS
		return a, true
	}
	return a, false
}

// Pending returns, and marks written, the alerts whose count grew since
// they were last written (for the end of a run).
func (t *Table) Pending() []*Alert {
	var p []*Alert
	for _, a := range t.order {
		if a.Count > a.written {
			a.written, a.writtenTS = a.Count, a.LastSeen
			p = append(p, a)
		}
	}
	return p
}

func (t *Table) excerpt(ev *dissect.Event) Evidence {
	x := Evidence{
		TS: ev.TS, Packet: ev.Packet, Src: ev.Src.String(), Dst: ev.Dst.String(),
		Dir: ev.Dir.String(), HasFunc: ev.HasFunc, Func: ev.Func, Name: ev.Name,
	}
	if ev.Input >= 0 && ev.Input < len(t.inputs) {
		x.Input = t.inputs[ev.Input]
	}
	if ev.Detail != nil {
		x.Detail = ev.Detail.AppendJSON(nil)
	}
	return x
}

func makeID(kind, src, dst, asset string, first int64) string {
	h := sha256.New()
	for _, s := range []string{kind, src, dst, asset, strconv.FormatInt(first, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:10])
}
