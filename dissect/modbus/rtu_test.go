package modbus

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

// Framer tests. Fixtures are written as hex with the fields apart; rtuADU
// appends the CRC, so a fixture's CRC is right unless the test breaks it.

func TestCRC16(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint16
	}{
		// Modbus over Serial Line V1.02, 6.2.2: the CRC of the frame
		// 02 07 is 0x1241, sent 41 12.
		{"spec example 02 07", []byte{0x02, 0x07}, 0x1241},
		// The CRC-16/MODBUS check value.
		{"check value", []byte("123456789"), 0x4B37},
		// Read Holding Registers of slave 17 from 108, 3 registers
		// (Modbus Application Protocol V1.1b3, 6.3, with address 0x11):
		// 11 03 00 6B 00 03 | 76 87.
		{"read holding registers", []byte{0x11, 0x03, 0x00, 0x6B, 0x00, 0x03}, 0x8776},
		// 01 03 00 00 00 0A | C5 CD, the first frame of many RTU guides.
		{"read 10 registers", []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A}, 0xCDC5},
		{"empty", nil, 0xFFFF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CRC16(tt.in); got != tt.want {
				t.Errorf("CRC16(% x) = %#04x, want %#04x", tt.in, got, tt.want)
			}
			adu := AppendCRC16(append([]byte(nil), tt.in...))
			if adu[len(adu)-2] != byte(tt.want) || adu[len(adu)-1] != byte(tt.want>>8) {
				t.Errorf("AppendCRC16: % x, want the CRC low byte first", adu)
			}
			if len(tt.in) > 0 && !crcOK(adu) {
				t.Errorf("crcOK(% x) = false", adu)
			}
		})
	}
}

// rtuADU parses hex (spaces and | ignored) and appends the CRC.
func rtuADU(s string) []byte {
	return AppendCRC16(unhex(s))
}

