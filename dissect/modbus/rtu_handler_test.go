package modbus

import (
	"strings"
	"testing"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/drivers"
)

// rtuRecord makes a capture record of fr (kind, dir, data) at ts.
func rtuRecord(kind RTUKind, dir dissect.Dir, data []byte, ts int64) []byte {
	return AppendRTURecord(nil, &RTUFrame{Kind: kind, Dir: dir, Data: data, TS: ts})
}

func TestRTURecord(t *testing.T) {
	ts := int64(1767225600123456789)
	rec := rtuRecord(RTUADU, dissect.DirResponse, rdResp, ts)
	want := unhex(`
		6955 B900 | 0001 E240 | 04 | 00 | 0000`) // 1767225600 s, 123456 µs, DATA_RX_END, control lines, footer
	if got := rec[:RTURecordHeaderLen]; string(got) != string(want) {
		t.Fatalf("header % x, want % x", got, want)
	}
	for _, tc := range []struct {
		kind RTUKind
		dir  dissect.Dir
		ev   byte
	}{
		{RTUADU, dissect.DirRequest, 0x03}, // DATA_TX_END
		{RTUADU, dissect.DirResponse, 0x04},
		{RTUCRCError, 0, 0x07},  // FRAMING_ERROR
		{RTUTruncated, 0, 0x05}, // CAPTURE_DATA_LOST
		{RTUNoise, 0, 0x08},     // PARITY_ERROR
	} {
		rec := rtuRecord(tc.kind, tc.dir, rdReq, ts)
		if rec[8] != tc.ev {
			t.Errorf("%s %s: event type %#x, want %#x", tc.kind, tc.dir, rec[8], tc.ev)
		}
		k, d, data, ok := ParseRTURecord(rec)
		if !ok || k != tc.kind || d != tc.dir || string(data) != string(rdReq) {
			t.Errorf("%s %s: parsed %s %s % x %v", tc.kind, tc.dir, k, d, data, ok)
		}
	}
	if _, _, _, ok := ParseRTURecord(rec[:11]); ok {
		t.Error("a record shorter than its header parsed")
	}
	if _, _, _, ok := ParseRTURecord(append(rec[:8:8], 0x09, 0, 0, 0)); ok {
		t.Error("a serial break event parsed as data")
	}
}

// handlerRun feeds records to a handler through a dissect.Context and
// returns the events as text and the details as JSON.
type handlerRun struct {
	h   *RTUHandler
	b   *dissect.Batch
	c   *dissect.Context
	pkt uint64
}

func newHandlerRun(ports []string) *handlerRun {
	r := &handlerRun{h: NewRTUHandler(ports), b: dissect.NewBatch()}
	r.c = dissect.NewContext(r.b, nil)
	return r
}

func (r *handlerRun) frame(input int, rec []byte, ts int64) string {
	r.pkt++
	n := r.b.Len()
	f := drivers.Frame{Data: rec, TS: ts, OrigLen: len(rec), Link: drivers.LinkRTACSerial, Input: input}
	r.h.Frame(r.c, &f, r.pkt)
	if r.b.Len() == n {
		return ""
	}
	e := &r.b.Events[r.b.Len()-1]
	s := e.Transport.String() + " " + e.Dir.String() + " " + e.Src.String() + " > " + e.Dst.String() + " " + e.Name
	if !e.OK {
		s += " " + e.Error
	}
	return s + " " + string(e.Detail.AppendJSON(nil))
}

func TestRTUHandler(t *testing.T) {
	r := newHandlerRun([]string{"ttyS1", "line2"})
	ts := int64(1767225600e9)
	steps := []struct {
		input int
		rec   []byte
		want  string
	}{
		{0, rtuRecord(RTUADU, dissect.DirRequest, rdReq, ts),
			`rtu request serial:ttyS1/master > serial:ttyS1/17 read_holding_registers {"unit":17,"address":107,"quantity":3}`},
		{0, rtuRecord(RTUADU, dissect.DirResponse, rdResp, ts),
			// The response takes the request's address and quantity.
			`rtu response serial:ttyS1/17 > serial:ttyS1/master read_holding_registers {"unit":17,"address":107,"quantity":3,"byte_count":6}`},
		{1, rtuRecord(RTUADU, dissect.DirRequest, rdReq, ts),
			`rtu request serial:line2/master > serial:line2/17 read_holding_registers {"unit":17,"address":107,"quantity":3}`},
		{1, rtuRecord(RTUADU, dissect.DirResponse, rdExc, ts),
			`rtu response serial:line2/17 > serial:line2/master read_holding_registers illegal_data_address {"unit":17,"address":107,"quantity":3,"exception_code":2}`},
		{0, rtuRecord(RTUADU, dissect.DirRequest, bcast, ts),
			`rtu request serial:ttyS1/master > serial:ttyS1/0 write_multiple_registers {"unit":0,"address":1,"quantity":2,"byte_count":4}`},
		// Pairing is per port: a response on ttyS1 without a request there.
		{0, rtuRecord(RTUADU, dissect.DirResponse, rdExc, ts),
			`rtu response serial:ttyS1/17 > serial:ttyS1/master read_holding_registers illegal_data_address {"unit":17,"exception_code":2,"unmatched":true}`},
		// An input the names do not cover.
		{3, rtuRecord(RTUADU, dissect.DirRequest, wrReg, ts),
			`rtu request serial:port3/master > serial:port3/17 write_single_register {"unit":17,"address":1,"value":3}`},
		{0, rtuRecord(RTUCRCError, 0, badCRC(rdReq), ts), ""},
		{0, rtuRecord(RTUTruncated, 0, rdReq[:3], ts), ""},
		{0, rtuRecord(RTUNoise, 0, unhex("FFFE"), ts), ""},
		// An ADU record whose CRC fails, or too short: invalid.
		{0, rtuRecord(RTUADU, dissect.DirRequest, badCRC(rdReq), ts), ""},
		{0, rtuRecord(RTUADU, dissect.DirRequest, unhex("1103"), ts), ""},
		{0, rtuRecord(RTUADU, dissect.DirRequest, rtuADU("F8 03 0000 0001"), ts), ""},
	}
	for i, s := range steps {
		if got := r.frame(s.input, s.rec, ts); got != s.want {
			t.Errorf("step %d:\n got %s\nwant %s", i, got, s.want)
		}
	}
	want := RTUHandlerStats{Records: uint64(len(steps)), ADUs: 7, CRCErrors: 1, Truncated: 1, Noise: 1, NoiseBytes: 2, Invalid: 3}
	if st := r.h.Stats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if got := strings.Join(r.h.Ports(), " "); got != "ttyS1 line2 port3" {
		t.Errorf("Ports() = %s", got)
	}
	ev := r.b.Events[0]
	if ev.FlowID != rtuFlowBase || ev.Input != 0 || ev.Packet != 1 || ev.TS != ts || ev.Proto != dissect.ProtoModbus {
		t.Errorf("first event %+v", ev)
	}
}

