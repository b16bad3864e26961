package modbus

import (
	"encoding/binary"

	"github.com/tapwire/tapwire/dissect"
)

// Limits of the spec's quantity and byte count fields.
const (
	maxReadBits       = 2000 // functions 1, 2
	maxReadRegisters  = 125  // functions 3, 4, 23 (read part)
	maxWriteBits      = 1968 // function 15
	maxWriteRegisters = 123  // function 16
	maxRWWrite        = 121  // function 23 (write part)
	maxFIFOCount      = 31   // function 24
	maxEventLog       = 64   // function 12: events in the log
	fileRefType       = 6    // functions 20, 21: reference type
)

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// parse checks pdu (function code first, fc < 0x80) against its function's
// request or response format and fills det with the fields it finds; det's
// slices alias pdu until the caller copies them. It reads only what its
// length checks allow and returns what was wrong, or the zero fault. It
// neither allocates nor keeps pdu or det.
func parse(dir dissect.Dir, pdu []byte, det *Details) fault {
	req := dir != dissect.DirResponse
	switch fc := pdu[0]; fc {
	case fcReadCoils, fcReadDiscreteInputs, fcReadHoldingRegisters, fcReadInputRegisters:
		bits := fc <= fcReadDiscreteInputs
		if req {
			if len(pdu) < 5 {
				return wantLen(pdu, 5)
			}
			det.setAddress(be16(pdu[1:]))
			det.setQuantity(be16(pdu[3:]))
			if f := wantLen(pdu, 5); f.bad() {
				return f
			}
			if bits {
				return inRange(faultQuantity, int(det.quantity), 1, maxReadBits)
			}
			return inRange(faultQuantity, int(det.quantity), 1, maxReadRegisters)
		}
		return readResponse(pdu, det, !bits)

	case fcWriteSingleCoil, fcWriteSingleRegister:
		// Request and response have the same format (the response echoes).
		if len(pdu) < 5 {
			return wantLen(pdu, 5)
		}
		det.setAddress(be16(pdu[1:]))
		det.value = be16(pdu[3:])
		det.set(hasValue)
		if f := wantLen(pdu, 5); f.bad() {
			return f
		}
		if fc == fcWriteSingleCoil && det.value != 0x0000 && det.value != 0xff00 {
			return faultOf(faultCoilValue, int(det.value))
		}
		return fault{}

	case fcReadExceptionStatus:
		if req {
			return wantLen(pdu, 1)
		}
		if f := wantLen(pdu, 2); f.bad() {
			return f
		}
		det.data = pdu[1:]
		return fault{}

	case fcDiagnostics:
		// Request and response: sub-function, then data (the response
		// echoes the sub-function).
		if f := minLen(pdu, 3); f.bad() {
			return f
		}
		det.subFunction = be16(pdu[1:])
		det.set(hasSubFunction)
		det.data = pdu[3:]
		switch sub := det.subFunction; {
		case sub == 0:
			// Return query data: any data, echoed.
			return fault{}
		case sub <= 4 || sub >= 10 && sub <= 18 || sub == 20:
			// One data word.
			if f := wantLen(pdu, 5); f.bad() {
				return f
			}
			if sub == subRestartCommunications {
				if v := be16(pdu[3:]); v != 0x0000 && v != 0xff00 {
					return faultOf(faultRestartOption, int(v))
				}
			}
		}
		return fault{}

	case fcGetCommEventCounter:
		if req {
			return wantLen(pdu, 1)
		}
		if f := wantLen(pdu, 5); f.bad() {
			return f
		}
		det.data = pdu[1:]
		return fault{}

	case fcGetCommEventLog:
		if req {
			return wantLen(pdu, 1)
		}
		// byte count, status (2), event count (2), message count (2), events.
		if f := minLen(pdu, 8); f.bad() {
			return f
		}
		bc := int(pdu[1])
		det.setByteCount(bc)
		if f := mismatch(faultByteCount, bc, len(pdu)-2); f.bad() {
			return f
		}
		det.data = pdu[2:]
		return inRange(faultByteCount, bc, 6, 6+maxEventLog)

	case fcWriteMultipleCoils, fcWriteMultipleRegisters:
		bits := fc == fcWriteMultipleCoils
		limit := maxWriteRegisters
		if bits {
			limit = maxWriteBits
		}
		if !req {
			if len(pdu) < 5 {
				return wantLen(pdu, 5)
			}
			det.setAddress(be16(pdu[1:]))
			det.setQuantity(be16(pdu[3:]))
			if f := wantLen(pdu, 5); f.bad() {
				return f
			}
			return inRange(faultQuantity, int(det.quantity), 1, limit)
		}
		// address, quantity, byte count, values.
		if f := minLen(pdu, 7); f.bad() {
			return f
		}
		det.setAddress(be16(pdu[1:]))
		det.setQuantity(be16(pdu[3:]))
		bc := int(pdu[5])
		det.setByteCount(bc)
		det.data = pdu[6:]
		q := int(det.quantity)
		if f := inRange(faultQuantity, q, 1, limit); f.bad() {
			return f
		}
		want := 2 * q
		if bits {
			want = (q + 7) / 8
		}
		if f := mismatch(faultByteCount, bc, want); f.bad() {
			return f
		}
		return mismatch(faultPDULength, len(pdu), 6+bc)

	case fcReportServerID:
		if req {
			return wantLen(pdu, 1)
		}
		if f := minLen(pdu, 3); f.bad() {
			return f
		}
		bc := int(pdu[1])
		det.setByteCount(bc)
		if f := mismatch(faultByteCount, bc, len(pdu)-2); f.bad() {
			return f
		}
		serverID(pdu[2:], det)
		return fault{}

	case fcReadFileRecord:
		if f := minLen(pdu, 2); f.bad() {
			return f
		}
		bc := int(pdu[1])
		det.setByteCount(bc)
		if f := mismatch(faultByteCount, bc, len(pdu)-2); f.bad() {
			return f
		}
		if req {
			// Sub-requests of 7 bytes: reference type, file number, record
			// number, record length.
			if f := inRange(faultByteCount, bc, 7, 0xf5); f.bad() {
				return f
			}
			if bc%7 != 0 {
				return faultOf(faultByteCountMul7, bc)
			}
			for off := 2; off < len(pdu); off += 7 {
				if f := mismatch(faultRefType, int(pdu[off]), fileRefType); f.bad() {
					return f
				}
				det.records++
			}
			det.set(hasRecords)
			return fault{}
		}
		// Sub-responses: file response length (1 + 2N), reference type,
		// N registers.
		if f := minLen(pdu, 4); f.bad() {
			return f
		}
		for off := 2; off < len(pdu); {
			n := int(pdu[off])
			if n < 1 || n%2 == 0 || off+1+n > len(pdu) {
				return faultOf(faultFileRespLength, n)
			}
			if f := mismatch(faultRefType, int(pdu[off+1]), fileRefType); f.bad() {
				return f
			}
			det.records++
			off += 1 + n
		}
		det.set(hasRecords)
		return fault{}

	case fcWriteFileRecord:
		// Request and response (an echo): byte count, then sub-requests of
		// reference type, file number, record number, record length N and
		// N registers.
		if f := minLen(pdu, 2); f.bad() {
			return f
		}
		bc := int(pdu[1])
		det.setByteCount(bc)
		if f := mismatch(faultByteCount, bc, len(pdu)-2); f.bad() {
			return f
		}
		if f := inRange(faultByteCount, bc, 9, 0xfb); f.bad() {
			return f
		}
		for off := 2; off < len(pdu); {
			if off+7 > len(pdu) {
				return faultOf(faultSubRequestHeader, len(pdu)-off)
			}
			if f := mismatch(faultRefType, int(pdu[off]), fileRefType); f.bad() {
				return f
			}
			n := int(be16(pdu[off+5:]))
			if off+7+2*n > len(pdu) {
				return faultOf(faultRecordLength, n)
			}
			det.records++
			off += 7 + 2*n
		}
		det.set(hasRecords)
		return fault{}

	case fcMaskWriteRegister:
		// Request and response (an echo): address, AND mask, OR mask.
		if len(pdu) < 7 {
			return wantLen(pdu, 7)
		}
		det.setAddress(be16(pdu[1:]))
		det.andMask, det.orMask = be16(pdu[3:]), be16(pdu[5:])
		det.set(hasAndMask | hasOrMask)
		return wantLen(pdu, 7)

	case fcReadWriteMultipleRegisters:
		if !req {
			return readResponse(pdu, det, true)
		}
		// read address, read quantity, write address, write quantity,
		// write byte count, values.
		if f := minLen(pdu, 12); f.bad() {
			return f
		}
		det.readAddress, det.readQuantity = be16(pdu[1:]), be16(pdu[3:])
		det.writeAddress, det.writeQuantity = be16(pdu[5:]), be16(pdu[7:])
		det.set(hasReadAddress | hasReadQuantity | hasWriteAddress | hasWriteQuantity)
		bc := int(pdu[9])
		det.setByteCount(bc)
		det.data = pdu[10:]
		if f := inRange(faultReadQuantity, int(det.readQuantity), 1, maxReadRegisters); f.bad() {
			return f
		}
		if f := inRange(faultWriteQuantity, int(det.writeQuantity), 1, maxRWWrite); f.bad() {
			return f
		}
		if f := mismatch(faultByteCount, bc, 2*int(det.writeQuantity)); f.bad() {
			return f
		}
		return mismatch(faultPDULength, len(pdu), 10+bc)

	case fcReadFIFOQueue:
		if req {
			if len(pdu) < 3 {
				return wantLen(pdu, 3)
			}
			det.setAddress(be16(pdu[1:]))
			return wantLen(pdu, 3)
		}
		// byte count (2), FIFO count (2), values; the byte count covers the
		// FIFO count and the values.
		if f := minLen(pdu, 5); f.bad() {
			return f
		}
		bc := int(be16(pdu[1:]))
		det.setByteCount(bc)
		det.fifoCount = be16(pdu[3:])
		det.set(hasFIFOCount)
		det.data = pdu[5:]
		if f := mismatch(faultByteCount, bc, len(pdu)-3); f.bad() {
			return f
		}
		if f := inRange(faultFIFOCount, int(det.fifoCount), 0, maxFIFOCount); f.bad() {
			return f
		}
		return mismatch(faultByteCount, bc, 2+2*int(det.fifoCount))

	case fcEncapsulatedInterface:
		if f := minLen(pdu, 2); f.bad() {
			return f
		}
		det.meiType = pdu[1]
		det.set(hasMEIType)
		if det.meiType != meiReadDeviceIdentifier {
			return fault{} // CANopen and others: MEI-specific data
		}
		if req {
			// read device id code, object id.
			if len(pdu) < 4 {
				return wantLen(pdu, 4)
			}
			det.readDevIDCode, det.objectID = pdu[2], pdu[3]
			det.set(hasReadDevIDCode | hasObjectID)
			if f := wantLen(pdu, 4); f.bad() {
				return f
			}
			return inRange(faultReadDevIDCode, int(det.readDevIDCode), 1, 4)
		}
		return deviceIdentification(pdu, det)

	case 0:
		return faultOf(faultFunctionZero, 0)
	}
	// User-defined and unknown functions: no format to check.
	return fault{}
}

