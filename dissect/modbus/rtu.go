package modbus

import "github.com/tapwire/tapwire/dissect"

// RTUConfig describes the serial line an RTUFramer listens to.
type RTUConfig struct {
	// Baud is the line's bit rate. 0 means unknown: every byte of a chunk
	// is then taken to have arrived at the chunk's time, and silence is
	// only what Idle says.
	Baud int
	// CharBits is the number of bits a character takes on the line: start
	// bit, data bits, parity bit, stop bits (11 for the spec's 8E1 and for
	// 8N2, 10 for 8N1). 0 means 11.
	CharBits int
}

// CharTime is the time one character takes on the line, in ns (0 when the
// baud rate is unknown).
func (c RTUConfig) CharTime() int64 {
	if c.Baud <= 0 {
		return 0
	}
	bits := c.CharBits
	if bits <= 0 {
		bits = 11
	}
	return int64(bits) * 1e9 / int64(c.Baud)
}

// T35 is the silence that separates frames, in ns: 3.5 character times,
// and 1.75 ms above 19200 baud (Modbus over Serial Line V1.02, 2.5.1.1);
// 0 when the baud rate is unknown.
func (c RTUConfig) T35() int64 {
	switch {
	case c.Baud <= 0:
		return 0
	case c.Baud > 19200:
		return 1750e3
	}
	bits := c.CharBits
	if bits <= 0 {
		bits = 11
	}
	return int64(bits) * 7e9 / (2 * int64(c.Baud))
}

// Silence is the pause the framer takes for a silence between frames, in
// ns: 2.5 character times (1.25 ms above 19200 baud), midway between the
// longest pause the spec allows within a frame (1.5 character times) and
// the shortest between frames (3.5), so that the operating system's
// jitter on read times errs on neither side; 0 when the baud rate is
// unknown.
func (c RTUConfig) Silence() int64 {
	switch {
	case c.Baud <= 0:
		return 0
	case c.Baud > 19200:
		return 1250e3
	}
	bits := c.CharBits
	if bits <= 0 {
		bits = 11
	}
	return int64(bits) * 5e9 / (2 * int64(c.Baud))
}

// RTUKind says what an RTUFrame holds.
type RTUKind uint8

// Kinds of RTUFrame.
const (
	// RTUADU is a valid ADU: its CRC holds at the length its function
	// code's rules give.
	RTUADU RTUKind = iota
	// RTUCRCError is as many bytes as a frame's length rules give for its
	// address and function code, with a CRC that does not hold.
	RTUCRCError
	// RTUTruncated is the start of a frame (a valid address and function
	// code) that ends, at a silence or where the next frame begins, before
	// its length rules say it should.
	RTUTruncated
	// RTUNoise is bytes that cannot start a frame: an address above 247, a
	// function code 0 or 0x80, or no length rule that fits.
	RTUNoise
)

func (k RTUKind) String() string {
	switch k {
	case RTUADU:
		return "adu"
	case RTUCRCError:
		return "crc_error"
	case RTUTruncated:
		return "truncated"
	case RTUNoise:
		return "noise"
	}
	return "unknown"
}

// RTUFrame is what an RTUFramer found in the stream: an ADU, or bytes it
// skipped.
type RTUFrame struct {
	Kind RTUKind
	// Dir is the ADU's direction: DirRequest (master to slave) or
	// DirResponse; DirUnknown for skipped bytes.
	Dir dissect.Dir
	// Data is the ADU (address, PDU, CRC) or the skipped bytes. It aliases
	// the framer's buffer and is valid only during the callback.
	Data []byte
	// TS is the arrival time of the last byte, ns since the Unix epoch.
	TS int64
}

// Unit is the ADU's address (0 for a broadcast).
func (f *RTUFrame) Unit() byte { return f.Data[0] }

// PDU is the ADU without its address and CRC.
func (f *RTUFrame) PDU() []byte { return f.Data[1 : len(f.Data)-2] }