func TestRTUHandlerNamer(t *testing.T) {
	r := newHandlerRun([]string{"ttyS1"})
	name := "rs485-east"
	r.h.SetPortNamer(func(*drivers.Frame) string { return name })
	ts := int64(1767225600e9)
	if got := r.frame(0, rtuRecord(RTUADU, dissect.DirRequest, rdReq, ts), ts); !strings.Contains(got, "serial:rs485-east/master > serial:rs485-east/17") {
		t.Errorf("named: %s", got)
	}
	name = "" // a capture interface without a name: the names by input
	if got := r.frame(0, rtuRecord(RTUADU, dissect.DirRequest, rdReq, ts), ts); !strings.Contains(got, "serial:ttyS1/master") {
		t.Errorf("unnamed: %s", got)
	}
}

// TestRTUHandlerAllocs: decoding a record allocates nothing once its port
// is known.
func TestRTUHandlerAllocs(t *testing.T) {
	r := newHandlerRun([]string{"ttyS1"})
	ts := int64(1767225600e9)
	recs := [][]byte{
		rtuRecord(RTUADU, dissect.DirRequest, rdReq, ts), rtuRecord(RTUADU, dissect.DirResponse, rdResp, ts),
		rtuRecord(RTUADU, dissect.DirRequest, devIDReq, ts), rtuRecord(RTUADU, dissect.DirResponse, devIDResp, ts),
		rtuRecord(RTUADU, dissect.DirRequest, wrReg, ts), rtuRecord(RTUADU, dissect.DirResponse, wrReg, ts),
		rtuRecord(RTUNoise, 0, unhex("FF"), ts),
	}
	f := drivers.Frame{Link: drivers.LinkRTACSerial, TS: ts}
	run := func() {
		for _, rec := range recs {
			f.Data = rec
			if r.b.Full() {
				r.c.Flush()
			}
			r.h.Frame(r.c, &f, 1)
		}
	}
	for range 200 {
		run() // grow the slab and the arena
	}
	if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
		t.Errorf("%v allocations per %d records, want 0", allocs, len(recs))
	}
}

// TestRTURecorderAllocs: the serial tap's framer allocates nothing.
func TestRTURecorderAllocs(t *testing.T) {
	stream := cat(rdReq, rdResp, wrReg, wrReg, unhex("FFFF"), bcast, coilReq, coilResp, badCRC(rdReq), devIDReq, devIDResp, rdReq[:4], rdReq, rdExc)
	rec := NewRTURecorder(RTUConfig{Baud: 9600})
	n := 0
	emit := func(b []byte, ts int64) { n += len(b) }
	ts := int64(1767225600e9)
	if allocs := testing.AllocsPerRun(200, func() {
		for i := 0; i < len(stream); i += 7 {
			ts += 3e6
			rec.Feed(ts, stream[i:min(i+7, len(stream))], emit)
		}
		rec.Idle(ts, emit)
	}); allocs != 0 {
		t.Errorf("%v allocations per stream, want 0", allocs)
	}
	if n == 0 {
		t.Fatal("no records")
	}
}

func BenchmarkRTUHandler(b *testing.B) {
	r := newHandlerRun([]string{"ttyS1"})
	ts := int64(1767225600e9)
	recs := [][]byte{
		rtuRecord(RTUADU, dissect.DirRequest, rdReq, ts), rtuRecord(RTUADU, dissect.DirResponse, rdResp, ts),
		rtuRecord(RTUADU, dissect.DirRequest, wrReg, ts), rtuRecord(RTUADU, dissect.DirResponse, wrReg, ts),
	}
	f := drivers.Frame{Link: drivers.LinkRTACSerial, TS: ts}
	b.ReportAllocs()
	for b.Loop() {
		for _, rec := range recs {
			f.Data = rec
			if r.b.Full() {
				r.c.Flush()
			}
			r.h.Frame(r.c, &f, 1)
		}
	}
}
