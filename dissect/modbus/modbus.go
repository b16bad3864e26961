package modbus

import "github.com/tapwire/tapwire/dissect"

// MBAP header (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3):
// transaction id (2), protocol id (2), length (2) of what follows, unit id (1).
const (
	mbapLen     = 7   // header with the unit id
	minLength   = 2   // length field: unit id and function code
	maxLength   = 254 // length field: unit id and a 253-byte PDU
	maxADU      = 6 + maxLength
	defaultPort = 502
)

// Dissector decodes Modbus/TCP. Make one with New; it serves one pipeline
// and is not safe for concurrent use.
type Dissector struct {
	details dissect.Slab[Details]
	slots   []uint32 // flow slot → index+1 into tables, 0 for none
	tables  []flowPairs
	stats   Stats
}

// Stats counts what a Dissector decoded.
type Stats struct {
	Requests   uint64 // PDUs decoded as requests
	Responses  uint64 // PDUs decoded as responses, exceptions included
	Exceptions uint64 // well-formed exception responses
	Malformed  uint64 // errors wrapping dissect.ErrMalformed
	Truncated  uint64 // errors wrapping dissect.ErrTruncated
	Unmatched  uint64 // responses without an outstanding request
}

// New returns a Modbus/TCP dissector.
func New() *Dissector { return &Dissector{} }

var _ dissect.Dissector = (*Dissector)(nil)

var ports = []uint16{defaultPort}

// Proto returns dissect.ProtoModbus.
func (d *Dissector) Proto() dissect.Proto { return dissect.ProtoModbus }

// Ports returns 502, Modbus/TCP's registered port.
func (d *Dissector) Ports() []uint16 { return ports }

// MaxPDU is the largest ADU Frame returns: a 7-byte MBAP header and a
// 253-byte PDU.
func (d *Dissector) MaxPDU() int { return maxADU }

// Stats returns the counters so far.
func (d *Dissector) Stats() Stats { return d.stats }

// header checks the MBAP fields b holds (b may be shorter than a header).
func header(b []byte) fault {
	if len(b) >= 4 {
		if f := mismatch(faultProtocolID, int(be16(b[2:])), 0); f.bad() {
			return f
		}
	}
	if len(b) >= 6 {
		return inRange(faultLengthField, int(be16(b[4:])), minLength, maxLength)
	}
	return fault{}
}

// Frame returns the length of the ADU at the start of b: 6 plus the MBAP
// length field, or 0 when b holds fewer than 6 bytes. It returns an error
// wrapping dissect.ErrMalformed when the protocol id is not 0 or the length
// field is outside 2..254.
func (d *Dissector) Frame(b []byte) (int, error) {
	if len(b) < 6 {
		return 0, nil
	}
	if f := header(b); f.bad() {
		return 0, &decodeError{name: "mbap", f: f}
	}
	return 6 + int(be16(b[4:])), nil
}

// Probe reports whether b, the first payload of a flow direction, is a run
// of Modbus/TCP ADUs: every header has protocol id 0, a length field of
// 2..254 and a function code of 1..127 or, for an exception, 0x81..0xFF
// with a length field of 3. Every ADU but the last must be whole; the last
// may stop early, and its header fields are checked as far as they go. The
// first ADU must reach its function code.
func (d *Dissector) Probe(b []byte) bool {
	if len(b) < mbapLen+1 {
		return false
	}
	for len(b) > 0 {
		if header(b).bad() {
			return false
		}
		if len(b) < mbapLen+1 {
			return true // a header that stops early, valid as far as it goes
		}
		n := 6 + int(be16(b[4:]))
		switch fc := b[mbapLen]; {
		case fc == 0 || fc == exceptionBit:
			return false
		case fc > exceptionBit && n != mbapLen+2:
			return false
		}
		if n >= len(b) {
			return true
		}
		b = b[n:]
	}
	return true
}

// Classify tells a request from a response by structure: an exception is a
// response; otherwise the ADU's PDU is checked against its function's request
// and response formats, and Classify answers when only one of them fits (a
// read of registers with an MBAP length of 6 is a request; one whose byte
// count matches the length is a response). It returns DirUnknown when both
// fit (the echoed writes of functions 5, 6, 8, 21, 22) or neither does.
func (d *Dissector) Classify(adu []byte) dissect.Dir {
	if len(adu) < mbapLen+1 || header(adu).bad() {
		return dissect.DirUnknown
	}
	return classifyPDU(adu[mbapLen:min(len(adu), 6+int(be16(adu[4:])))])
}

// classifyPDU is Classify for a bare PDU (function code first, non-empty).
func classifyPDU(pdu []byte) dissect.Dir {
	if pdu[0]&exceptionBit != 0 {
		return dissect.DirResponse
	}
	var det Details
	reqOK := !parse(dissect.DirRequest, pdu, &det).bad()
	det = Details{}
	respOK := !parse(dissect.DirResponse, pdu, &det).bad()
	switch {
	case reqOK && !respOK:
		return dissect.DirRequest
	case respOK && !reqOK:
		return dissect.DirResponse
	}
	return dissect.DirUnknown
}

// PairKey returns the MBAP transaction id, which pairs a request with its
// response; ok is false when adu is not an MBAP header.
func (d *Dissector) PairKey(adu []byte) (key uint32, ok bool) {
	if len(adu) < mbapLen || be16(adu[2:]) != 0 {
		return 0, false
	}
	return uint32(be16(adu)), true
}