// readResponse checks the response of functions 1–4 and 23: byte count,
// then values (whole registers when regs).
func readResponse(pdu []byte, det *Details, regs bool) fault {
	if f := minLen(pdu, 3); f.bad() {
		return f
	}
	bc := int(pdu[1])
	det.setByteCount(bc)
	det.data = pdu[2:]
	if f := mismatch(faultByteCount, bc, len(pdu)-2); f.bad() {
		return f
	}
	if regs && bc%2 != 0 {
		return faultOf(faultByteCountOdd, bc)
	}
	return inRange(faultByteCount, bc, 1, 250)
}

// serverID splits the data of a function 17 response. The spec gives the
// server id a device-specific length, followed by the run indicator (0x00
// off, 0xFF on) and additional data; the run indicator is taken to be the
// first 0x00 or 0xFF byte after the first byte, the server id the bytes
// before it and the additional data (det.data) the bytes after it. Without
// such a byte, all of data is the server id.
func serverID(data []byte, det *Details) {
	i := 1
	for ; i < len(data); i++ {
		if data[i] == 0x00 || data[i] == 0xff {
			det.runIndicator = data[i] == 0xff
			det.set(hasRunIndicator)
			det.data = data[i+1:]
			break
		}
	}
	det.serverID = data[:i]
	det.set(hasServerID)
}

