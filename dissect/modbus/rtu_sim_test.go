package modbus_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
	"github.com/tapwire/tapwire/drivers/serial"
	"github.com/tapwire/tapwire/drivers/testenv"
)

// A simulated RS-485 line: a master polls slaves, each slave answers in
// turn, with the spec's timing (a character time per byte, at least 3.5
// character times of silence between frames, or none: back to back), and
// with faults injected: frames with a CRC error, frames cut short, bursts
// of noise. The PDUs are written here from the Modbus Application
// Protocol Specification, apart from the dissector.

// simTx is one transmission on the line.
type simTx struct {
	data []byte
	kind modbus.RTUKind // RTUADU for a valid frame, else the fault
	dir  dissect.Dir    // of a valid frame
	gap  int64          // silence before it, ns
	end  int64          // time its last byte arrives, ns
}

type simOpts struct {
	baud       int
	charBits   int // 0: 11 (8E1)
	backToBack bool
	exchanges  int
	faults     bool
	seed       uint64
}

// simLine is a simulated line and what was injected.
type simLine struct {
	opt                 simOpts
	ct, t35             int64
	tx                  []simTx
	crcErrs, truncs     int // frames injected with a CRC error, cut short
	noiseBytes, noiseTx int
}

func (l *simLine) valid() []simTx {
	var out []simTx
	for _, t := range l.tx {
		if t.kind == modbus.RTUADU {
			out = append(out, t)
		}
	}
	return out
}

var simSlaves = []byte{1, 2, 17, 45, 247}

func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }

// simulate builds the traffic of o.exchanges polls, starting at start.
func simulate(o simOpts, start int64) *simLine {
	cfg := modbus.RTUConfig{Baud: o.baud, CharBits: o.charBits}
	l := &simLine{opt: o, ct: cfg.CharTime(), t35: cfg.T35()}
	r := rand.New(rand.NewPCG(o.seed, 0x5e71a1))
	now := start
	send := func(data []byte, kind modbus.RTUKind, dir dissect.Dir, gap int64) {
		if l.opt.backToBack {
			gap = 0
		}
		now += gap + int64(len(data))*l.ct
		l.tx = append(l.tx, simTx{data: data, kind: kind, dir: dir, gap: gap, end: now})
	}
	// gap is the silence between frames: 3.5 character times and some.
	gap := func(extra int64) int64 { return l.t35 + r.Int64N(extra+1) }
	for n := 0; n < o.exchanges; n++ {
		if o.faults && r.IntN(25) == 0 {
			// Noise in the silence before the next request.
			k := 1 + r.IntN(4)
			var nb []byte
			for range k {
				if r.IntN(3) == 0 {
					nb = append(nb, 0x00)
				} else {
					nb = append(nb, 0xF8+byte(r.IntN(8)))
				}
			}
			send(nb, modbus.RTUNoise, 0, gap(2e6))
			l.noiseBytes += k
			l.noiseTx++
		}
		unit := simSlaves[r.IntN(len(simSlaves))]
		pdu, respPDU := simExchange(r)
		bcast := false
		switch {
		case r.IntN(30) == 0:
			// A broadcast write: nobody answers.
			unit, bcast = 0, true
			pdu = append([]byte{6}, append(u16(r.IntN(100)), u16(r.IntN(1000))...)...)
		case r.IntN(40) == 0:
			// A slave that is not there: the master times out.
			unit, respPDU = 99, nil
			pdu = append([]byte{3}, append(u16(0), u16(1)...)...)
		case r.IntN(20) == 0:
			respPDU = []byte{pdu[0] | 0x80, 2} // illegal data address
		}
		req := modbus.AppendCRC16(append([]byte{unit}, pdu...))
		if l.fault(req, send, gap(5e6)) {
			continue // the slave ignores a corrupt request
		}
		send(req, modbus.RTUADU, dissect.DirRequest, gap(5e6))
		if bcast || respPDU == nil {
			continue
		}
		resp := modbus.AppendCRC16(append([]byte{unit}, respPDU...))
		if l.fault(resp, send, gap(2e6)) {
			continue
		}
		send(resp, modbus.RTUADU, dissect.DirResponse, gap(2e6))
	}
	return l
}