// RTUStats counts what a framer found. They only grow.
type RTUStats struct {
	Bytes      uint64 // bytes fed
	Frames     uint64 // valid ADUs
	Requests   uint64 // of which requests (broadcasts included)
	Responses  uint64 // of which responses
	Broadcasts uint64 // requests to address 0
	// Ambiguous counts ADUs valid both as a request and as a response,
	// whose direction the expected-response rule decided.
	Ambiguous    uint64
	CRCErrors    uint64 // RTUCRCError pieces
	Truncated    uint64 // RTUTruncated pieces
	NoiseBytes   uint64 // bytes in RTUNoise pieces
	SkippedBytes uint64 // bytes in every skipped piece
	// Resyncs counts the ADUs found after skipping bytes: framing lost
	// and found again.
	Resyncs uint64
}

// Buffer geometry. A decision about the bytes at the front never needs more
// than three ADUs (an ADU of unknown length is confirmed by the valid ADU
// that follows it, which may be confirmed by the next), and skipped bytes
// are handed on every maxSkipRun bytes, so rtuBufLen leaves room to feed
// at least a quarter of it at a time.
const (
	rtuBufLen  = 2048
	maxSkipRun = RTUMaxADU
)

// RTUFramer cuts one serial line's byte stream into Modbus RTU ADUs. Feed
// it the chunks a serial port's reads return, with the time each read
// returned; it calls back with every ADU and every run of skipped bytes,
// in stream order. It keeps at most rtuBufLen bytes and allocates nothing.
// One framer serves one line; it is not safe for concurrent use.
//
// # Frame boundaries
//
// The spec delimits RTU frames by silence (3.5 character times, 1.75 ms
// above 19200 baud; the framer takes 2.5 for a silence, see
// RTUConfig.Silence), but a serial port's reads return chunks that cut
// frames anywhere and hold several, at times that are late by the
// operating system's latency, so silence is only a hint. Boundaries come
// from the length rules and the CRC: the framer reads the address and the
// function code at the front of the stream, computes the ADU's length as
// a request and as a response (from the function code, and from the byte
// count where the format has one; a byte count out of the spec's range
// rules that reading out), and takes the first reading whose CRC-16/MODBUS
// holds. A reading whose length is not there yet is waited for. When no
// reading fits, the first byte is skipped (a one-byte slide) and the next
// byte is tried as the start of a frame: after noise, a lost byte or a
// frame cut short, the framer is back in step at the next valid frame,
// whose bytes it never skips.
//
// Function codes without a length rule (user-defined and unknown codes,
// diagnostics sub-function 0, MEI types other than 14) end at the first
// length where the CRC holds and that is confirmed: a silence follows, the
// other half of its exchange (same address and function code) follows, or
// a valid ADU does, or the line goes idle there. The expected response to
// diagnostics 0 (return query data) is as long as its request: it echoes
// it.
//
// A CRC-16 holds by chance once in 65536 tries, and out of step every
// position is a try. So a frame found after skipped bytes, or one without
// a length rule, that would hold valid ADUs confirming each other (two in
// a row, or one next to a silence) is taken for such a chance and not
// accepted. What remains — a fault whose bytes and the next frame's make a
// valid-looking frame — costs at most one frame, and the framer is back
// in step at the next one.
//
// Silence is measured on read times, which the operating system delays:
// a late read makes a silence appear inside a frame, reads that return
// together hide one. So silence only ever adds evidence: a silence inside
// bytes that make a valid frame does not break it. While the reading at
// the front is still waiting for bytes, a silence after which a complete
// valid ADU stands ends the wait when no frame could end before it (the
// bytes before it are a frame cut short, or noise); a silence confirms the
// end of a frame without a length rule; skipped bytes are reported in
// pieces split at silences. Idle says the line has gone quiet (a read that
// timed out): nothing is waited for any more. Without silence (frames back
// to back) nothing is lost, but a frame cut short holds up the frames
// behind it until its reading's length has arrived (at most 256 bytes, or
// until Idle).
//
// # Direction
//
// An ADU whose CRC holds only at its request length is a request, only at
// its response length a response; an exception (function code 0x81..0xFF)
// is always a response; nothing answers address 0 (broadcast), so those
// are requests. Some ADUs are valid both ways: the echoed functions (5, 6,
// 8, 21, 22) always, and others by coincidence (a read of coils whose
// quantity bytes read as a 3-byte response). They are resolved by the
// expected response: after a unicast request to slave S with function F,
// the next frame from S with F (or F|0x80) is its response, so it is read
// as a response first; any other frame is read as a request first, and the
// first reading that holds wins. The expectation ends with that response,
// with the next request, or with a corrupt frame from S with F (taken to
// be the lost response). Hence a master's retry of an echoed request whose
// response was lost without a trace is taken for that response, and the
// real response that follows for a request: two frames mislabelled, none
// lost; the same holds when the tap starts between an echoed request and
// its response.
//
// # Skipped bytes
//
// Bytes that belong to no valid ADU are handed on in pieces, before the
// ADU that follows them: split at silences and every 256 bytes, then cut
// front to back. A byte that cannot start a frame (an address above 247,
// a function code 0 or 0x80, no length rule that fits) is noise, and noise
// bytes in a row make one piece. A valid address and function code
// followed by exactly as many bytes as a length rule gives is a frame with
// a CRC error; followed by fewer than a rule asks for, a frame cut short
// (the rest of the piece); with no length rule, a frame with a CRC error
// (the rest of the piece); followed by more, a frame with a CRC error of
// the length a rule gives, and what follows is cut likewise. Faults that
// follow each other without a silence between them may make one piece.
//
// # Timestamps
//
// A read returns the bytes that arrived since the last one, the last byte
// just before the read returned. With a known baud rate the framer dates
// byte i of an n-byte chunk read at ts to ts - (n-1-i) character times
// (never before the previous byte, never after ts), so back-to-back frames
// in one chunk get their own times; a frame's time (RTUFrame.TS) is its
// last byte's, late by the read's latency. The silence before a chunk is
// the time from the previous byte to its first byte's start.
type RTUFramer struct {
	cfg     RTUConfig
	charNS  int64
	quietNS int64 // silence threshold

	buf   [rtuBufLen]byte
	ts    [rtuBufLen]int64
	quiet [rtuBufLen]bool // a silence comes before this byte
	// buf[s:off] are skipped bytes not yet handed on, buf[off:n] bytes
	// not yet decided.
	s, off, n int
	cut       struct { // noFrameBefore's last answer
		off, j int
		ok     bool
	}
	vm struct { // where the front's scan for an end stopped
		i, l int
		c    uint16
	}

	last      int64 // arrival time of the last byte fed
	haveLast  bool
	quietNext bool // Idle: the next byte comes after a silence
	lost      bool // bytes were skipped since the last ADU

	exp struct {
		addr, fc byte
		ok       bool
		echo     int // length of the response when it echoes a request of any length
	}
	noise struct {
		start, end int // a pending run of noise bytes, merged into one piece
	}
	frame RTUFrame
	stats RTUStats
}

