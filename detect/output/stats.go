package output

import (
	"sort"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/jsonl"
)

// InputStats is what one input (capture file, interface, serial port)
// delivered.
type InputStats struct {
	Name    string
	Kind    string // file (omitted), interface, serial
	Packets uint64
	Drops   uint64   // lost before the sensor saw them (kernel ring drops)
	Error   string   // why reading stopped early
	Link    string   // interfaces: up, down, absent
	Refused []string // interfaces: offloads the NIC would not switch off
	// Extra are further counters of the input (ring truncations and
	// freezes, serial CRC errors…), written in key order.
	Extra map[string]uint64
}

// Stats is the content of a `stats` record: the counters of every stage.
type Stats struct {
	TS       int64 // packet time of the last packet
	Dissect  dissect.Stats
	Events   [dissect.NumProtos]uint64
	Assets   int
	Alerts   int
	Inputs   []InputStats
	Mode     string
	LearnEnd int64 // auto mode: end of the learning window
	Dropped  uint64
	// Serial are the serial lines' framing counters (RTU records, CRC
	// errors, truncated frames, noise), written under "serial" in key
	// order when there were serial lines.
	Serial map[string]uint64
}

// Stats writes a stats record.
func (w *Writer) Stats(s *Stats) {
	w.Raw(EmitStats, func(b []byte) []byte {
		d := &s.Dissect
		b = w.Header(b, "stats", s.TS)
		b = jsonl.Uint(b, "packets", d.Packets)
		b = jsonl.Uint(b, "bytes", d.Bytes)
		var drops uint64
		for _, in := range s.Inputs {
			drops += in.Drops
		}
		b = jsonl.Uint(b, "drops", drops)
		b = appendProtoCounts(b, "events", &s.Events)
		var pduErrs uint64
		for _, n := range d.PDUErrors {
			pduErrs += n
		}
		b = jsonl.Uint(b, "decode_errors", d.DecodeErrors+pduErrs)
		b = append(jsonl.Key(b, "decode"), '{')
		b = jsonl.Uint(b, "malformed_frames", d.DecodeErrors)
		b = jsonl.Uint(b, "truncated_frames", d.Truncated)
		b = jsonl.Uint(b, "not_ip", d.NotIP)
		b = jsonl.Uint(b, "unsupported_link", d.UnsupportedLink)
		b = appendProtoCounts(b, "pdu_errors", &d.PDUErrors)
		b = jsonl.Uint(b, "udp_invalid", d.UDPInvalid)
		b = jsonl.Uint(b, "panics", d.Panics)
		b = append(b, '}')
		b = append(jsonl.Key(b, "flows"), '{')
		b = jsonl.Uint(b, "created", d.FlowsCreated)
		b = jsonl.Int(b, "active", int64(d.FlowsActive))
		b = jsonl.Uint(b, "expired", d.FlowsExpired)
		b = jsonl.Uint(b, "evicted", d.FlowsEvicted)
		b = append(b, '}')
		b = append(jsonl.Key(b, "tcp"), '{')
		b = jsonl.Uint(b, "retransmitted", d.TCPRetransmitted)
		b = jsonl.Uint(b, "overlaps", d.TCPOverlaps)
		b = jsonl.Uint(b, "out_of_order", d.TCPOutOfOrder)
		b = jsonl.Uint(b, "gaps", d.TCPGaps)
		b = jsonl.Uint(b, "lost_bytes", d.TCPLostBytes)
		b = jsonl.Uint(b, "truncated_segments", d.TruncatedSegments)
		b = jsonl.Uint(b, "partial_pdus_lost", d.PartialPDUsLost)
		b = jsonl.Uint(b, "resyncs", d.Resyncs)
		b = jsonl.Uint(b, "resync_skipped_bytes", d.ResyncSkippedBytes)
		b = jsonl.Uint(b, "framing_errors", d.FramingErrors)
		b = append(b, '}')
		if len(s.Serial) > 0 {
			b = append(appendCounters(append(jsonl.Key(b, "serial"), '{'), s.Serial), '}')
		}
		b = jsonl.Int(b, "assets", int64(s.Assets))
		b = jsonl.Int(b, "alerts", int64(s.Alerts))
		b = jsonl.String(b, "mode", s.Mode)
		b = jsonl.Time(b, "learning_until", s.LearnEnd)
		if s.Dropped > 0 {
			b = jsonl.Uint(b, "records_dropped", s.Dropped)
		}
		if len(s.Inputs) > 0 {
			b = append(jsonl.Key(b, "inputs"), '[')
			for _, in := range s.Inputs {
				b = append(jsonl.Sep(b), '{')
				b = jsonl.String(b, "name", in.Name)
				b = jsonl.String(b, "kind", in.Kind)
				b = jsonl.Uint(b, "packets", in.Packets)
				if in.Drops > 0 || in.Kind == "interface" {
					b = jsonl.Uint(b, "drops", in.Drops)
				}
				b = jsonl.String(b, "error", in.Error)
				b = jsonl.String(b, "link", in.Link)
				if len(in.Refused) > 0 {
					b = append(jsonl.Key(b, "offloads_refused"), '[')
					for _, r := range in.Refused {
						b = jsonl.Quote(jsonl.Sep(b), r)
					}
					b = append(b, ']')
				}
				b = append(appendCounters(b, in.Extra), '}')
			}
			b = append(b, ']')
		}
		return append(b, '}')
	})
}

// appendCounters appends the counters of m as keys, in key order.
func appendCounters(b []byte, m map[string]uint64) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = jsonl.Uint(b, k, m[k])
	}
	return b
}

func appendProtoCounts(b []byte, key string, c *[dissect.NumProtos]uint64) []byte {
	b = append(jsonl.Key(b, key), '{')
	for p := 1; p < dissect.NumProtos; p++ {
		if c[p] > 0 {
			b = jsonl.Uint(b, dissect.Proto(p).String(), c[p])
		}
	}
	return append(b, '}')
}