func unhex(s string) []byte {
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// badCRC returns adu with its CRC broken.
func badCRC(adu []byte) []byte {
	b := append([]byte(nil), adu...)
	b[len(b)-1] ^= 0x5A
	return b
}

// got is what a framer handed on, as text: "kind dir hex".
type got struct {
	kind RTUKind
	dir  dissect.Dir
	data string
	ts   int64
}

func (g got) String() string {
	if g.kind == RTUADU {
		return fmt.Sprintf("%s %s %s", g.kind, g.dir, g.data)
	}
	return fmt.Sprintf("%s %s", g.kind, g.data)
}

// collector gathers a framer's output.
type collector struct{ out []got }

func (c *collector) emit(fr *RTUFrame) {
	c.out = append(c.out, got{fr.Kind, fr.Dir, hex.EncodeToString(fr.Data), fr.TS})
}

func (c *collector) strings() []string {
	s := make([]string, len(c.out))
	for i, g := range c.out {
		s[i] = g.String()
	}
	return s
}

// frameAll feeds chunks (all at time 0, no baud rate: no silence) and
// ends with Idle.
func frameAll(chunks ...[]byte) []string {
	f := NewRTUFramer(RTUConfig{})
	var c collector
	for _, p := range chunks {
		f.Feed(0, p, c.emit)
	}
	f.Idle(0, c.emit)
	return c.strings()
}

func wantReq(b []byte) string          { return "adu request " + hex.EncodeToString(b) }
func wantResp(b []byte) string         { return "adu response " + hex.EncodeToString(b) }
func piece(k RTUKind, b []byte) string { return k.String() + " " + hex.EncodeToString(b) }

// Fixtures.
var (
	// 11 | 03 | 00 6B | 00 03: slave 17, read holding registers 108..110.
	rdReq = rtuADU("11 | 03 | 006B | 0003")
	// 11 | 03 | 06 | 022B 0000 0064: byte count 6, three registers.
	rdResp = rtuADU("11 | 03 | 06 | 022B 0000 0064")
	// 11 | 06 | 0001 | 0003: write 3 to register 1; the response echoes.
	wrReg = rtuADU("11 | 06 | 0001 | 0003")
	// 11 | 83 | 02: exception illegal data address.
	rdExc = rtuADU("11 | 83 | 02")
	// 00 | 10 | 0001 | 0002 | 04 | 000A 0102: broadcast write of two registers.
	bcast = rtuADU("00 | 10 | 0001 | 0002 | 04 | 000A 0102")
	// 11 | 10 | 0001 | 0002: its unicast response form.
	wrRegsResp = rtuADU("11 | 10 | 0001 | 0002")
	// 0B | 01 | 001D | 0011: read 17 coils from 29, slave 11 (8 bytes).
	coilReq = rtuADU("0B | 01 | 001D | 0011")
	// 0B | 01 | 03 | CD 6B 01: 3 bytes of coils — the same length as
	// a request, and also valid as one (address 0x03CD, quantity 0x6B01...
	// no: quantity is out of range but the length rule does not check it).
	coilResp = rtuADU("0B | 01 | 03 | CD6B01")
	// 05 | 2B | 0E | 01 | 00: read device identification, basic, from object 0.
	devIDReq = rtuADU("05 | 2B | 0E | 01 | 00")
	// 05 | 2B | 0E | 01 01 00 00 | 02 | 00 03 "ABC" | 01 02 "X1".
	devIDResp = rtuADU("05 | 2B | 0E | 01 01 00 00 | 02 | 00 03 414243 | 01 02 5831")
	// 07 | 41 | DE AD BE EF: user-defined function 65, no length rule.
	userReq  = rtuADU("07 | 41 | DEADBEEF")
	userResp = rtuADU("07 | 41 | 00")
	// 09 | 18 | 04D2: read FIFO queue at 1234; response byte count 0006,
	// FIFO count 2, two registers.
	fifoReq  = rtuADU("09 | 18 | 04D2")
	fifoResp = rtuADU("09 | 18 | 0006 | 0002 | 01B8 1284")
	// 0C | 08 | 0000 | A537: diagnostics return query data (echo, any length).
	diagEcho = rtuADU("0C | 08 | 0000 | A537 11")
)

func TestRTUFramer(t *testing.T) {
	tests := []struct {
		name   string
		chunks [][]byte
		want   []string
	}{
		{
			name:   "request and response",
			chunks: [][]byte{cat(rdReq, rdResp)},
			want:   []string{wantReq(rdReq), wantResp(rdResp)},
		},
		{
			name:   "exception response",
			chunks: [][]byte{rdReq, rdExc},
			want:   []string{wantReq(rdReq), wantResp(rdExc)},
		},
		{
			// The echo is valid both ways: the expected response decides.
			name:   "echoed write",
			chunks: [][]byte{wrReg, wrReg, rdReq, rdResp},
			want:   []string{wantReq(wrReg), wantResp(wrReg), wantReq(rdReq), wantResp(rdResp)},
		},
		{
			// The tap starts between an echoed request and its response:
			// the response is taken for a request (nothing was expected),
			// and the next request for a request again.
			name:   "echo without its request",
			chunks: [][]byte{wrReg, rdReq, rdResp},
			want:   []string{wantReq(wrReg), wantReq(rdReq), wantResp(rdResp)},
		},
		{
			// Nobody answers a broadcast: the frame after it is read as a
			// request, and so is an echo-shaped frame from address 0.
			name:   "broadcast",
			chunks: [][]byte{bcast, rtuADU("00 06 0001 0003"), rtuADU("00 06 0001 0003")},
			want:   []string{wantReq(bcast), wantReq(rtuADU("00 06 0001 0003")), wantReq(rtuADU("00 06 0001 0003"))},
		},
		{
			name:   "write multiple registers response after a unicast request",
			chunks: [][]byte{rtuADU("11 | 10 | 0001 | 0002 | 04 | 000A 0102"), wrRegsResp},
			want:   []string{wantReq(rtuADU("11 10 0001 0002 04 000A 0102")), wantResp(wrRegsResp)},
		},
		{
			// A 3-byte coil response has the length of a read request:
			// after the request it is the response.
			name:   "ambiguous coil read",
			chunks: [][]byte{coilReq, coilResp},
			want:   []string{wantReq(coilReq), wantResp(coilResp)},
		},
		{
			name:   "read device identification",
			chunks: [][]byte{cat(devIDReq, devIDResp, rdReq)},
			want:   []string{wantReq(devIDReq), wantResp(devIDResp), wantReq(rdReq)},
		},
		{
			// No length rule: the CRC ends the frame where the next valid
			// frame (or the idle line) confirms it.
			name:   "user-defined function",
			chunks: [][]byte{cat(userReq, userResp, rdReq)},
			want:   []string{wantReq(userReq), wantResp(userResp), wantReq(rdReq)},
		},
		{
			name:   "read FIFO queue",
			chunks: [][]byte{cat(fifoReq, fifoResp)},
			want:   []string{wantReq(fifoReq), wantResp(fifoResp)},
		},
		{
			name:   "diagnostics return query data",
			chunks: [][]byte{cat(diagEcho, diagEcho, rdReq)},
			want:   []string{wantReq(diagEcho), wantResp(diagEcho), wantReq(rdReq)},
		},
		{
			// Addresses above 247 cannot start a frame.
			name:   "noise before a frame",
			chunks: [][]byte{cat(unhex("FF FE F8"), rdReq, rdResp)},
			want:   []string{piece(RTUNoise, unhex("FFFEF8")), wantReq(rdReq), wantResp(rdResp)},
		},
		{
			name:   "crc error then a valid frame",
			chunks: [][]byte{cat(badCRC(rdReq), rdReq, rdResp)},
			want:   []string{piece(RTUCRCError, badCRC(rdReq)), wantReq(rdReq), wantResp(rdResp)},
		},
		{
			// 11 03 00: a request cut after three bytes, then the master's retry.
			name:   "truncated frame",
			chunks: [][]byte{cat(rdReq[:3], rdReq, rdResp)},
			want:   []string{piece(RTUTruncated, rdReq[:3]), wantReq(rdReq), wantResp(rdResp)},
		},
		{
			name:   "truncated response at the end",
			chunks: [][]byte{cat(rdReq, rdResp[:7])},
			want:   []string{wantReq(rdReq), piece(RTUTruncated, rdResp[:7])},
		},
		{
			// A corrupt response ends the expectation: the next echo
			// is a request again.
			name:   "corrupt response",
			chunks: [][]byte{cat(wrReg, badCRC(wrReg), wrReg, wrReg)},
			want:   []string{wantReq(wrReg), piece(RTUCRCError, badCRC(wrReg)), wantReq(wrReg), wantResp(wrReg)},
		},
		{
			name:   "lone byte",
			chunks: [][]byte{{0x11}},
			want:   []string{piece(RTUNoise, []byte{0x11})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := frameAll(tt.chunks...)
			if strings.Join(g, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(tt.want, "\n"))
			}
			// Byte by byte, the same.
			var all []byte
			for _, c := range tt.chunks {
				all = append(all, c...)
			}
			var bytewise [][]byte
			for i := range all {
				bytewise = append(bytewise, all[i:i+1])
			}
			if g2 := frameAll(bytewise...); strings.Join(g2, "\n") != strings.Join(g, "\n") {
				t.Fatalf("byte by byte:\n%s\nwant:\n%s", strings.Join(g2, "\n"), strings.Join(g, "\n"))
			}
		})
	}
}