// NewRTUFramer returns a framer for a line with configuration cfg.
func NewRTUFramer(cfg RTUConfig) *RTUFramer {
	f := &RTUFramer{}
	f.Configure(cfg)
	return f
}

// Configure changes the line's configuration (after a port is reopened
// with other settings). Buffered bytes are kept.
func (f *RTUFramer) Configure(cfg RTUConfig) {
	f.cfg = cfg
	f.charNS, f.quietNS = cfg.CharTime(), cfg.Silence()
}

// Stats returns the counters so far.
func (f *RTUFramer) Stats() RTUStats { return f.stats }

// Reset ends the stream (as Idle does, handing on what is buffered) and
// forgets the expected response: the next byte starts a new stream, as
// after a port is reopened.
func (f *RTUFramer) Reset(ts int64, emit func(*RTUFrame)) {
	f.Idle(ts, emit)
	f.exp.ok = false
	f.haveLast = false
}

// Feed takes the bytes p that a read returned at time ts (ns since the
// Unix epoch) and calls emit for every ADU and skipped piece it completes.
// emit must not keep the frame or its Data.
func (f *RTUFramer) Feed(ts int64, p []byte, emit func(*RTUFrame)) {
	f.stats.Bytes += uint64(len(p))
	for len(p) > 0 {
		if f.n == rtuBufLen {
			f.compact()
		}
		if f.n == rtuBufLen {
			// Cannot happen: 3*RTUMaxADU undecided bytes always decide
			// (see rtuBufLen). Should it, skip a byte rather than stall.
			f.off = max(f.off, f.s) + 1
			f.flushSkipped(f.off, emit)
			f.compact()
		}
		k := min(len(p), rtuBufLen-f.n)
		f.add(ts, p[:k], len(p)-k)
		p = p[k:]
		f.process(false, emit)
	}
}