// fault sends adu corrupt (and returns true) for a few frames.
func (l *simLine) fault(adu []byte, send func([]byte, modbus.RTUKind, dissect.Dir, int64), gap int64) bool {
	if !l.opt.faults {
		return false
	}
	r := rand.New(rand.NewPCG(uint64(len(l.tx)), l.opt.seed))
	switch r.IntN(30) {
	case 0:
		b := append([]byte(nil), adu...)
		b[len(b)-1] ^= 1 << r.IntN(8)
		send(b, modbus.RTUCRCError, 0, gap)
		l.crcErrs++
		return true
	case 1:
		k := 2 + r.IntN(len(adu)-3)
		send(append([]byte(nil), adu[:k]...), modbus.RTUTruncated, 0, gap)
		l.truncs++
		return true
	}
	return false
}

// simExchange picks a request and its normal response (PDUs).
func simExchange(r *rand.Rand) (req, resp []byte) {
	addr := r.IntN(2000)
	switch x := r.IntN(100); {
	case x < 40: // 3 read holding registers
		q := 1 + r.IntN(12)
		req = append([]byte{3}, append(u16(addr), u16(q)...)...)
		resp = []byte{3, byte(2 * q)}
		for range q {
			resp = append(resp, u16(r.IntN(65536))...)
		}
	case x < 50: // 4 read input registers
		q := 1 + r.IntN(4)
		req = append([]byte{4}, append(u16(addr), u16(q)...)...)
		resp = []byte{4, byte(2 * q)}
		for range q {
			resp = append(resp, u16(r.IntN(65536))...)
		}
	case x < 58: // 1 read coils, 2 read discrete inputs
		fc := byte(1 + r.IntN(2))
		q := 1 + r.IntN(40)
		req = append([]byte{fc}, append(u16(addr), u16(q)...)...)
		n := (q + 7) / 8
		resp = []byte{fc, byte(n)}
		for range n {
			resp = append(resp, byte(r.IntN(256)))
		}
	case x < 66: // 6 write single register (echoed)
		req = append([]byte{6}, append(u16(addr), u16(r.IntN(65536))...)...)
		resp = req
	case x < 71: // 5 write single coil (echoed)
		v := 0
		if r.IntN(2) == 0 {
			v = 0xFF00
		}
		req = append([]byte{5}, append(u16(addr), u16(v)...)...)
		resp = req
	case x < 78: // 16 write multiple registers
		q := 1 + r.IntN(6)
		req = append([]byte{16}, append(u16(addr), u16(q)...)...)
		req = append(req, byte(2*q))
		for range q {
			req = append(req, u16(r.IntN(65536))...)
		}
		resp = append([]byte{16}, append(u16(addr), u16(q)...)...)
	case x < 82: // 15 write multiple coils
		q := 1 + r.IntN(20)
		req = append([]byte{15}, append(u16(addr), u16(q)...)...)
		n := (q + 7) / 8
		req = append(req, byte(n))
		for range n {
			req = append(req, byte(r.IntN(256)))
		}
		resp = append([]byte{15}, append(u16(addr), u16(q)...)...)
	case x < 86: // 23 read/write multiple registers
		rq, wq := 1+r.IntN(4), 1+r.IntN(3)
		req = append([]byte{23}, append(u16(addr), u16(rq)...)...)
		req = append(req, append(u16(addr+100), u16(wq)...)...)
		req = append(req, byte(2*wq))
		for range wq {
			req = append(req, u16(r.IntN(65536))...)
		}
		resp = []byte{23, byte(2 * rq)}
		for range rq {
			resp = append(resp, u16(r.IntN(65536))...)
		}
	case x < 90: // 43/14 read device identification, basic
		req = []byte{43, 14, 1, 0}
		resp = []byte{43, 14, 1, 0x01, 0, 0, 3}
		for i, v := range []string{"Tapwire", "RTU-" + strconv.Itoa(r.IntN(100)), "v1.2"} {
			resp = append(resp, byte(i), byte(len(v)))
			resp = append(resp, v...)
		}
	case x < 94: // 8/0 diagnostics return query data (echoed)
		req = append([]byte{8, 0, 0}, u16(r.IntN(65536))...)
		resp = req
	case x < 97: // 17 report server id
		req = []byte{17}
		resp = []byte{17, 5, 'P', 'L', 'C', 0xFF, 0x01}
	default: // 22 mask write register (echoed)
		req = append([]byte{22}, append(u16(addr), append(u16(0x00F2), u16(0x0025)...)...)...)
		resp = req
	}
	return req, resp
}

