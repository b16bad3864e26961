package modbus

import (
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/jsonl"
)

// field is a presence bit of Details: a field is written (and its getter
// reports ok) only when its bit is set, so a zero address is written but an
// absent one is not.
type field uint32

const (
	hasUnit field = 1 << iota
	hasTID
	hasAddress
	hasQuantity
	hasValue
	hasAndMask
	hasOrMask
	hasReadAddress
	hasReadQuantity
	hasWriteAddress
	hasWriteQuantity
	hasByteCount
	hasSubFunction
	hasExceptionCode
	hasMEIType
	hasReadDevIDCode
	hasObjectID
	hasConformity
	hasMoreFollows
	hasNextObjectID
	hasObjects
	hasRecords
	hasFIFOCount
	hasServerID
	hasRunIndicator
	hasUnmatched
)

// Details is the modbus details object of an event (BRIEF 3.1: written
// under the key "modbus"). It is taken from a dissect.Slab per PDU and lives
// as long as the batch; its byte slices are copies in the batch's arena.
// The package doc lists the JSON keys.
type Details struct {
	has field

	unit          uint8
	exceptionCode uint8
	meiType       uint8
	readDevIDCode uint8
	objectID      uint8
	conformity    uint8
	nextObjectID  uint8
	numObjects    uint8
	moreFollows   bool
	runIndicator  bool
	records       uint8

	tid           uint16
	address       uint16
	quantity      uint16
	value         uint16
	andMask       uint16
	orMask        uint16
	readAddress   uint16
	readQuantity  uint16
	writeAddress  uint16
	writeQuantity uint16
	byteCount     uint16
	subFunction   uint16
	fifoCount     uint16

	objects  []byte // 43/14 response: the object list (id, length, value)…
	serverID []byte // FC 17 response
	data     []byte // coil/register/other data bytes, see Data
}

func (d *Details) set(f field)                          { d.has |= f }
func (d *Details) is(f field) bool                      { return d.has&f != 0 }
func (d *Details) u16(f field, v uint16) (uint16, bool) { return v, d.is(f) }
func (d *Details) u8(f field, v uint8) (uint8, bool)    { return v, d.is(f) }

func (d *Details) setAddress(v uint16)  { d.address = v; d.set(hasAddress) }
func (d *Details) setQuantity(v uint16) { d.quantity = v; d.set(hasQuantity) }
func (d *Details) setByteCount(v int)   { d.byteCount = uint16(v); d.set(hasByteCount) }

// Unit is the unit identifier (MBAP unit id, or the RTU address).
func (d *Details) Unit() uint8 { return d.unit }

// TransactionID is the MBAP transaction identifier; ok is false for PDUs
// without one (Modbus RTU).
func (d *Details) TransactionID() (tid uint16, ok bool) { return d.u16(hasTID, d.tid) }

// Address is the starting address (register or coil) of functions 1–6, 15,
// 16 and 22, and the FIFO pointer address of function 24. On a response that
// does not carry it, it is the paired request's.
func (d *Details) Address() (addr uint16, ok bool) { return d.u16(hasAddress, d.address) }

// Quantity is the number of coils or registers of functions 1–4, 15 and 16;
// on read responses it is the paired request's.
func (d *Details) Quantity() (qty uint16, ok bool) { return d.u16(hasQuantity, d.quantity) }

// Value is the single value written by function 5 (0xFF00 on, 0x0000 off)
// or 6.
func (d *Details) Value() (v uint16, ok bool) { return d.u16(hasValue, d.value) }

// Masks are the AND and OR masks of function 22.
func (d *Details) Masks() (and, or uint16, ok bool) {
	return d.andMask, d.orMask, d.is(hasAndMask)
}

// ReadRange is the read starting address and quantity of function 23.
func (d *Details) ReadRange() (addr, qty uint16, ok bool) {
	return d.readAddress, d.readQuantity, d.is(hasReadAddress)
}

// WriteRange is the write starting address and quantity of function 23.
func (d *Details) WriteRange() (addr, qty uint16, ok bool) {
	return d.writeAddress, d.writeQuantity, d.is(hasWriteAddress)
}