// Idle says the line has been silent since the last byte (ts is when that
// was seen): the bytes buffered are all there is of their frames. It hands
// on every ADU and skipped piece they hold.
func (f *RTUFramer) Idle(ts int64, emit func(*RTUFrame)) {
	f.process(true, emit)
	f.flushSkipped(f.n, emit)
	f.s, f.off, f.n = 0, 0, 0
	f.cut.off, f.vm.i = -1, -1
	f.quietNext = true
}

// add appends the bytes of a chunk read at ts, of which after more bytes
// follow in the same chunk, dating each byte: never after the read, never
// before the previous byte (unless the clock went back).
func (f *RTUFramer) add(ts int64, p []byte, after int) {
	ct := f.charNS
	first := ts - int64(len(p)-1+after)*ct
	quiet := f.quietNext || !f.haveLast
	if f.haveLast && ts >= f.last {
		if f.quietNS > 0 && first-ct-f.last >= f.quietNS {
			quiet = true
		}
		first = max(first, f.last)
	}
	for i, x := range p {
		j := f.n + i
		f.buf[j] = x
		f.ts[j] = min(first+int64(i)*ct, ts)
		f.quiet[j] = false
	}
	f.quiet[f.n] = quiet
	f.n += len(p)
	f.last, f.haveLast, f.quietNext = f.ts[f.n-1], true, false
}

// compact moves the bytes still needed to the front of the buffer.
func (f *RTUFramer) compact() {
	if f.s == 0 {
		return
	}
	n := copy(f.buf[:], f.buf[f.s:f.n])
	copy(f.ts[:], f.ts[f.s:f.n])
	copy(f.quiet[:], f.quiet[f.s:f.n])
	f.off -= f.s
	f.cut.off, f.vm.i = -1, -1
	f.n, f.s = n, 0
}

// Decisions about the bytes at the front.
type rtuVerdict uint8

const (
	rtuWait   rtuVerdict = iota // more bytes are needed
	rtuAccept                   // an ADU of length n
	rtuSlide                    // skip the first byte
	rtuCut                      // skip n bytes: a frame cut short before a silence
)

// process decides about the bytes at the front until it needs more bytes;
// when final, nothing more will come and everything is decided.
func (f *RTUFramer) process(final bool, emit func(*RTUFrame)) {
	for f.off < f.n {
		if f.quiet[f.off] && f.off > f.s {
			f.flushSkipped(f.off, emit) // skipped bytes end at a silence
		}
		if f.off-f.s >= maxSkipRun {
			f.flushSkipped(f.off, emit)
		}
		v, n, dir, ambiguous := f.decide(final)
		switch v {
		case rtuWait:
			return
		case rtuSlide:
			f.off++
		case rtuCut:
			f.off += n
		case rtuAccept:
			if f.off > f.s {
				// Hand on the skipped bytes first, and decide again: a
				// corrupt response among them ends the expectation.
				f.flushSkipped(f.off, emit)
				continue
			}
			f.accept(n, dir, ambiguous, emit)
		}
	}
}