// feedRecorder frames a simulated line as the serial tap would, reads
// returning chunks of up to max bytes (stamped with their last byte's
// time), and returns the records and their times.
func feedRecorder(l *simLine, max int, seed uint64) (recs [][]byte, ts []int64, st modbus.RTUStats) {
	rec := modbus.NewRTURecorder(modbus.RTUConfig{Baud: l.opt.baud, CharBits: l.opt.charBits})
	emit := func(b []byte, t int64) {
		recs = append(recs, append([]byte(nil), b...))
		ts = append(ts, t)
	}
	// A read returns soon after bytes arrive: its chunk never spans a
	// silence, but may hold back-to-back frames.
	r := rand.New(rand.NewPCG(seed, 7))
	var b []byte
	var bts []int64
	flush := func() {
		for len(b) > 0 {
			k := 1 + r.IntN(min(max, len(b)))
			rec.Feed(bts[k-1], b[:k], emit)
			b, bts = b[k:], bts[k:]
		}
	}
	for _, t := range l.tx {
		if t.gap > 0 {
			flush()
		}
		b = append(b, t.data...)
		for i := range t.data {
			bts = append(bts, t.end-int64(len(t.data)-1-i)*l.ct)
		}
	}
	flush()
	rec.Idle(bts0(l), emit)
	return recs, ts, rec.Stats()
}

func bts0(l *simLine) int64 {
	if len(l.tx) == 0 {
		return 0
	}
	return l.tx[len(l.tx)-1].end + 1e8
}

// rtuEvent is what the tests compare of an RTU event.
type rtuEvent struct {
	port     string
	dir      string
	unit     int
	fc       int
	exc      int // exception code, -1 for none
	src, dst string
	ts       int64
}

func (e rtuEvent) String() string {
	return fmt.Sprintf("%s %s unit %d fc %d exc %d %s→%s", e.port, e.dir, e.unit, e.fc, e.exc, e.src, e.dst)
}

// eventOf reads an event of the handler.
func eventOf(t *testing.T, e *dissect.Event) rtuEvent {
	t.Helper()
	d, ok := e.Detail.(*modbus.Details)
	if !ok {
		t.Fatalf("event without Modbus details: %+v", e)
	}
	if e.Transport != dissect.TransportRTU || e.Src.Kind != dissect.EndpointSerial || e.Dst.Kind != dissect.EndpointSerial {
		t.Fatalf("event not on a serial line: %+v", e)
	}
	if _, ok := d.TransactionID(); ok {
		t.Fatalf("RTU event with a transaction id: %s", d.AppendJSON(nil))
	}
	port := e.Src.Serial
	unit := d.Unit()
	x := rtuEvent{port: port, dir: e.Dir.String(), unit: int(unit), fc: int(e.Func), exc: -1,
		src: e.Src.String(), dst: e.Dst.String(), ts: e.TS}
	if c, ok := d.ExceptionCode(); ok {
		x.exc = int(c)
	}
	return x
}

// wantEvents are the events of a line's valid frames.
func wantEvents(l *simLine, port string) []rtuEvent {
	var out []rtuEvent
	for _, t := range l.valid() {
		e := rtuEvent{port: port, dir: t.dir.String(), unit: int(t.data[0]), fc: int(t.data[1] & 0x7f), exc: -1, ts: t.end}
		if t.data[1]&0x80 != 0 {
			e.exc = int(t.data[2])
		}
		slave, master := "serial:"+port+"/"+strconv.Itoa(e.unit), "serial:"+port+"/master"
		e.src, e.dst = master, slave
		if t.dir == dissect.DirResponse {
			e.src, e.dst = slave, master
		}
		out = append(out, e)
	}
	return out
}