// TestRTUFramerChunking: any chunking of a stream gives the same frames.
func TestRTUFramerChunking(t *testing.T) {
	stream := cat(rdReq, rdResp, wrReg, wrReg, unhex("FFFF"), bcast, coilReq, coilResp,
		badCRC(rdReq), devIDReq, devIDResp, rdReq[:4], userReq, userResp, fifoReq, fifoResp,
		diagEcho, diagEcho, rdReq, rdExc)
	want := strings.Join(frameAll(stream), "\n")
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		var chunks [][]byte
		for p := stream; len(p) > 0; {
			k := 1 + r.IntN(min(len(p), 40))
			chunks = append(chunks, p[:k])
			p = p[k:]
		}
		if g := strings.Join(frameAll(chunks...), "\n"); g != want {
			t.Fatalf("chunking %d differs:\n%s\nwant:\n%s", i, g, want)
		}
	}
	t.Logf("%s", want)
}

// line feeds a framer byte by byte at a baud rate's character time, with
// silences where asked, as a serial port read without latency would.
type line struct {
	f   *RTUFramer
	ct  int64
	now int64
	c   collector
}

func newLine(baud int) *line {
	cfg := RTUConfig{Baud: baud}
	return &line{f: NewRTUFramer(cfg), ct: cfg.CharTime(), now: 1767225600e9}
}

// send puts b on the line, one character time per byte.
func (l *line) send(b []byte) {
	for i := range b {
		l.now += l.ct
		l.f.Feed(l.now, b[i:i+1], l.c.emit)
	}
}

func (l *line) silence(d int64) { l.now += d }