// decide looks at the bytes at the front (buf[off:n]).
func (f *RTUFramer) decide(final bool) (v rtuVerdict, n int, dir dissect.Dir, ambiguous bool) {
	b := f.buf[f.off:f.n]
	if b[0] > RTUMaxAddress {
		return rtuSlide, 0, 0, false
	}
	if len(b) < 2 {
		if final {
			return rtuSlide, 0, 0, false
		}
		return rtuWait, 0, 0, false
	}
	// The readings in order: the expected response first, else the
	// request first.
	dirs := [2]dissect.Dir{dissect.DirRequest, dissect.DirResponse}
	if f.expected(b) {
		dirs = [2]dissect.Dir{dissect.DirResponse, dissect.DirRequest}
	}
	var lens [2]int
	for i, d := range dirs {
		lens[i] = rtuLen(b, d == dissect.DirResponse)
		if d == dissect.DirResponse && lens[i] == lenVariable && f.expected(b) && f.exp.echo > 0 {
			lens[i] = f.exp.echo // the echo of diagnostics 0 is as long as its request
		}
	}
	pending := false // an earlier reading still waits for its bytes
	for i, d := range dirs {
		l := lens[i]
		switch {
		case l == lenImpossible:
			continue
		case l == lenNeedMore || l > len(b):
			if !final {
				pending = true
			}
			continue
		case l == lenVariable:
			l, ok, wait := f.variable(f.off, final, 2)
			if wait {
				pending = true
				continue
			}
			if !ok || f.swallows(l) {
				continue
			}
			if pending && !f.boundary(f.off+l, final) {
				return rtuWait, 0, 0, false
			}
			return rtuAccept, l, d, lens[1-i] == lenVariable
		}
		if !crcOK(b[:l]) {
			continue
		}
		if (f.lost || f.off > f.s) && f.swallows(l) {
			continue // out of step, a CRC that holds by chance
		}
		if pending && !f.boundary(f.off+l, final) {
			return rtuWait, 0, 0, false
		}
		amb := i == 0 && lens[1] == l
		return rtuAccept, l, d, amb
	}
	if !pending {
		return rtuSlide, 0, 0, false
	}
	// Waiting: unless a silence comes after which a complete valid ADU
	// stands, with no ADU that could start before the silence and end at
	// it: the bytes before the silence are then a frame cut short, or
	// noise.
	for j := f.off + 1; j < f.n && j <= f.off+RTUMaxADU; j++ {
		if !f.quiet[j] {
			continue
		}
		if v, _ := f.fixedAt(j, false); v == 1 && f.noFrameBefore(j) {
			return rtuCut, j - f.off, 0, false
		}
		break
	}
	return rtuWait, 0, 0, false
}

// swallows reports whether the frame of length l at the front would hold
// valid ADUs of known length that confirm each other: two in a row, or one
// right after a silence or right before one. A frame found by its CRC
// alone — of unknown length, or after the framer lost step — that holds
// real frames is a CRC that holds by chance; frames inside a real frame
// are as unlikely as two such chances. The answer depends only on the
// frame's bytes.
func (f *RTUFramer) swallows(l int) bool {
	end := f.off + l
	for p := f.off + 1; p+RTUMinADU <= end; p++ {
		pl := f.fixedWithin(p, end)
		if pl == 0 {
			continue
		}
		q := p + pl
		if f.quiet[p] || q < end && (f.quiet[q] || f.fixedWithin(q, end) > 0) {
			return true
		}
	}
	return false
}

// fixedWithin returns the length of a valid ADU of known length that
// starts at buf[i] and ends by end, or 0.
func (f *RTUFramer) fixedWithin(i, end int) int {
	b := f.buf[i:end]
	if len(b) < RTUMinADU || b[0] > RTUMaxAddress {
		return 0
	}
	for _, resp := range [2]bool{false, true} {
		if l := rtuLen(b, resp); l >= RTUMinADU && l <= len(b) && crcOK(b[:l]) {
			return l
		}
	}
	return 0
}

// noFrameBefore reports whether no ADU (of known length or not) starts
// in buf[off+1:j] and ends by j. The answer for (off, j) is kept: the
// bytes it depends on do not change while the front waits.
func (f *RTUFramer) noFrameBefore(j int) bool {
	if f.cut.off == f.off && f.cut.j == j {
		return f.cut.ok
	}
	ok := true
	for q := f.off + 1; q+RTUMinADU <= j && ok; q++ {
		b := f.buf[q:j]
		if b[0] > RTUMaxAddress {
			continue
		}
		for _, resp := range [2]bool{false, true} {
			l := rtuLen(b, resp)
			switch {
			case l == lenVariable:
				c := uint16(crcInit)
				c = crcUpdate(crcUpdate(c, b[0]), b[1])
				for l := RTUMinADU; l <= len(b); l++ {
					if c == uint16(b[l-2])|uint16(b[l-1])<<8 {
						ok = false
						break
					}
					c = crcUpdate(c, b[l-2])
				}
			case l >= RTUMinADU && l <= len(b) && crcOK(b[:l]):
				ok = false
			}
		}
	}
	f.cut.off, f.cut.j, f.cut.ok = f.off, j, ok
	return ok
}

