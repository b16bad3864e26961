package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

func TestParseEmit(t *testing.T) {
	tests := []struct {
		in   string
		want Emit
		err  bool
	}{
		{"event,asset,alert,risk,stats", EmitAll, false},
		{"alert, stats", EmitAlert | EmitStats, false},
		{"alert,alert", EmitAlert, false},
		{"", 0, true},
		{"alerts", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseEmit(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseEmit(%q) = %v, %v", tt.in, got, err)
		}
	}
	if EmitAll.String() != "event,asset,alert,risk,stats" {
		t.Errorf("String() = %s", EmitAll.String())
	}
}

func TestStatsRecord(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b, EmitStats|EmitEvent, "s1", "plant")
	var s Stats
	s.TS = 1767225600e9
	s.Dissect.Packets = 10
	s.Events[dissect.ProtoModbus] = 4
	s.Inputs = []InputStats{{Name: "a.pcap", Packets: 10}, {Name: "b.pcap", Error: "b.pcap: cut short"}}
	s.Mode = "auto"
	w.Stats(&s)
	w.Event(&dissect.Event{TS: 1, Proto: dissect.ProtoModbus, OK: true})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	if m["type"] != "stats" || m["sensor"] != "s1" || m["site"] != "plant" || m["packets"] != 10.0 ||
		m["events"].(map[string]any)["modbus"] != 4.0 || len(m["inputs"].([]any)) != 2 {
		t.Errorf("stats record %s", lines[0])
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("no space left on device")
}

func TestWriteErrorKeptAndCounted(t *testing.T) {
	fw := &failWriter{}
	w := NewWriter(fw, EmitEvent, "", "")
	big := &dissect.Event{TS: 1, Proto: dissect.ProtoModbus, OK: true, Name: strings.Repeat("x", 300<<10)}
	w.Event(big) // larger than the buffer: written through, fails
	w.Event(big)
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("Flush error %v", err)
	}
	if w.Dropped() != 2 {
		t.Errorf("dropped %d, want 2", w.Dropped())
	}
}