func TestRTUFramerSilence(t *testing.T) {
	const baud = 9600
	t35 := RTUConfig{Baud: baud}.T35()
	if t35 != 4010416 { // 3.5 × 11 bits / 9600 baud, in ns
		t.Fatalf("T35 at 9600 baud = %d ns", t35)
	}
	if g := (RTUConfig{Baud: 115200}).T35(); g != 1750000 {
		t.Fatalf("T35 at 115200 baud = %d ns, want 1.75 ms", g)
	}

	t.Run("truncated frame before a silence", func(t *testing.T) {
		l := newLine(baud)
		l.send(rdReq)
		l.silence(2 * t35)
		l.send(rdResp[:5]) // the response stops after 5 of 11 bytes
		l.silence(2 * t35)
		l.send(rdReq)
		// The retry is handed on at its last byte, without waiting.
		want := []string{wantReq(rdReq), piece(RTUTruncated, rdResp[:5]), wantReq(rdReq)}
		if g := l.c.strings(); strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("a silence ends the wait", func(t *testing.T) {
		// 11 03 06 02: as a response it needs 11 bytes. After the silence
		// stands a complete exception: the wait ends at its last byte.
		l := newLine(baud)
		l.send(rdReq)
		l.silence(2 * t35)
		l.send(rdResp[:4])
		l.silence(2 * t35)
		l.send(rdExc)
		want := []string{wantReq(rdReq), piece(RTUTruncated, rdResp[:4]), wantResp(rdExc)}
		if g := l.c.strings(); strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("a silence inside a frame", func(t *testing.T) {
		// A late read makes a silence appear inside a frame: its bytes
		// still make the frame, with or without a length rule.
		l := newLine(baud)
		l.send(userReq[:3])
		l.silence(2 * t35)
		l.send(userReq[3:])
		l.silence(2 * t35)
		l.send(rdReq[:5])
		l.silence(2 * t35)
		l.send(rdReq[5:])
		l.f.Idle(l.now, l.c.emit)
		want := []string{wantReq(userReq), wantReq(rdReq)}
		if g := l.c.strings(); strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("timestamps", func(t *testing.T) {
		// One read returns a request and its response: each frame gets
		// the time of its own last byte.
		cfg := RTUConfig{Baud: baud}
		f := NewRTUFramer(cfg)
		var c collector
		ts := int64(1767225600e9)
		f.Feed(ts, cat(rdReq, rdResp), c.emit)
		f.Idle(ts, c.emit)
		if len(c.out) != 2 {
			t.Fatalf("got %v", c.strings())
		}
		if want := ts - int64(len(rdResp))*cfg.CharTime(); c.out[0].ts != want {
			t.Errorf("request time %d, want %d (%d character times before the read)", c.out[0].ts, want, len(rdResp))
		}
		if c.out[1].ts != ts {
			t.Errorf("response time %d, want the read's %d", c.out[1].ts, ts)
		}
	})

	t.Run("truncated at idle", func(t *testing.T) {
		l := newLine(baud)
		l.send(rdReq)
		l.send(rdResp[:6])
		if g := l.c.strings(); len(g) != 1 {
			t.Fatalf("before idle: %v", g)
		}
		l.f.Idle(l.now+1e8, l.c.emit)
		want := []string{wantReq(rdReq), piece(RTUTruncated, rdResp[:6])}
		if g := l.c.strings(); strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
		}
		st := l.f.Stats()
		if st.Frames != 1 || st.Truncated != 1 || st.SkippedBytes != 6 || st.Requests != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestRTUFramerStats(t *testing.T) {
	f := NewRTUFramer(RTUConfig{})
	var c collector
	f.Feed(0, cat(rdReq, rdResp, unhex("FFFF"), wrReg, wrReg, badCRC(rdReq), bcast, rdReq[:3], coilReq, coilResp), c.emit)
	f.Idle(0, c.emit)
	want := RTUStats{
		Bytes:  uint64(len(cat(rdReq, rdResp, unhex("FFFF"), wrReg, wrReg, badCRC(rdReq), bcast, rdReq[:3], coilReq, coilResp))),
		Frames: 7, Requests: 4, Responses: 3, Broadcasts: 1, Ambiguous: 3,
		CRCErrors: 1, Truncated: 1, NoiseBytes: 2, SkippedBytes: 2 + 8 + 3, Resyncs: 3,
	}
	if g := f.Stats(); g != want {
		t.Errorf("stats\n got %+v\nwant %+v\n%s", g, want, strings.Join(c.strings(), "\n"))
	}
}

// TestRTUFramerAllocs: framing allocates nothing, whatever the stream holds.
func TestRTUFramerAllocs(t *testing.T) {
	stream := cat(rdReq, rdResp, wrReg, wrReg, unhex("FFFF"), bcast, coilReq, coilResp,
		badCRC(rdReq), devIDReq, devIDResp, rdReq[:4], userReq, userResp, fifoReq, fifoResp, rdReq, rdExc)
	f := NewRTUFramer(RTUConfig{Baud: 19200})
	n := 0
	emit := func(fr *RTUFrame) { n += len(fr.Data) }
	ts := int64(1767225600e9)
	allocs := testing.AllocsPerRun(200, func() {
		for i := 0; i < len(stream); i += 5 {
			ts += 2e6
			f.Feed(ts, stream[i:min(i+5, len(stream))], emit)
		}
		f.Idle(ts, emit)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per stream, want 0", allocs)
	}
}

func BenchmarkRTUFramer(b *testing.B) {
	stream := cat(rdReq, rdResp, wrReg, wrReg, coilReq, coilResp, devIDReq, devIDResp, fifoReq, fifoResp, rdReq, rdExc)
	f := NewRTUFramer(RTUConfig{Baud: 115200})
	frames := 0
	emit := func(*RTUFrame) { frames++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	ts := int64(0)
	for b.Loop() {
		for i := 0; i < len(stream); i += 16 {
			ts += 1e6
			f.Feed(ts, stream[i:min(i+16, len(stream))], emit)
		}
	}
	b.ReportMetric(float64(frames)/float64(b.N), "frames/op")
}