// fixedAt tells whether a valid ADU of known length starts at buf[i]: 1
// yes (of length l), 0 no, -1 not yet known.
func (f *RTUFramer) fixedAt(i int, final bool) (v, l int) {
	b := f.buf[i:f.n]
	if len(b) < 2 {
		if final || len(b) == 1 && b[0] > RTUMaxAddress {
			return 0, 0
		}
		return -1, 0
	}
	if b[0] > RTUMaxAddress {
		return 0, 0
	}
	unknown := false
	for _, resp := range [2]bool{false, true} {
		switch l := rtuLen(b, resp); {
		case l == lenImpossible || l == lenVariable:
		case l == lenNeedMore || l > len(b):
			unknown = true
		case crcOK(b[:l]):
			return 1, l
		}
	}
	if unknown && !final {
		return -1, 0
	}
	return 0, 0
}

// expected reports whether b starts with the expected response's address
// and function code.
func (f *RTUFramer) expected(b []byte) bool {
	return f.exp.ok && b[0] == f.exp.addr && b[1]&^exceptionBit == f.exp.fc
}

// boundary reports whether a frame may end before buf[i]: a silence
// comes before it, or the line went idle there.
func (f *RTUFramer) boundary(i int, final bool) bool {
	if i >= f.n {
		return final
	}
	return f.quiet[i]
}

// variable finds the end of an ADU of unknown length at buf[i:]: the
// first length where the CRC holds and that is confirmed: by a boundary;
// by the other half of its exchange
// starting right after it (the same address and function code, valid or
// not); or by a valid ADU right after it, which may itself be of unknown
// length and confirmed so, depth levels down. At depth 0 the CRC alone
// confirms. wait is true when that cannot be told yet.
func (f *RTUFramer) variable(i int, final bool, depth int) (n int, ok, wait bool) {
	b := f.buf[i:f.n]
	l0, c := RTUMinADU, crcUpdate(crcUpdate(crcInit, b[0]), b[1])
	memo := i == f.off && depth == 2 // the front's scan resumes where it stopped
	if memo && f.vm.i == i && f.vm.l > l0 {
		l0, c = f.vm.l, f.vm.c
	}
	top := min(len(b), RTUMaxADU)
	l := l0
	for ; l <= top; l++ {
		if c == uint16(b[l-2])|uint16(b[l-1])<<8 {
			if f.boundary(i+l, final) || depth == 0 {
				return l, true, false
			}
			v := -1
			switch {
			case i+l+2 > f.n:
				if final {
					v = 0
				}
			case f.buf[i+l] == b[0] && f.buf[i+l+1]&^exceptionBit == b[1]&^exceptionBit:
				return l, true, false // the other half of the exchange follows
			default:
				v = f.validAt(i+l, final, depth-1)
			}
			switch v {
			case 1:
				return l, true, false
			case -1:
				if memo {
					f.vm.i, f.vm.l, f.vm.c = i, l, c
				}
				return 0, false, true
			}
		}
		c = crcUpdate(c, b[l-2])
	}
	if memo {
		f.vm.i, f.vm.l, f.vm.c = i, l, c
	}
	if len(b) >= RTUMaxADU || final {
		return 0, false, false
	}
	return 0, false, true
}

// validAt tells whether a valid ADU starts at buf[i]: 1 yes, 0 no, -1 not
// yet known. ADUs of unknown length are confirmed depth levels down (see
// variable).
func (f *RTUFramer) validAt(i int, final bool, depth int) int {
	v, _ := f.fixedAt(i, final)
	if v == 1 {
		return 1
	}
	b := f.buf[i:f.n]
	if len(b) < 2 || b[0] > RTUMaxAddress {
		return v
	}
	for _, resp := range [2]bool{false, true} {
		if rtuLen(b, resp) != lenVariable {
			continue
		}
		switch _, ok, wait := f.variable(i, final, depth); {
		case ok:
			return 1
		case wait && !final:
			v = -1
		}
		break
	}
	return v
}