// ByteCount is the PDU's byte count field, where its format has one.
func (d *Details) ByteCount() (n uint16, ok bool) { return d.u16(hasByteCount, d.byteCount) }

// SubFunction is the diagnostics (function 8) sub-function.
func (d *Details) SubFunction() (sub uint16, ok bool) {
	return d.u16(hasSubFunction, d.subFunction)
}

// ExceptionCode is the exception code of an exception response.
func (d *Details) ExceptionCode() (code uint8, ok bool) {
	return d.u8(hasExceptionCode, d.exceptionCode)
}

// MEIType is the MEI type of function 43 (13 CANopen, 14 device
// identification).
func (d *Details) MEIType() (mei uint8, ok bool) { return d.u8(hasMEIType, d.meiType) }

// ReadDeviceIDCode is the read device id code of 43/14 (1 basic, 2
// regular, 3 extended, 4 one specific object).
func (d *Details) ReadDeviceIDCode() (code uint8, ok bool) {
	return d.u8(hasReadDevIDCode, d.readDevIDCode)
}

// ObjectID is the object id a 43/14 request asks for.
func (d *Details) ObjectID() (id uint8, ok bool) { return d.u8(hasObjectID, d.objectID) }

// ConformityLevel is the conformity level of a 43/14 response.
func (d *Details) ConformityLevel() (level uint8, ok bool) {
	return d.u8(hasConformity, d.conformity)
}

// MoreFollows reports whether a 43/14 response says more objects follow.
func (d *Details) MoreFollows() (more, ok bool) { return d.moreFollows, d.is(hasMoreFollows) }

// NextObjectID is the next object id of a 43/14 response.
func (d *Details) NextObjectID() (id uint8, ok bool) { return d.u8(hasNextObjectID, d.nextObjectID) }

// Records is the number of sub-requests (or sub-responses) of functions
// 20 and 21.
func (d *Details) Records() (n int, ok bool) { return int(d.records), d.is(hasRecords) }

// FIFOCount is the FIFO count of a function 24 response.
func (d *Details) FIFOCount() (n uint16, ok bool) { return d.u16(hasFIFOCount, d.fifoCount) }

// ServerID is the server id of a function 17 response (device specific
// bytes), or nil.
func (d *Details) ServerID() []byte { return d.serverID }

// RunIndicator is the run indicator status of a function 17 response.
func (d *Details) RunIndicator() (on, ok bool) { return d.runIndicator, d.is(hasRunIndicator) }

// Unmatched reports a response whose key had no outstanding request of
// the same function code.
func (d *Details) Unmatched() bool { return d.is(hasUnmatched) }

// Data is the PDU's data bytes, copied: the coil or register values of
// read responses (1–4, 23), of write requests (15, 16, 23) and of a FIFO
// queue (24); the output byte of function 7; the status word and event
// count of function 11; status, counts and events of function 12; the data
// field of diagnostics (8); the additional data after the run indicator of
// function 17 (often the vendor's text). Registers are big-endian 16-bit words; coils
// are packed eight to a byte, the lowest address in the lowest bit. Data is
// not written in JSON.
func (d *Details) Data() []byte { return d.data }

// Objects iterates over the device identification objects of a 43/14
// response:
//
//	it := det.Objects()
//	for it.Next() {
//		use(it.ID(), it.Value())
//	}
//	if err := it.Err(); err != nil { … }
func (d *Details) Objects() ObjectIter { return ObjectIter{b: d.objects, n: int(d.numObjects)} }

// ObjectIter iterates over device identification objects. Values are copies
// in the batch's arena, valid as long as the event.
type ObjectIter struct {
	b   []byte
	n   int // objects left
	id  uint8
	val []byte
	err error
}

// Next advances to the next object and reports whether there is one.
func (it *ObjectIter) Next() bool {
	if it.err != nil || it.n == 0 {
		return false
	}
	if len(it.b) < 2 || len(it.b) < 2+int(it.b[1]) {
		it.err = &decodeError{name: "read_device_identification", dir: dissect.DirResponse,
			f: fault{kind: faultObjectListEnds}}
		return false
	}
	n := int(it.b[1])
	it.id, it.val = it.b[0], it.b[2:2+n:2+n]
	it.b = it.b[2+n:]
	it.n--
	return true
}

