package modbus

import (
	"strconv"

	"github.com/tapwire/tapwire/dissect"
)

// faultKind names what was wrong with a PDU; faultKinds gives its text.
type faultKind uint8

const (
	faultNone faultKind = iota
	faultPDULength
	faultPDUEmpty
	faultQuantity
	faultReadQuantity
	faultWriteQuantity
	faultByteCount
	faultByteCountOdd
	faultByteCountMul7
	faultCoilValue
	faultRestartOption
	faultMoreFollows
	faultRefType
	faultFileRespLength
	faultSubRequestHeader
	faultRecordLength
	faultFIFOCount
	faultReadDevIDCode
	faultObjects
	faultObjectListEnds
	faultFunctionZero
	faultExceptionInRequest
	faultProtocolID
	faultLengthField
	faultADULength
	faultADUShort
)

var faultKinds = [...]struct {
	what    string
	want    string // the wanted value as text, instead of lo and hi
	hex     int    // write got with this many hex digits (0: decimal)
	numbers bool   // the message has got and want
	trunc   bool   // ErrTruncated rather than ErrMalformed
}{
	faultPDULength:          {what: "pdu length", numbers: true},
	faultPDUEmpty:           {what: "pdu length", numbers: true, trunc: true},
	faultQuantity:           {what: "quantity", numbers: true},
	faultReadQuantity:       {what: "read quantity", numbers: true},
	faultWriteQuantity:      {what: "write quantity", numbers: true},
	faultByteCount:          {what: "byte count", numbers: true},
	faultByteCountOdd:       {what: "byte count", want: "an even number", numbers: true},
	faultByteCountMul7:      {what: "byte count", want: "a multiple of 7", numbers: true},
	faultCoilValue:          {what: "coil value", want: "0x0000 or 0xff00", hex: 4, numbers: true},
	faultRestartOption:      {what: "restart option", want: "0x0000 or 0xff00", hex: 4, numbers: true},
	faultMoreFollows:        {what: "more follows", want: "0x00 or 0xff", hex: 2, numbers: true},
	faultRefType:            {what: "reference type", numbers: true},
	faultFileRespLength:     {what: "file response length", want: "an odd length within the byte count", numbers: true},
	faultSubRequestHeader:   {what: "sub-request header", want: "7 bytes", numbers: true},
	faultRecordLength:       {what: "record length", want: "registers within the byte count", numbers: true},
	faultFIFOCount:          {what: "fifo count", numbers: true},
	faultReadDevIDCode:      {what: "read device id code", numbers: true},
	faultObjects:            {what: "objects", numbers: true},
	faultObjectListEnds:     {what: "object list ends early", trunc: true},
	faultFunctionZero:       {what: "function code 0"},
	faultExceptionInRequest: {what: "exception function code in a request"},
	faultProtocolID:         {what: "protocol id", numbers: true},
	faultLengthField:        {what: "length field", numbers: true},
	faultADULength:          {what: "adu length", numbers: true},
	faultADUShort:           {what: "adu length", numbers: true, trunc: true},
}

// fault says what was wrong with a PDU without allocating: it is small
// enough to travel in registers, decode functions return it by value, and
// only Decode turns a fault into an error (Classify and Probe just look at
// whether there was one).
type fault struct {
	kind faultKind
	got  int32
	lo   int32 // wanted: lo when lo == hi, lo..hi, or "at least lo" when hi < lo
	hi   int32
}

func (f fault) bad() bool   { return f.kind != faultNone }
func (f fault) trunc() bool { return faultKinds[f.kind].trunc }

// Faults built in one place so that the messages read alike.

func wantLen(pdu []byte, n int) fault {
	if len(pdu) != n {
		return fault{faultPDULength, int32(len(pdu)), int32(n), int32(n)}
	}
	return fault{}
}

func minLen(pdu []byte, n int) fault {
	if len(pdu) < n {
		return fault{faultPDULength, int32(len(pdu)), int32(n), int32(n - 1)}
	}
	return fault{}
}

func inRange(k faultKind, v, lo, hi int) fault {
	if v < lo || v > hi {
		return fault{k, int32(v), int32(lo), int32(hi)}
	}
	return fault{}
}

func mismatch(k faultKind, got, want int) fault {
	if got != want {
		return fault{k, int32(got), int32(want), int32(want)}
	}
	return fault{}
}

func faultOf(k faultKind, got int) fault { return fault{kind: k, got: int32(got)} }

// decodeError is the error Decode returns: it names the package, the
// function (or "mbap" for the header) and the direction, and wraps
// dissect.ErrMalformed or dissect.ErrTruncated. The message is formatted
// only when asked for, so a malformed PDU costs one small allocation.
type decodeError struct {
	name string // function name, or "mbap"
	dir  dissect.Dir
	f    fault
}

func (e *decodeError) Error() string {
	k := faultKinds[e.f.kind]
	b := make([]byte, 0, 96)
	b = append(b, "modbus: "...)
	b = append(b, e.name...)
	if s := e.dir.String(); s != "" {
		b = append(b, ' ')
		b = append(b, s...)
	}
	b = append(b, ": "...)
	b = append(b, k.what...)
	if !k.numbers {
		return string(b)
	}
	b = append(b, ' ')
	if k.hex > 0 {
		b = append(b, "0x"...)
		b = appendHex(b, uint16(e.f.got), k.hex)
	} else {
		b = strconv.AppendInt(b, int64(e.f.got), 10)
	}
	b = append(b, ", want "...)
	switch {
	case k.want != "":
		b = append(b, k.want...)
	case e.f.lo == e.f.hi:
		b = strconv.AppendInt(b, int64(e.f.lo), 10)
	case e.f.hi < e.f.lo:
		b = append(b, "at least "...)
		b = strconv.AppendInt(b, int64(e.f.lo), 10)
	default:
		b = strconv.AppendInt(b, int64(e.f.lo), 10)
		b = append(b, ".."...)
		b = strconv.AppendInt(b, int64(e.f.hi), 10)
	}
	return string(b)
}

func (e *decodeError) Unwrap() error {
	if e.f.trunc() {
		return dissect.ErrTruncated
	}
	return dissect.ErrMalformed
}

const hexdigits = "0123456789abcdef"

// appendHex appends the low digits hex digits of v.
func appendHex(b []byte, v uint16, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hexdigits[v>>(4*i)&0xf])
	}
	return b
}