// accept hands on the skipped bytes before the ADU of length n at the
// front, then the ADU.
func (f *RTUFramer) accept(n int, dir dissect.Dir, ambiguous bool, emit func(*RTUFrame)) {
	adu := f.buf[f.off : f.off+n]
	st := &f.stats
	st.Frames++
	if f.lost {
		st.Resyncs++
		f.lost = false
	}
	if ambiguous {
		st.Ambiguous++
	}
	if dir == dissect.DirRequest {
		st.Requests++
		if adu[0] == 0 {
			st.Broadcasts++
		}
		f.exp.addr, f.exp.fc, f.exp.ok = adu[0], adu[1], adu[0] != 0
		f.exp.echo = 0
		if adu[1] == fcDiagnostics && n >= 6 && adu[2] == 0 && adu[3] == 0 {
			f.exp.echo = n
		}
	} else {
		st.Responses++
		f.exp.ok = false
	}
	f.frame = RTUFrame{Kind: RTUADU, Dir: dir, Data: adu, TS: f.ts[f.off+n-1]}
	emit(&f.frame)
	f.off += n
	f.s = f.off
}

// flushSkipped hands on the skipped bytes buf[s:end] (end ≤ off, or the
// whole buffer at Idle) in pieces.
func (f *RTUFramer) flushSkipped(end int, emit func(*RTUFrame)) {
	if end > f.off {
		f.off = end
	}
	for i := f.s; i < end; {
		// A segment ends at a silence, and after maxSkipRun bytes.
		j := i + 1
		for j < end && !f.quiet[j] && j-i < maxSkipRun {
			j++
		}
		for i < j {
			k, l := classifySkipped(f.buf[i:j])
			if k == RTUNoise {
				if f.noise.end != i {
					f.flushNoise(emit)
					f.noise.start = i
				}
				f.noise.end = i + l
			} else {
				f.flushNoise(emit)
				f.skipped(k, i, i+l, emit)
			}
			i += l
		}
		f.flushNoise(emit)
	}
	f.s = end
}

func (f *RTUFramer) flushNoise(emit func(*RTUFrame)) {
	if f.noise.end > f.noise.start {
		f.skipped(RTUNoise, f.noise.start, f.noise.end, emit)
	}
	f.noise.start, f.noise.end = 0, 0
}

// skipped hands on buf[i:j] as a piece of kind k.
func (f *RTUFramer) skipped(k RTUKind, i, j int, emit func(*RTUFrame)) {
	b := f.buf[i:j]
	st := &f.stats
	st.SkippedBytes += uint64(len(b))
	f.lost = true
	switch k {
	case RTUCRCError:
		st.CRCErrors++
	case RTUTruncated:
		st.Truncated++
	case RTUNoise:
		st.NoiseBytes += uint64(len(b))
	}
	if k != RTUNoise && f.expected(b) {
		f.exp.ok = false // the expected response, corrupt
	}
	f.frame = RTUFrame{Kind: k, Data: b, TS: f.ts[j-1]}
	emit(&f.frame)
}

// classifySkipped names the piece at the front of b, skipped bytes that
// end at a silence or where a valid ADU begins: noise (one byte that
// cannot start a frame); a frame with a CRC error when a length rule of
// its address and function code covers b exactly; else a truncated frame
// (all of b) when one asks for more bytes than b holds; else a frame with
// a CRC error of the length a rule gives (or all of b, for a function code
// without a length rule).
func classifySkipped(b []byte) (RTUKind, int) {
	if len(b) < 2 || b[0] > RTUMaxAddress {
		return RTUNoise, 1
	}
	var lens [2]int
	plausible := false
	for i := range lens {
		lens[i] = rtuLen(b, i == 1)
		plausible = plausible || lens[i] != lenImpossible
	}
	if !plausible {
		return RTUNoise, 1
	}
	for _, l := range lens {
		if l == len(b) {
			return RTUCRCError, l
		}
	}
	for _, l := range lens {
		if l == lenNeedMore || l > len(b) {
			return RTUTruncated, len(b)
		}
	}
	for _, l := range lens {
		if l == lenVariable {
			if len(b) < RTUMinADU {
				return RTUTruncated, len(b)
			}
			return RTUCRCError, len(b)
		}
	}
	for _, l := range lens {
		if l >= RTUMinADU && l < len(b) {
			return RTUCRCError, l
		}
	}
	return RTUNoise, 1
}