// Decode decodes one Modbus/TCP ADU (MBAP header and PDU, as Frame
// delimited it) travelling in direction c.Dir, writes one event through c
// and pairs it by transaction id. An ADU too short to hold a function code
// writes no event. Decode does not allocate in steady state; a malformed or
// truncated ADU costs its error value.
func (d *Dissector) Decode(c *dissect.Context, adu []byte) error {
	if len(adu) < mbapLen+1 {
		f := header(adu)
		if !f.bad() {
			f = fault{faultADUShort, int32(len(adu)), mbapLen + 1, mbapLen}
		}
		d.count(f)
		return &decodeError{name: "mbap", f: f}
	}
	tid := be16(adu)
	hdr := header(adu)
	if want := 6 + int(be16(adu[4:])); !hdr.bad() && len(adu) != want {
		k := faultADULength
		if len(adu) < want {
			k = faultADUShort
		}
		hdr = mismatch(k, len(adu), want)
	}
	return d.decode(c, adu[6], uint32(tid), true, tid, adu[mbapLen:], hdr)
}

// DecodePDU decodes a bare PDU (function code and data, without MBAP),
// for Modbus RTU and other carriers: unit is the unit identifier (the RTU
// address); key pairs a request with its response and must be the same
// for both (a serial line passes unit<<8 | function code without the
// exception bit); tid is written as the transaction id when hasTID. It
// writes one event through c, as Decode does, and allocates nothing in
// steady state.
func (d *Dissector) DecodePDU(c *dissect.Context, unit byte, key uint32, hasTID bool, tid uint16, pdu []byte) error {
	return d.decode(c, unit, key, hasTID, tid, pdu, fault{})
}

// decode writes the event of pdu. A bad hdr (the MBAP header's fault)
// makes the PDU malformed or truncated without looking further than its
// function code, and keeps it out of pairing.
func (d *Dissector) decode(c *dissect.Context, unit byte, key uint32, withTID bool, tid uint16, pdu []byte, hdr fault) error {
	if len(pdu) == 0 {
		f := fault{faultPDUEmpty, 0, 1, 1}
		d.count(f)
		return &decodeError{name: "pdu", f: f}
	}
	// Event first: it may hand the batch on and start a new one, which the
	// detail and the copies below must belong to.
	e := c.Event()
	det := d.details.New(c.Batch())
	e.Detail = det
	det.unit = unit
	det.set(hasUnit)
	if withTID {
		det.tid = tid
		det.set(hasTID)
	}

	fc := pdu[0]
	f7 := fc &^ exceptionBit
	exception := fc&exceptionBit != 0
	e.HasFunc, e.Func = true, uint32(f7)

	dir := c.Dir
	if dir != dissect.DirRequest && dir != dissect.DirResponse {
		dir = classifyPDU(pdu)
		e.Dir = dir
	}

	var f fault
	switch {
	case hdr.bad():
		f = hdr
		// Only what names the function.
		if fc == fcDiagnostics && len(pdu) >= 3 {
			det.subFunction = be16(pdu[1:])
			det.set(hasSubFunction)
		}
		if fc == fcEncapsulatedInterface && len(pdu) >= 2 {
			det.meiType = pdu[1]
			det.set(hasMEIType)
		}
	case exception && dir == dissect.DirRequest:
		f = faultOf(faultExceptionInRequest, 0)
	case exception:
		if len(pdu) >= 2 {
			det.exceptionCode = pdu[1]
			det.set(hasExceptionCode)
		}
		f = wantLen(pdu, 2)
	default:
		f = parse(dir, pdu, det)
	}

	switch dir {
	case dissect.DirRequest:
		d.stats.Requests++
	case dissect.DirResponse:
		d.stats.Responses++
	}
	if !hdr.bad() {
		switch dir {
		case dissect.DirRequest:
			if t := d.table(c.FlowSlot, c.FlowID); t != nil && !exception {
				t.put(request(key, fc, det))
			}
		case dissect.DirResponse:
			if t := d.table(c.FlowSlot, c.FlowID); t != nil {
				if p, ok := t.take(key, f7); ok {
					det.inherit(p)
					if !f.bad() && !exception {
						f = checkPaired(f7, det, p)
					}
				} else {
					det.set(hasUnmatched)
					d.stats.Unmatched++
				}
			}
		}
	}

	// Keep copies, never views of the frame.
	det.objects = c.Copy(det.objects)
	det.serverID = c.Copy(det.serverID)
	det.data = c.Copy(det.data)

	var sub uint16
	hasSub := false
	switch {
	case f7 == fcDiagnostics && det.is(hasSubFunction):
		sub, hasSub = det.subFunction, true
	case f7 == fcEncapsulatedInterface && det.is(hasMEIType):
		sub, hasSub = uint16(det.meiType), true
	}
	e.Name, e.Op = nameOp(f7, sub, hasSub)

	if !f.bad() {
		if exception {
			e.OK, e.Error = false, exceptionName(det.exceptionCode)
			d.stats.Exceptions++
		}
		return nil
	}
	e.OK = false
	e.Error = "malformed"
	if f.trunc() {
		e.Error = "truncated"
	}
	d.count(f)
	if hdr.bad() {
		return &decodeError{name: "mbap", f: f}
	}
	return &decodeError{name: e.Name, dir: e.Dir, f: f}
}

func (d *Dissector) count(f fault) {
	if f.trunc() {
		d.stats.Truncated++
	} else {
		d.stats.Malformed++
	}
}