// readEvents reads RTU capture files as sensor read does: pcapfile.Multi,
// dissect.Engine with the RTU handler registered, the port named after
// the capture's interface.
func readEvents(t *testing.T, paths ...string) ([]rtuEvent, modbus.RTUHandlerStats) {
	t.Helper()
	src := pcapfile.NewMulti(paths, func(path string, err error) { t.Errorf("%s: %v", path, err) })
	defer src.Close()
	var got []rtuEvent
	sink := dissect.SinkFunc(func(b *dissect.Batch) {
		for i := range b.Events {
			got = append(got, eventOf(t, &b.Events[i]))
		}
	})
	eng := dissect.NewEngine(dissect.Config{}, []dissect.Dissector{modbus.New()}, sink)
	h := modbus.NewRTUHandler(nil)
	h.SetPortNamer(func(*drivers.Frame) string { _, name := src.Interface(); return name })
	eng.HandleLink(drivers.LinkRTACSerial, h)
	var f drivers.Frame
	for {
		if err := src.Next(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		eng.Packet(&f)
	}
	eng.Close()
	if st := eng.Stats(); st.Panics != 0 || st.UnsupportedLink != 0 {
		t.Fatalf("engine stats %+v", st)
	}
	return got, h.Stats()
}

// compareEvents fails the test with the first difference.
func compareEvents(t *testing.T, what string, got, want []rtuEvent, withTS bool) {
	t.Helper()
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		g, w := got[i], want[i]
		if !withTS {
			g.ts, w.ts = 0, 0
		}
		if g != w {
			lo, hi := max(0, i-3), min(n, i+3)
			var ctx []string
			for j := lo; j < hi; j++ {
				ctx = append(ctx, fmt.Sprintf("%d: got %v (ts %d)\n   want %v (ts %d)", j, got[j], got[j].ts, want[j], want[j].ts))
			}
			t.Fatalf("%s: event %d differs:\n%s", what, i, strings.Join(ctx, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
}

// tsharkEvents reads an RTU capture's ADUs with tshark: rtacser hands the
// bytes to mbrtu (Decode As). Each ADU record is an event: port
// (interface name), direction (the record's event type; tshark's own
// Query/Response classification, where it makes one, must agree), unit,
// function code, exception code.
func tsharkEvents(t *testing.T, tshark, path string) []rtuEvent {
	t.Helper()
	cmd := exec.Command(tshark, "-n", "-r", path, "-d", "rtacser.data,mbrtu",
		"-Y", "rtacser.eventtype == 3 || rtacser.eventtype == 4",
		"-T", "fields", "-E", "separator=\t",
		"-e", "frame.interface_name", "-e", "rtacser.eventtype", "-e", "mbrtu.unit_id",
		"-e", "modbus.func_code", "-e", "modbus.exception_code", "-e", "mbrtu.crc16.status", "-e", "_ws.col.Info", "-e", "frame.len", "-e", "data.data",
		"-o", "mbrtu.crc_verification:TRUE")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	var evs []rtuEvent
	tsharkOtherwise, tsharkUndecoded := 0, 0
	defer func() {
		t.Logf("tshark: %d ADUs; %d valid both ways that tshark classifies otherwise; %d broadcasts and 4-byte ADUs that mbrtu leaves undecoded",
			len(evs), tsharkOtherwise, tsharkUndecoded)
	}()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 9 {
			t.Fatalf("tshark line %q", sc.Text())
		}
		e := rtuEvent{port: f[0], exc: -1}
		switch f[1] {
		case "0x03":
			e.dir = "request"
		case "0x04":
			e.dir = "response"
		default:
			t.Fatalf("tshark: event type %q", f[1])
		}
		// tshark's mbrtu declines broadcasts (unit 0) and ADUs of 4
		// bytes (functions 7, 11, 12 and 17 ask with no data): their
		// bytes stay data. Read unit and function code from them.
		if f[2] == "" {
			raw, err := hex.DecodeString(f[8])
			if err != nil || len(raw) < 4 || raw[0] != 0 && len(raw) != 4 {
				t.Fatalf("tshark leaves an ADU undecoded that is neither a broadcast nor 4 bytes: %q", sc.Text())
			}
			f[2], f[3] = strconv.Itoa(int(raw[0])), strconv.Itoa(int(raw[1]&0x7f))
			if raw[1]&0x80 != 0 {
				f[4] = strconv.Itoa(int(raw[2]))
			}
			tsharkUndecoded++
		}
		// tshark classifies by structure alone. Where it disagrees, the
		// frame must be one valid both ways: a read of coils or
		// discrete inputs (8 bytes) that also reads as a 3-byte response.
		info := strings.TrimSpace(f[6])
		fc, _ := strconv.Atoi(f[3])
		aduLen, _ := strconv.Atoi(f[7])
		aduLen -= 12
		ambiguous := (fc == 1 || fc == 2) && aduLen == 8
		switch {
		case strings.HasPrefix(info, "Query:") && e.dir != "request",
			strings.HasPrefix(info, "Response:") && e.dir != "response":
			if !ambiguous {
				t.Fatalf("tshark reads a %s otherwise: %q", e.dir, sc.Text())
			}
			tsharkOtherwise++
		}
		if f[5] != "" && f[5] != "1" {
			t.Fatalf("tshark finds a bad CRC (status %s): %q", f[5], sc.Text())
		}
		e.unit, _ = strconv.Atoi(f[2])
		e.fc, _ = strconv.Atoi(f[3])
		if f[4] != "" {
			e.exc, _ = strconv.Atoi(f[4])
		}
		slave, master := "serial:"+e.port+"/"+strconv.Itoa(e.unit), "serial:"+e.port+"/master"
		e.src, e.dst = master, slave
		if e.dir == "response" {
			e.src, e.dst = slave, master
		}
		evs = append(evs, e)
	}
	return evs
}

// writeCapture writes records of one port as an RTU capture.
func writeCapture(t *testing.T, path string, port serial.Config, recs [][]byte, ts []int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := serial.NewCapture(f, []serial.Config{port})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if err := c.WriteRecord(0, ts[i], r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

// faultBytes is the number of bytes in faults.
func (l *simLine) faultBytes() int {
	n := 0
	for _, t := range l.tx {
		if t.kind != modbus.RTUADU {
			n += len(t.data)
		}
	}
	return n
}

// checkFaults checks the framer's counters against what was injected:
// every byte of a fault skipped and no other; with silence around each
// fault, every corrupt frame counted (a frame cut short may count as one
// with a CRC error, when a length rule of its function ends where it was
// cut) and every noise byte. Back to back, faults that follow each other
// without a valid frame between them may count as one.
func checkFaults(t *testing.T, l *simLine, st modbus.RTUStats) {
	t.Helper()
	if int(st.SkippedBytes) != l.faultBytes() {
		t.Errorf("framer skipped %d bytes; the faults hold %d", st.SkippedBytes, l.faultBytes())
	}
	if l.opt.backToBack {
		return
	}
	if int(st.CRCErrors+st.Truncated) != l.crcErrs+l.truncs || int(st.NoiseBytes) != l.noiseBytes {
		t.Errorf("framer counted %d CRC errors + %d truncated, %d noise bytes; injected %d + %d, %d",
			st.CRCErrors, st.Truncated, st.NoiseBytes, l.crcErrs, l.truncs, l.noiseBytes)
	}
}

// TestRTURead: a simulated line, framed as the tap frames it, written as
// an RTU capture and read back as sensor read reads it, gives an event
// for every valid frame, with its time, and counts every fault; tshark's
// mbrtu reads the same ADUs.
func TestRTURead(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		opt  simOpts
	}{
		{"9600 8E1 paced", simOpts{baud: 9600, exchanges: 400, faults: true, seed: 1}},
		{"115200 8N1 paced", simOpts{baud: 115200, charBits: 10, exchanges: 400, faults: true, seed: 2}},
		{"19200 back to back", simOpts{baud: 19200, backToBack: true, exchanges: 400, faults: true, seed: 3}},
		{"clean", simOpts{baud: 38400, exchanges: 200, seed: 4}},
	}
	var paths []string
	var all []rtuEvent
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := simulate(tc.opt, 1767225600e9+int64(i)*3600e9)
			recs, ts, st := feedRecorder(l, 48, uint64(i))
			port := serial.Config{Device: "/dev/ttyS" + strconv.Itoa(i), Baud: tc.opt.baud}
			if tc.opt.charBits == 10 {
				port.Parity = serial.ParityNone
			}
			path := filepath.Join(dir, fmt.Sprintf("line%d.pcapng", i))
			writeCapture(t, path, port, recs, ts)
			paths = append(paths, path)

			want := wantEvents(l, "ttyS"+strconv.Itoa(i))
			all = append(all, want...)
			got, hst := readEvents(t, path)
			compareEvents(t, "sensor read", got, want, true)
			t.Logf("%d frames, %d CRC errors, %d truncated, %d noise bytes injected; framer %+v", len(want), l.crcErrs, l.truncs, l.noiseBytes, st)
			checkFaults(t, l, st)
			if hst.CRCErrors != st.CRCErrors || hst.Truncated != st.Truncated || hst.NoiseBytes != st.NoiseBytes || hst.ADUs != st.Frames || hst.Invalid != 0 {
				t.Errorf("handler counted %+v from the capture; the framer %+v", hst, st)
			}
			if tshark := testenv.Tool(t, "tshark"); tshark != "" {
				compareEvents(t, "tshark", tsharkEvents(t, tshark, path), want, false)
			}
		})
	}
	// sensor read FILE... reads them in order, each port by its name.
	got, _ := readEvents(t, paths...)
	compareEvents(t, "all files", got, all, true)
}

// TestRTUReadJitter: the times a serial port's reads return are late by
// the operating system's latency, so a read may hold bytes from both
// sides of a silence (which then does not show) and a late read makes a
// silence appear inside a frame; the sender, too, may pause within a
// frame. Over many such schedules, with faults injected, the framer never
// loses step for more than one frame: a CRC-16 holds by chance once in
// 65536 tries, so now and then the bytes of a fault and of the next frame
// make a valid-looking frame (one frame lost, one false), never more.
func TestRTUReadJitter(t *testing.T) {
	trials := 1000
	if testing.Short() {
		trials = 50
	}
	frames, lost, bogus, hit := 0, 0, 0, 0
	for trial := range trials {
		opt := simOpts{baud: 9600, exchanges: 60, faults: true, seed: uint64(100 + trial)}
		switch trial % 3 {
		case 1:
			opt = simOpts{baud: 115200, charBits: 10, exchanges: 150, faults: true, seed: uint64(100 + trial)}
		case 2:
			opt = simOpts{baud: 19200, backToBack: true, exchanges: 100, faults: true, seed: uint64(100 + trial)}
		}
		l := simulate(opt, 1767225600e9)
		r := rand.New(rand.NewPCG(uint64(trial), 99))
		// When each byte arrives: on time, but the sender pauses now and
		// then (never sending faster than the line).
		var data []byte
		var at []int64
		var late, last int64
		for _, tx := range l.tx {
			for j := range tx.data {
				x := tx.end - int64(len(tx.data)-1-j)*l.ct + late
				if r.IntN(200) == 0 {
					d := r.Int64N(8e6)
					late, x = late+d, x+d
				}
				x = max(x, last+l.ct)
				data, at, last = append(data, tx.data[j]), append(at, x), x
			}
		}
		// When each read returns: soon after a byte arrives, or late.
		rec := modbus.NewRTURecorder(modbus.RTUConfig{Baud: opt.baud, CharBits: opt.charBits})
		var got []string
		emit := func(b []byte, ts int64) {
			if k, d, adu, _ := modbus.ParseRTURecord(b); k == modbus.RTUADU {
				got = append(got, d.String()+" "+hex.EncodeToString(adu))
			}
		}
		var now int64
		for i := 0; i < len(data); {
			now = max(now, at[i]) + r.Int64N(300e3)
			if r.IntN(50) == 0 {
				now += r.Int64N(15e6)
			}
			j := i
			for j < len(data) && at[j] <= now {
				j++
			}
			rec.Feed(now, data[i:j], emit)
			i = j
		}
		rec.Idle(now+1e8, emit)
		var want []string
		for _, tx := range l.valid() {
			want = append(want, tx.dir.String()+" "+hex.EncodeToString(tx.data))
		}
		common := lcs(got, want)
		frames += len(want)
		if common == len(want) && len(got) == len(want) {
			continue
		}
		hit++
		lost += len(want) - common
		bogus += len(got) - common
		if len(want)-common > 1 || len(got)-common > 1 {
			t.Errorf("trial %d (%+v): %d of %d frames lost, %d false", trial, opt, len(want)-common, len(want), len(got)-common)
		}
	}
	t.Logf("%d trials, %d frames: %d trials with a CRC that held by chance, %d frames lost, %d false", trials, frames, hit, lost, bogus)
	if hit*100 > trials {
		t.Errorf("%d of %d trials lost step", hit, trials)
	}
}

// lcs is the length of the longest common subsequence of a and b.
func lcs(a, b []string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