// ID is the current object's id.
func (it *ObjectIter) ID() uint8 { return it.id }

// Value is the current object's value.
func (it *ObjectIter) Value() []byte { return it.val }

// Err is the error that stopped the iteration early, or nil.
func (it *ObjectIter) Err() error { return it.err }

// AppendJSON appends the details as one JSON object, keys in the order the
// package doc lists them, absent ones omitted. It does not allocate.
func (d *Details) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if d.is(hasUnit) {
		b = jsonl.Uint(b, "unit", uint64(d.unit))
	}
	b = d.appendU16(b, hasTID, "transaction_id", d.tid)
	b = d.appendU16(b, hasAddress, "address", d.address)
	b = d.appendU16(b, hasQuantity, "quantity", d.quantity)
	b = d.appendU16(b, hasValue, "value", d.value)
	b = d.appendU16(b, hasAndMask, "and_mask", d.andMask)
	b = d.appendU16(b, hasOrMask, "or_mask", d.orMask)
	b = d.appendU16(b, hasReadAddress, "read_address", d.readAddress)
	b = d.appendU16(b, hasReadQuantity, "read_quantity", d.readQuantity)
	b = d.appendU16(b, hasWriteAddress, "write_address", d.writeAddress)
	b = d.appendU16(b, hasWriteQuantity, "write_quantity", d.writeQuantity)
	b = d.appendU16(b, hasByteCount, "byte_count", d.byteCount)
	b = d.appendU16(b, hasSubFunction, "sub_function", d.subFunction)
	b = d.appendU16(b, hasExceptionCode, "exception_code", uint16(d.exceptionCode))
	b = d.appendU16(b, hasMEIType, "mei_type", uint16(d.meiType))
	b = d.appendU16(b, hasReadDevIDCode, "read_device_id_code", uint16(d.readDevIDCode))
	b = d.appendU16(b, hasObjectID, "object_id", uint16(d.objectID))
	b = d.appendU16(b, hasConformity, "conformity_level", uint16(d.conformity))
	if d.is(hasMoreFollows) {
		b = jsonl.Bool(b, "more_follows", d.moreFollows)
	}
	b = d.appendU16(b, hasNextObjectID, "next_object_id", uint16(d.nextObjectID))
	if d.is(hasObjects) && d.numObjects > 0 {
		b = append(jsonl.Key(b, "objects"), '[')
		for it := d.Objects(); it.Next(); {
			b = append(jsonl.Sep(b), '{')
			b = jsonl.Uint(b, "id", uint64(it.ID()))
			b = jsonl.String(b, "name", ObjectName(it.ID()))
			b = jsonl.QuoteBytes(jsonl.Key(b, "value"), it.Value())
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = d.appendU16(b, hasRecords, "records", uint16(d.records))
	b = d.appendU16(b, hasFIFOCount, "fifo_count", d.fifoCount)
	if d.is(hasServerID) {
		b = appendServerID(jsonl.Key(b, "server_id"), d.serverID)
	}
	if d.is(hasRunIndicator) {
		v := "off"
		if d.runIndicator {
			v = "on"
		}
		b = jsonl.String(b, "run_indicator", v)
	}
	if d.is(hasUnmatched) {
		b = jsonl.Bool(b, "unmatched", true)
	}
	return append(b, '}')
}

func (d *Details) appendU16(b []byte, f field, k string, v uint16) []byte {
	if !d.is(f) {
		return b
	}
	return jsonl.Uint(b, k, uint64(v))
}

// appendServerID appends id as a JSON string: as text when every byte is
// printable ASCII, else as lower-case hex digits.
func appendServerID(b, id []byte) []byte {
	printable := true
	for _, c := range id {
		if c < 0x20 || c > 0x7e {
			printable = false
			break
		}
	}
	if printable {
		return jsonl.QuoteBytes(b, id)
	}
	b = append(b, '"')
	for _, c := range id {
		b = append(b, hexdigits[c>>4], hexdigits[c&0xf])
	}
	return append(b, '"')
}