// deviceIdentification checks a 43/14 response: read device id code,
// conformity level, more follows, next object id, number of objects, and
// that many objects of id, length and value.
func deviceIdentification(pdu []byte, det *Details) fault {
	if f := minLen(pdu, 7); f.bad() {
		return f
	}
	det.readDevIDCode, det.conformity = pdu[2], pdu[3]
	det.moreFollows = pdu[4] == 0xff
	det.nextObjectID = pdu[5]
	det.set(hasReadDevIDCode | hasConformity | hasMoreFollows | hasNextObjectID)
	n := int(pdu[6])
	off := 7
	for i := 0; i < n; i++ {
		if off+2 > len(pdu) || off+2+int(pdu[off+1]) > len(pdu) {
			return mismatch(faultObjects, i, n)
		}
		off += 2 + int(pdu[off+1])
		// Keep the whole objects seen so far, for a partial list.
		det.objects, det.numObjects = pdu[7:off], uint8(i+1)
		det.set(hasObjects)
	}
	if f := inRange(faultReadDevIDCode, int(det.readDevIDCode), 1, 4); f.bad() {
		return f
	}
	if pdu[4] != 0x00 && pdu[4] != 0xff {
		return faultOf(faultMoreFollows, int(pdu[4]))
	}
	return mismatch(faultPDULength, len(pdu), off)
}
