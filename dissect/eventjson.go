package dissect

import "github.com/tapwire/tapwire/dissect/jsonl"

// AppendJSON appends the event as one JSON Lines record (BRIEF 3.1) without
// the trailing newline: type first, keys without a value omitted. sensor and
// site are written when configured.
func (e *Event) AppendJSON(b []byte, sensor, site string) []byte {
	b = append(b, `{"type":"event"`...)
	b = jsonl.Time(b, "ts", e.TS)
	b = jsonl.String(b, "sensor", sensor)
	b = jsonl.String(b, "site", site)
	b = jsonl.String(b, "proto", e.Proto.String())
	b = jsonl.String(b, "transport", e.Transport.String())
	if e.Src.Kind != EndpointNone {
		b = append(jsonl.Key(b, "src"), '"')
		b = append(e.Src.AppendText(b), '"')
	}
	if e.Dst.Kind != EndpointNone {
		b = append(jsonl.Key(b, "dst"), '"')
		b = append(e.Dst.AppendText(b), '"')
	}
	b = jsonl.String(b, "dir", e.Dir.String())
	if e.HasFunc {
		b = jsonl.Uint(b, "func", uint64(e.Func))
	}
	b = jsonl.String(b, "name", e.Name)
	b = jsonl.String(b, "op", e.Op.String())
	b = jsonl.Bool(b, "ok", e.OK)
	b = jsonl.String(b, "error", e.Error)
	if e.Detail != nil {
		b = jsonl.Key(b, e.Proto.String())
		b = e.Detail.AppendJSON(b)
	}
	return append(b, '}')
}
